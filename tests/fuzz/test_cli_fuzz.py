"""Bad input through the real CLI: hostile spec files and random command lines.

Whatever comes in: the documented exit code with one `error:` line, never a traceback or
an "internal error", and for a spec that is refused, not one request to the server
(checked on the emulator's request log).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentctl.emulator import server
from agentctl.emulator.openapi import openapi_document
from tests.conftest import run_cli
from tests.fuzz.schemas import JSON, Schemas

KEY = "fuzz-key-0123456789"
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    running = server.start(port=0, db_path=tmp_path_factory.mktemp("fz") / "db.sqlite3")
    yield running
    running.stop()
    assert running.errors == []


@pytest.fixture
def target(shared, monkeypatch, tmp_path):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", shared.base_url)
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("AGENTCTL_RETRY_BASE_DELAY", "0.001")
    monkeypatch.setenv("KNOWN", "known-value")
    monkeypatch.chdir(tmp_path)
    return shared


def reset(emulator: server.RunningEmulator) -> None:
    emulator.store.clear()
    del emulator.requests[:]


def clean_failure(result, codes: set[int]) -> None:
    """The documented code; for a failure one `error:` line; never a traceback.

    `validate` is the exception: its report (every problem, on stdout) is its product.
    """
    assert result.code in codes, str(result)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, str(result)
    assert KEY not in result.stdout + result.stderr
    if result.code not in (0, 1):
        report = result.args[:1] == ["validate"] and result.code == 3
        lines = (result.stdout + result.stderr if report else result.stderr).splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 or (report and errors), str(result)
        assert all(len(line) > len("error: ") + 5 for line in errors)


# -- hostile spec files -------------------------------------------------------------------
AGENT_SCHEMA = openapi_document()["components"]["schemas"]["AgentCreate"]
SCHEMAS = Schemas(openapi_document())

YAML_TOKENS = ["name", "system_prompt", "voice", "voice_id", "tools", ":", ": ", "\n", "  ",
               "- ", "[", "]", "{", "}", ",", "&a ", "*a", "<<: ", "---\n", "!!python/object ",
               "!!binary ", "'", '"', "#", "${KNOWN}", "${MISSING}", "${", "1", "yes", "~",
               "\t", "\x00", "\ufeff", "é", "|\n", "? "]


def alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: *a{levels - 1}\n"


def deep(levels: int, style: str) -> str:
    if style == "json":
        return '{"name": "x", "system_prompt": "p", "voice": ' + "[" * levels + "]" * levels + "}"
    if style == "flow":
        return "name: x\nvoice: " + "{a: " * levels + "1" + "}" * levels + "\n"
    return "name: x\nvoice:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(levels))


hostile = st.one_of(
    st.binary(max_size=300).map(lambda b: ("yaml", b)),  # invalid UTF-8 included
    st.lists(st.sampled_from(YAML_TOKENS), max_size=50).map(
        lambda parts: ("yaml", "".join(parts).encode("utf-8", "surrogatepass"))),
    st.integers(2, 9).map(lambda n: ("yaml", alias_bomb(n).encode())),
    st.tuples(st.integers(50, 3000), st.sampled_from(["json", "flow", "block"])).map(
        lambda t: ("json" if t[1] == "json" else "yaml", deep(*t).encode())),
    st.sampled_from([1, 1000, 300_000, 3_000_000]).map(lambda n: (
        "yaml", f"name: {'x' * n}\nsystem_prompt: p\nvoice: {{voice_id: ivy}}\n".encode())),
    st.sampled_from(["name: a\nname: b\nsystem_prompt: p\nvoice: {voice_id: ivy}\n",
                     '{"name": "a", "name": "b", "system_prompt": "p", '
                     '"voice": {"voice_id": "ivy"}}']).map(
        lambda text: ("yaml" if text.startswith("name") else "json", text.encode())),
    # schema-shaped agents, then broken: a field of the wrong type, an unknown field, a
    # missing variable
    st.tuples(SCHEMAS.strategy(AGENT_SCHEMA), st.text(max_size=8), JSON,
              st.sampled_from(["json", "yaml"])).map(
        lambda t: (t[3], dump({**t[0], t[1] or "x": t[2]}, t[3]))),
    SCHEMAS.strategy(AGENT_SCHEMA).map(
        lambda body: ("yaml", dump({**body, "greeting": "Hi ${MISSING_VAR}"}, "yaml"))),
)


def dump(value: Any, kind: str) -> bytes:
    if kind == "json":
        return json.dumps(value).encode()
    return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", "surrogatepass")


@FUZZ
@given(case=hostile, command=st.sampled_from(["create", "apply", "validate", "diff"]))
def test_hostile_spec_files(target, tmp_path, case, command):
    kind, raw = case
    path = tmp_path / f"spec.{kind}"
    path.write_bytes(raw)
    reset(target)
    result = run_cli(command, "-f", str(path), exit_code=None)
    # 6: the service refused it (an unknown voice is the service's 422, not a spec error)
    ok = {"create": {0, 3, 6}, "apply": {0, 3, 6}, "validate": {0, 3}, "diff": {0, 1, 3}}[command]
    clean_failure(result, ok)
    if result.code == 3:
        assert target.requests == [], f"a refused spec reached the server:\n{result}"
    if command == "validate":
        assert target.requests == []  # validate is offline, always


@pytest.mark.parametrize("name", ["bomb.yaml", "deep.json", "huge.yaml", "dupes.yaml",
                                  "latin1.yaml", "python.yaml", "empty.yaml", "list.json"])
def test_each_kind_of_bad_spec_is_exit_3_with_file_and_reason(target, tmp_path, name):
    contents = {
        "bomb.yaml": alias_bomb(9).encode(),
        "deep.json": deep(5000, "json").encode(),
        "huge.yaml": b"name: " + b"x" * (11 * 1024 * 1024) + b"\n",
        "dupes.yaml": b"name: a\nsystem_prompt: p\nname: b\nvoice: {voice_id: ivy}\n",
        "latin1.yaml": "name: caf\xe9\nsystem_prompt: p\nvoice: {voice_id: ivy}\n".encode("latin-1"),
        "python.yaml": b"name: !!python/object/apply:os.system ['echo pwned']\n",
        "empty.yaml": b"",
        "list.json": b"[1, 2, 3]",
    }
    path = tmp_path / name
    path.write_bytes(contents[name])
    reset(target)
    for command in ("create", "apply"):
        result = run_cli(command, "-f", str(path), exit_code=3)
        clean_failure(result, {3})
        error = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
        assert str(path) in error
    assert target.requests == []
    assert not Path("pwned").exists()


# -- random command lines -------------------------------------------------------------------
COMMANDS = ["create", "list", "get", "update", "delete", "diff", "apply", "validate",
            "promote", "schema", "completion", "config list", "config show", "config path",
            "config unset", "emulator", "connect --help", "nope"]
FLAGS = ["-f", "--filename", "-o", "--output", "--set", "--dry-run", "--yes", "-y",
         "--name", "--sort", "--limit", "--export", "--save", "--force", "--env-file",
         "--ignore-not-found", "--allow-duplicate-name", "--strict", "--prune", "--selector",
         "--concurrency", "--from", "--to", "--timeout", "-v", "--verbose", "--debug",
         "--no-color", "--api-key", "--help", "--version", "--", "-", "-x", "--bogus"]
VALUES = ["json", "yaml", "wide", "id", "name", "table", "xml", "0", "-1", "1e9", "nan",
          "a.yaml", "missing.yaml", "spec-dir", "alpha", "Alpha*", "greeting=Hi",
          "output.volume=200", "tools[99].x=1", "a..b=1", "=", "", " ", "é", "\x7f",
          "x" * 5000, "${MISSING}", "00000000-0000-0000-0000-000000000000", "bash", "fish"]
token = st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES),
                  st.text(max_size=12).filter(lambda t: "\x00" not in t))


def safe_argv(argv: list[str]) -> bool:
    """Keep the fuzz on loopback and finite: no other host, no --local, no serving."""
    text = " ".join(argv)
    return not re.search(r"base-url|://|--local|serve|connect(?! --help)|\x00", text)


@FUZZ
@given(command=st.sampled_from(COMMANDS), args=st.lists(token, max_size=7))
def test_random_command_lines(target, tmp_path, command, args):
    argv = [*command.split(), *args]
    if not safe_argv(argv):
        return
    (tmp_path / "a.yaml").write_text("name: alpha\nsystem_prompt: p\nvoice: {voice_id: ivy}\n")
    (tmp_path / "spec-dir").mkdir(exist_ok=True)
    result = run_cli(*argv, exit_code=None)
    allowed = {0, 2, 3, 4, 5, 6, 7}
    if "diff" in argv:
        allowed.add(1)
    clean_failure(result, allowed)
    if result.code == 7:  # only a real server problem may say "unavailable"
        assert "--timeout" in argv, str(result)


@pytest.mark.parametrize("argv", [
    ["--timeout", "0", "list"], ["--timeout", "abc", "list"], ["--timeout", "-5", "list"],
    ["list", "--limit", "-1"], ["list", "--sort", "size"], ["list", "-o", "xml"],
    ["get"], ["get", "a", "b"], ["update", "alpha"], ["update", "alpha", "--set", "="],
    ["update", "alpha", "--set", "nodot"], ["delete"], ["delete", "alpha"],
    ["create"], ["create", "-f"], ["--profile", "nope", "list"], ["-p"], ["--bogus"],
    ["nope"], ["config", "use", "nope"], ["completion", "tcsh"],
    ["apply", "--concurrency", "0", "-f", "a.yaml"], ["apply", "--prune", "-f", "a.yaml"],
])
def test_usage_errors_are_exit_2_with_one_line(target, tmp_path, argv):
    (tmp_path / "a.yaml").write_text("name: alpha\nsystem_prompt: p\nvoice: {voice_id: ivy}\n")
    reset(target)
    target.store.create_agent({"name": "alpha", "system_prompt": "p", "voice": {"voice_id": "ivy"}})
    result = run_cli(*argv, exit_code=2)
    clean_failure(result, {2})
    assert all(r["method"] == "GET" for r in target.requests)


def test_no_unsafe_yaml_loader_anywhere():
    """Only yaml.safe_load / SafeLoader: nothing that can build Python objects."""
    root = Path(__file__).parents[2] / "agentctl"
    unsafe = re.compile(r"yaml\.(load|load_all|full_load|full_load_all|unsafe_load|"
                        r"unsafe_load_all)\s*\(|\b(Full|Unsafe)?Loader\b(?<!SafeLoader)|"
                        r"yaml\.Loader|yaml\.UnsafeLoader|yaml\.FullLoader|yaml\.CLoader")
    offenders = []
    for path in root.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "yaml" in line and unsafe.search(line) and "SafeLoader" not in line:
                offenders.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    assert offenders == []
    # and the check itself can fail
    assert unsafe.search("data = yaml.load(text, Loader=yaml.Loader)")
    assert unsafe.search("yaml.unsafe_load(text)")


def test_yaml_tags_never_build_objects(target, tmp_path):
    marker = tmp_path / "marker"
    for tag in ("!!python/object/apply:os.system", "!!python/name:os.system",
                "!!python/object/new:pathlib.Path"):
        spec = tmp_path / "tagged.yaml"
        spec.write_text(f"name: {tag} ['touch {marker}']\nsystem_prompt: p\n"
                        "voice: {voice_id: ivy}\n")
        clean_failure(run_cli("validate", "-f", str(spec), exit_code=None), {3})
    assert not marker.exists()
    assert os.environ.get("ASSEMBLYAI_API_KEY") == KEY
