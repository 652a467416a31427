"""validate's offline report (spec.read, collect-all), and the name/secret checks diff and
apply make before any request (usecases.names, usecases.apply)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agentctl.errors import RejectedError, SpecError
from agentctl.exit_codes import ExitCode
from agentctl.spec.load import load_specs
from agentctl.spec.plan import plan_agent
from agentctl.spec.read import CheckReport, check_files, expand_paths, load_problem
from agentctl.usecases.apply import check_masked_creates
from agentctl.usecases.names import check_names

BASE = "name: a\nsystem_prompt: p\ngreeting: hi\nvoice: {voice_id: ivy}\n"  # lines 1-4
SECRET_TOOL = """\
tools:
  - name: t
    description: d
    parameters: {type: object, properties: {}}
    http:
      url: https://e.example.com/x
      http_method: GET
      headers:
        - name: Authorization
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def texts(report: CheckReport) -> list[str]:
    return [f"{d['severity']} {d['file']}:{d['line']}: {d['path']}: {d['message']}"
            for d in report.diagnostics]


# -- check_files -------------------------------------------------------------------------------


def test_a_clean_file_is_one_agent_and_nothing_found(here: Path) -> None:
    Path("a.yaml").write_text(BASE)
    report = check_files(["a.yaml"], {})
    assert report == CheckReport([], ["a.yaml"], 1, False)
    assert (report.errors, report.warnings, report.failed) == (0, 0, False)


def test_one_broken_file_does_not_hide_the_others(here: Path) -> None:
    Path("a.yaml").write_text("name: [oops\n")
    Path("b.yaml").write_text(BASE.replace("greeting: hi\n", "greeting: hi\nvoice_x: 1\n"))
    report = check_files(["a.yaml", "b.yaml"], {})
    assert report.files == ["a.yaml", "b.yaml"]
    assert report.agents == 1
    first, *rest = report.diagnostics
    # the loader's `a.yaml:LINE: message` split into its parts
    assert (first["file"], first["severity"], first["path"]) == ("a.yaml", "error", "")
    assert isinstance(first["line"], int) and not first["message"].startswith("a.yaml")
    assert [d["file"] for d in rest] == ["b.yaml"] * len(rest) and rest
    assert report.errors >= 2 and report.failed


def test_findings_are_in_file_order_then_line_order(here: Path) -> None:
    # z.yaml: a lint warning (line 4); broken.yaml: a load error, found first; a.yaml: a
    # schema error (line 4) collected before a lint warning (line 1, no greeting).
    Path("z.yaml").write_text(BASE.replace("voice_id: ivy", "voice_id: bob"))
    Path("broken.yaml").write_text("name: [oops\n")
    Path("a.yaml").write_text("name: b\nsystem_prompt: p\nvoice: {voice_id: ivy}\nnope: 1\n")
    report = check_files(["z.yaml", "broken.yaml", "a.yaml"], {})
    assert [(d["file"], d["line"]) for d in report.diagnostics] == [
        ("z.yaml", 4), ("broken.yaml", 2), ("a.yaml", 1), ("a.yaml", 4)]
    assert report.files == ["z.yaml", "broken.yaml", "a.yaml"]


def test_warnings_fail_only_under_strict(here: Path) -> None:
    Path("z.yaml").write_text(BASE.replace("voice_id: ivy", "voice_id: bob"))
    report = check_files(["z.yaml"], {})
    assert (report.errors, report.warnings, report.failed) == (0, 1, False)
    assert check_files(["z.yaml"], {}, strict=True).failed


def test_an_unset_variable_is_one_warning_and_its_value_is_not_checked(here: Path) -> None:
    # ${VOICE} unset: "" would be an unknown voice, but validate cannot know the value.
    Path("a.yaml").write_text(BASE.replace("voice_id: ivy", "voice_id: '${VOICE}'"))
    report = check_files(["a.yaml"], {})
    assert texts(report) == [
        "warning a.yaml:4: voice.voice_id: environment variable VOICE is not set, so this "
        "value was not checked"]
    assert check_files(["a.yaml"], {"VOICE": "ivy"}).diagnostics == []


def test_a_default_is_used_and_is_not_reported(here: Path) -> None:
    Path("a.yaml").write_text(BASE.replace("greeting: hi", "greeting: ${G:-hello}"))
    assert check_files(["a.yaml"], {}).diagnostics == []


def test_stdin_is_read_from_the_given_stream(here: Path) -> None:
    report = check_files(["-"], {}, stdin=io.StringIO(BASE))
    assert report.agents == 1 and report.diagnostics == [] and len(report.files) == 1


def test_directories_expand_to_their_spec_files(here: Path) -> None:
    Path("d").mkdir()
    for name in ("b.yaml", "a.json", ".hidden.yaml", "notes.txt"):
        Path("d", name).write_text("{}")
    Path("d", "sub.yaml").mkdir()
    Path("empty").mkdir()
    assert list(expand_paths(["d", "-", "x.yaml", "empty"])) == [
        "d/a.json", "d/b.yaml", "-", "x.yaml", "empty"]


def test_an_empty_directory_is_reported_by_the_loader(here: Path) -> None:
    Path("empty").mkdir()
    report = check_files(["empty"], {})
    assert report.errors == 1 and report.diagnostics[0]["file"] == "empty"


def test_load_problem_splits_file_line_and_message() -> None:
    item = load_problem("a.yaml", SpecError("a.yaml:7: bad thing: here", hint="fix it"))
    assert item == {"file": "a.yaml", "line": 7, "path": "", "severity": "error",
                    "message": "bad thing: here", "hint": "fix it"}
    unplaced = load_problem("a.yaml", SpecError("a.yaml: cannot read"))
    assert (unplaced["line"], unplaced["message"]) == (None, "cannot read")


# -- before diff/apply write -------------------------------------------------------------------


def test_check_names_refuses_a_name_defined_twice(here: Path) -> None:
    Path("a.yaml").write_text(BASE + "---\n" + BASE)
    docs = load_specs(["a.yaml"], env={})
    with pytest.raises(RejectedError) as caught:
        check_names(docs, None)
    assert caught.value.message == "a.yaml:6: name: 'a' is also defined at a.yaml:1"
    assert caught.value.exit_code == ExitCode.REJECTED


def test_check_names_keeps_every_name_inside_the_selector(here: Path) -> None:
    Path("a.yaml").write_text(BASE.replace("name: a", "name: team-a"))
    docs = load_specs(["a.yaml"], env={})
    check_names(docs, "team-")
    check_names(docs, None)
    with pytest.raises(SpecError, match=r"^a\.yaml:1: name: 'team-a' does not start with "
                       r"the selector 'x-'$"):
        check_names(docs, "x-")


def test_a_header_without_value_is_refused_on_a_create_only(here: Path) -> None:
    Path("a.yaml").write_text(BASE + SECRET_TOOL)
    docs = load_specs(["a.yaml"], env={})
    create = plan_agent(docs[0].data, None)
    with pytest.raises(SpecError, match=r"a\.yaml:13: tools\[0\]\.http\.headers\[0\]\.value: "
                       "header 'Authorization' has no value, and this agent does not exist"):
        check_masked_creates(docs, [create])
    record = {**docs[0].data, "id": "x1"}
    update = plan_agent({**docs[0].data, "greeting": "new"}, record)
    assert update.action == "update"
    check_masked_creates(docs, [update])
