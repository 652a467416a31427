"""Test files: the model, its checks (validate), the schema (editors), and the example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentctl.errors import SpecError
from agentctl.spec import testfile
from agentctl.spec.load import load_specs
from agentctl.spec.testfile import matches, parse_test_document
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "agents-repo"


def read_tests(path: str, env: dict[str, str] | None = None):
    (doc,) = load_specs([path], env=env or {})
    return parse_test_document(doc)


def test_a_full_file_reads_into_tests_with_defaults_and_paths_from_the_file(write, tmp_path):
    write("tests/audio/q.wav", "RIFF")  # only its existence is checked here
    write("agents/a.yaml", "name: a\nsystem_prompt: x\nvoice: {voice_id: ivy}\n")
    path = write("tests/t.yaml", """\
spec: ../agents/a.yaml
tools:
  lookup: {result: {status: shipped}}
  fixed: plain text
expect:
  - no_session_error: true
timeout: ${T:-30}
tests:
  - name: recorded
    caller: {turns: [audio/q.wav]}
    tools:
      lookup:
        match:
          - arguments: {order: "/^12/"}
            result: found
          - result: none
      run: {command: ./tool.sh --flag}
    expect:
      - said: "ship(ped)?"
        turn: 1
      - tool_called: lookup
        arguments: {order: "123"}
      - first_audio_ms: {median: 900}
  - name: stored
    agent: support
    caller:
      persona: {system_prompt: You call., opening_line: Hi, max_turns: 3, done_when: bye}
""")
    recorded, stored = read_tests(path, {"T": "12"})
    base = str(tmp_path / "tests")
    assert recorded.agent.spec == str(tmp_path / "agents" / "a.yaml")
    assert recorded.agent.stored is None and recorded.timeout == 12.0
    assert recorded.caller.turns == (str(tmp_path / "tests" / "audio" / "q.wav"),)
    assert recorded.tools["lookup"].match[0].arguments == {"order": "/^12/"}
    assert recorded.tools["fixed"].result == "plain text"
    assert recorded.tools["run"].command == (f"{base}/tool.sh", "--flag")
    assert [e.kind for e in recorded.expect] == [
        "no_session_error", "said", "tool_called", "first_audio_ms"]
    assert recorded.expect[1].turn == 1 and recorded.expect[1].where == f"{path}:19"
    assert recorded.id == f"{path}::recorded"
    # A test's own agent replaces the file's spec; the file's tools and expect still apply.
    assert stored.agent.stored == "support" and stored.agent.spec is None
    assert stored.tools["lookup"].result == '{"status": "shipped"}'
    assert stored.caller.persona.max_turns == 3 and stored.caller.persona.done_when == "bye"
    assert [e.kind for e in stored.expect] == ["no_session_error"]


@pytest.mark.parametrize(("body", "message"), [
    ("tests: []\n", "1: tests: must be a non-empty list of tests"),
    ("tests:\n  - agent: a\n", "2: tests[0].name: required"),
    ("tests:\n  - {name: a}\n  - {name: a}\n", "3: tests[1].name: 'a' is also the name"),
    ("tests:\n  - name: a\n    expect:\n      - said: '('\n",
     "4: tests[0].expect[0].said: not a valid regular expression"),
    ("tests:\n  - name: a\n    expect: [{said: x, arguments: {}}]\n",
     "tests[0].expect[0].arguments: not a modifier of said (it takes turn)"),
    ("tests:\n  - name: a\n    expect: [{said: x, turn: 0}]\n",
     "tests[0].expect[0].turn: must be a user turn number"),
    ("tests:\n  - name: a\n    expect: [{first_audio_ms: {p90: 3}}]\n",
     "first_audio_ms: must be a mapping with median and/or max"),
    ("tests:\n  - name: a\n    caller: {turns: [a.mp3]}\n",
     "tests[0].caller.turns[0]: must be the path of a .wav file"),
    ("tests:\n  - name: a\n    caller: {turns: [a.wav]}\n", "no such file"),
    ("tests:\n  - name: a\n    caller: {persona: {voice: x}}\n",
     "tests[0].caller.persona.system_prompt: required"),
    ("tests:\n  - name: a\n    tools: {t: {match: [{arguments: {a: 1}}]}}\n",
     "tests[0].tools.t.match[0]: must be a mapping with a result"),
    ("tests:\n  - name: a\n    colour: red\n", "tests[0].colour: unknown field"),
    ("tests:\n  - name: a\n    timeout: ${NOPE}\n", "NOPE"),
])
def test_a_bad_file_is_one_located_error(write, body, message):
    path = write("t.yaml", body)
    with pytest.raises(SpecError) as raised:
        read_tests(path)
    assert message in raised.value.message and raised.value.message.startswith(path)


def test_validate_lists_every_problem_of_a_test_file_and_counts_it(write):
    good = write("good.yaml", "agent: a\ntests:\n  - name: one\n")
    bad = write("bad.yaml", "tests:\n  - name: a\n    expect: [{said: '('}, {max_turns: -1}]\n")
    result = run_cli("validate", "-f", good, "-f", bad, exit_code=3)
    shown = result.stdout + result.stderr
    assert f"{bad}:3: tests[0].expect[0].said: not a valid regular expression" in shown
    assert f"{bad}:3: tests[0].expect[1].max_turns: must be a whole number" in shown
    assert "2 files, 0 agents, 2 test files: 2 errors, 0 warnings" in shown
    assert run_cli("validate", "-f", good).stdout.endswith(
        "1 file, 0 agents, 1 test file: 0 errors, 0 warnings\n")


@pytest.mark.parametrize(("expected", "actual", "result"), [
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1.0}, {"a": 1}, True),
    ({"a": "1"}, {"a": 1}, False),
    ({"a": {"b": "/^x/"}}, {"a": {"b": "XYZ", "c": 0}}, True),
    ({"a": "/^x/"}, {"a": 5}, False),
    ({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2, "c": 3}]}, True),
    ({"a": [1]}, {"a": [1, 2]}, False),
    ({"a": True}, {"a": 1}, False),
    ({"missing": None}, {}, False),
])
def test_argument_matching(expected, actual, result):
    assert matches(expected, actual) is result


def test_the_schema_knows_the_same_fields_as_the_reader():
    schema = testfile.load_test_schema()
    assert set(schema["properties"]) == set(testfile.FILE_KEYS)
    test = schema["properties"]["tests"]["items"]
    assert set(test["properties"]) == set(testfile.TEST_KEYS)
    kinds = {next(iter(k["required"])): k for k in schema["$defs"]["expectation"]["oneOf"]}
    assert set(kinds) == set(testfile.EXPECT_KINDS)
    for kind, modifiers in testfile.EXPECT_KINDS.items():
        assert set(kinds[kind]["properties"]) == {kind, *modifiers}
    persona = test["properties"]["caller"]["properties"]["persona"]
    assert set(persona["properties"]) == set(testfile.PERSONA_KEYS)
    assert json.loads(run_cli("schema", "--kind", "test").stdout) == schema


def test_the_example_tests_validate_and_their_schema_is_current():
    shipped = json.loads((EXAMPLE / "test.schema.json").read_text())
    assert shipped == testfile.load_test_schema(), (
        "regenerate: agentctl schema --kind test > examples/agents-repo/test.schema.json")
    result = run_cli("validate", "-f", str(EXAMPLE / "tests"), "--strict")
    assert "1 test file: 0 errors, 0 warnings" in result.stdout
