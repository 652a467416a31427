"""The output sink: each primitive writes what the -o mode asks, so commands never ask."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from agentctl.render.output import Output, OutputMode, View

ROWS = [{"id": "a1", "name": "alpha", "n": 1}, {"id": "b2", "name": "beta", "n": 2}]
VIEW = View(("NAME", "N"), lambda page: [(r["name"], str(r["n"])) for r in page],
            wide=View(("NAME", "ID", "N"), lambda page: [(r["name"], r["id"], str(r["n"]))
                                                         for r in page]))


def sink(mode: str) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(OutputMode(mode), stdout=out, stderr=err, stdin=io.StringIO()), out, err


@pytest.mark.parametrize(("mode", "expected"), [
    ("table", "NAME   N\nalpha  1\nbeta   2\n"),
    ("wide", "NAME   ID  N\nalpha  a1  1\nbeta   b2  2\n"),
    ("name", "alpha\nbeta\n"),
    ("id", "a1\nb2\n"),
])
def test_records_per_mode(mode: str, expected: str) -> None:
    output, out, err = sink(mode)
    assert output.records(iter([ROWS[:1], ROWS[1:]]), view=VIEW) == 2
    assert (out.getvalue(), err.getvalue()) == (expected, "")


def test_records_as_json_and_yaml_are_the_records() -> None:
    output, out, _ = sink("json")
    output.records(iter([ROWS[:1], [], ROWS[1:]]), view=VIEW)
    assert json.loads(out.getvalue()) == ROWS
    assert out.getvalue() == json.dumps(ROWS, indent=2) + "\n"
    output, out, _ = sink("yaml")
    output.records([ROWS], view=VIEW)
    assert yaml.safe_load(out.getvalue()) == ROWS


def test_an_empty_table_says_so_on_stderr_or_shows_its_header() -> None:
    output, out, err = sink("table")
    assert output.records([[]], view=VIEW, empty="no rows") == 0
    assert (out.getvalue(), err.getvalue()) == ("", "no rows\n")
    output, out, err = sink("table")
    output.records([[]], view=VIEW)
    assert out.getvalue() == "NAME  N\n"
    output, out, _ = sink("json")
    output.records([[]], view=VIEW, empty="no rows")
    assert out.getvalue() == "[]\n"


@pytest.mark.parametrize(("mode", "stdout"), [
    ("table", "name: alpha\nn:    1\n"),
    ("name", "alpha\n"),
    ("id", "a1\n"),
    ("json", json.dumps(ROWS[0], indent=2) + "\n"),
    ("yaml", "id: a1\nname: alpha\nn: 1\n"),
])
def test_record_per_mode(mode: str, stdout: str) -> None:
    output, out, err = sink(mode)
    output.record(ROWS[0], summary=lambda r: [("name", r["name"]), ("n", str(r["n"]))])
    assert (out.getvalue(), err.getvalue()) == (stdout, "")


def test_record_as_a_settings_table_and_by_another_key() -> None:
    output, out, _ = sink("table")
    output.record({"name": "p"}, summary=lambda r: list(r.items()), headers=("K", "V"))
    assert out.getvalue() == "K     V\nname  p\n"
    output, out, _ = sink("id")
    output.record({"name": "p"}, summary=lambda r: [], id_key="name")
    assert out.getvalue() == "p\n"


@pytest.mark.parametrize(("mode", "stdout", "stderr"), [
    ("table", "created 2\n", ""),
    ("name", "alpha\nbeta\ngone\n", "created 2\n"),
    ("id", "a1\nb2\ng0\n", "created 2\n"),
    ("json", json.dumps(ROWS, indent=2) + "\n", "created 2\n"),
    ("yaml", "id: a1\nname: alpha\nn: 1\n---\nid: b2\nname: beta\nn: 2\n", "created 2\n"),
])
def test_result_per_mode(mode: str, stdout: str, stderr: str) -> None:
    output, out, err = sink(mode)
    output.result("created 2", records=ROWS, gone=[{"id": "g0", "name": "gone"}])
    assert (out.getvalue(), err.getvalue()) == (stdout, stderr)


def test_data_for_people_and_for_files() -> None:
    output, out, _ = sink("table")
    output.data({"a": 1}, people="json")
    output.data({"a": 1})
    assert out.getvalue() == '{\n  "a": 1\n}\na: 1\n'
    assert sink("json")[0].file_text({"a": 1}) == (".json", '{\n  "a": 1\n}\n')
    assert sink("table")[0].file_text({"a": 1}) == (".yaml", "a: 1\n")


def test_a_document_is_data_for_machines_and_text_for_people() -> None:
    output, out, _ = sink("yaml")
    output.document({"a": 1}, text=["one line"])
    assert out.getvalue() == "a: 1\n"
    output, out, _ = sink("table")
    output.document({"a": 1}, text=["one line"])
    assert out.getvalue() == "one line\n"


def test_commands_never_ask_which_mode_is_on() -> None:
    """The -o switch lives in render/output.py: a command that compares the mode itself
    (`out.mode`, `OutputMode.json` in a test) is a fourth copy of it."""
    import re
    from pathlib import Path

    cli = Path(__file__).parents[2] / "agentctl" / "cli"
    asking = re.compile(r"out\.mode\b|[=!]= *OutputMode\.|in \(OutputMode\.")
    found = [f"{path.name}:{n}: {line.strip()}" for path in sorted(cli.glob("*.py"))
             for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
             if asking.search(line)]
    assert found == []


def test_the_sink_scrubs_the_secrets_it_is_given() -> None:
    from agentctl.secretset import SecretSet

    out, err = io.StringIO(), io.StringIO()
    output = Output(OutputMode.name, stdout=out, stderr=err, secrets=SecretSet(["k-secret-1"]))
    output.records([[{"name": "uses k-secret-1", "id": "x"}]], view=VIEW)
    output.warn("k-secret-1 leaked?")
    assert (out.getvalue(), err.getvalue()) == ("uses ***\n", "warning: *** leaked?\n")
    other = io.StringIO()  # another run's sink: its own (empty) set
    Output(OutputMode.name, stdout=other).lines(["k-secret-1"])
    assert other.getvalue() == "k-secret-1\n"
