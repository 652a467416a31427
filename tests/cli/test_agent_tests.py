"""`agentctl test`: the real CLI against the real emulator's live sessions on loopback.

The emulator runs its live side 50 times faster than real time and the CLI streams at
the same speed (`--speed 50`), so a conversation of a few turns takes a fraction of a
second. Its script makes what the agent hears and says deterministic.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentctl.emulator import server
from tests.conftest import TEST_KEY, run_cli
from tests.session.wavgen import utterances, wav_file

SPEED = ("--speed", "50")
SCRIPT = {"turns": [
    {"user": "I want to check order 123.",
     "tool_calls": [{"name": "lookup", "arguments": {"order": "123", "verbose": True}}],
     "reply": "Your order {result} is on its way."},
    {"user": "Thanks.", "reply": "You're welcome, goodbye."},
], "sessions": [  # simulated callers: their own lines, by their system prompt
    {"match": "a customer", "turns": [{"reply": "Thanks."}, {"reply": "Bye now."}]},
    {"match": "^you call", "turns": [{"reply": "Where is my order?"}]},
]}
AGENT = """\
name: frontdesk
system_prompt: You are the front desk of Sunrise Pharmacy.
greeting: Hi, Sunrise Pharmacy. How can I help?
voice: {voice_id: ivy}
tools:
  - name: lookup
    description: Look up an order.
    parameters: {type: object, properties: {order: {type: string}}}
    timeout_seconds: 150
  - name: cancel
    description: Cancel an order.
    parameters: {type: object, properties: {order: {type: string}}}
"""


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[server.RunningEmulator]:
    running = server.start(port=0, db_path=tmp_path / "live.sqlite3",
                           live={"speed": 50.0, "script": SCRIPT})
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


@pytest.fixture
def repo(tmp_path: Path, write) -> Path:
    """An agent spec and two recorded turns, as a repository would keep them."""
    write("agents/frontdesk.yaml", AGENT)
    (tmp_path / "tests" / "audio").mkdir(parents=True)
    wav_file(tmp_path / "tests/audio/order.wav", utterances(("s", 0.2), ("t", 1.0), ("s", 0.2)))
    wav_file(tmp_path / "tests/audio/thanks.wav", utterances(("s", 0.2), ("t", 0.5), ("s", 0.2)))
    return tmp_path


HEADER = """\
spec: ../agents/frontdesk.yaml
tests:
"""
TWO_TURNS = "    caller: {turns: [audio/order.wav, audio/thanks.wav]}\n"


def test_file(repo: Path, body: str, name: str = "suite.yaml", header: str = HEADER) -> str:
    path = repo / "tests" / name
    path.write_text(header + body, encoding="utf-8")
    return str(path)


test_file.__test__ = False  # a helper, not a test


def run_json(*args: str, exit_code: int | None = None) -> tuple[dict[str, Any], Any]:
    result = run_cli("test", *args, "-o", "json", *SPEED, exit_code=exit_code)
    return json.loads(result.stdout), result


def checks(doc: dict[str, Any], name: str) -> dict[str, tuple[bool, str | None]]:
    (test,) = [t for t in doc["tests"] if t["name"] == name]
    return {c["label"]: (c["passed"], c["detail"]) for c in test["checks"]}


# -- every expectation kind, passing and failing ------------------------------------------------
EVERY_KIND = TWO_TURNS + """\
    tools:
      lookup:
        match:
          - arguments: {order: "/^9/"}
            result: WRONG
          - arguments: {order: "/^12/"}
            result: A-1
    expect:
      - said: "sunrise pharmacy"
        turn: greeting
      - said: "A-1 is on its way"
        turn: 1
      - said: goodbye
      - not_said: refund
      - not_said: goodbye
        turn: 1
      - tool_called: lookup
        arguments: {order: "123", verbose: true}
        turn: 1
      - tool_called: lookup
      - tool_not_called: cancel
      - max_turns: 2
      - first_audio_ms: {median: 20000, max: 30000}
      - ended_cleanly: true
      - no_session_error: true
"""

FAILS = TWO_TURNS + """\
    tools:
      lookup: {result: A-1}
    expect:
      - said: refund
      - said: goodbye
        turn: 1
      - said: anything
        turn: 5
      - not_said: "on its way"
      - tool_called: lookup
        arguments: {order: "999"}
      - tool_called: cancel
      - tool_not_called: lookup
      - max_turns: 1
      - first_audio_ms: {max: 0.001}
      - ended_cleanly: true
"""


def test_every_expectation_kind_passes_and_fails_each_on_its_own(live, repo):
    path = test_file(repo, "  - name: passes\n" + EVERY_KIND + "  - name: fails\n" + FAILS)
    doc, _ = run_json(path, exit_code=1)
    assert doc["summary"] == {"tests": 2, "passed": 1, "failed": 1, "errors": 0}
    passing = checks(doc, "passes")
    assert all(ok for ok, _ in passing.values()), passing
    assert len(passing) == 14  # 12 expectations, tools answered, conversation complete
    (test,) = [t for t in doc["tests"] if t["name"] == "passes"]
    assert [(ln["who"], ln["turn"], ln["text"]) for ln in test["transcript"]] == [
        ("agent", 0, "Hi, Sunrise Pharmacy. How can I help?"),
        ("user", 1, "I want to check order 123."),
        ("agent", 1, "Your order A-1 is on its way."),
        ("user", 2, "Thanks."),
        ("agent", 2, "You're welcome, goodbye."),
    ]
    assert test["tool_calls"] == [{"name": "lookup", "arguments": {"order": "123",
                                                                   "verbose": True},
                                   "turn": 1, "answered": True}]
    failing = checks(doc, "fails")
    assert failing["said /refund/"] == (
        False, "no agent line matched; last: \"You're welcome, goodbye.\"")
    assert failing["said /goodbye/ in turn 1"] == (
        False, "no agent line matched; last: 'Your order A-1 is on its way.'")
    assert failing["said /anything/ in turn 5"] == (False, "the agent said nothing in turn 5")
    assert failing["never said /on its way/"] == (
        False, "the agent said 'Your order A-1 is on its way.'")
    assert failing['called lookup with {"order": "999"}'] == (
        False, 'lookup was called with {"order": "123", "verbose": true}')
    assert failing["called cancel"] == (False, "cancel was not called (called: lookup)")
    assert failing["did not call lookup"] == (
        False, 'lookup was called in turn 1 with {"order": "123", "verbose": true}')
    assert failing["at most 1 turn"] == (False, "the conversation took 2 turns")
    ok, detail = failing["first reply audio max <= 0.001 ms"]
    assert not ok and detail.startswith("max ") and "over 2 turns" in detail
    assert failing["session ended cleanly"] == (True, None)
    assert failing["every tool call answered"] == (True, None)
    # The text output: a line per test, the failed checks with file:line and the
    # transcript around each.
    text = run_cli("test", path, *SPEED, exit_code=1).stdout
    assert text.splitlines()[0].startswith(f"PASS  passes  ({path}, ")
    assert f"FAIL  fails  ({path}, " in text
    # The expectation's own file:line.
    assert re.search(rf"\n      {re.escape(path)}:\d+: at most 1 turn: the conversation took 2 "
                     "turns\n", text)
    assert "        [turn 1] agent: Your order A-1 is on its way." in text
    assert text.rstrip().endswith("1 passed, 1 failed in " + text.rstrip().split(" in ")[-1])


def test_unanswered_and_unmatched_tool_calls_fail_the_test(live, repo):
    path = test_file(repo, """\
  - name: not answered
    caller: {turns: [audio/order.wav]}
  - name: no match
    caller: {turns: [audio/order.wav]}
    tools:
      lookup:
        match: [{arguments: {order: "999"}, result: x}]
""")
    doc, _ = run_json(path, exit_code=1)
    assert doc["summary"]["failed"] == 2
    ok, detail = checks(doc, "not answered")["every tool call answered"]
    assert not ok and detail == "tool.call lookup: the test does not answer it (add it to tools:)"
    ok, detail = checks(doc, "no match")["every tool call answered"]
    assert not ok and 'with {"order": "123", "verbose": true}: no match: entry' in detail
    # The conversation still went on: the agent got an error result and answered.
    (test,) = [t for t in doc["tests"] if t["name"] == "no match"]
    assert test["transcript"][-1]["text"].startswith('Your order {"error": "tool.call lookup')


def test_a_tool_answered_by_a_command_gets_the_arguments(live, repo, tmp_path):
    seen = tmp_path / "args.json"
    code = ("import sys, json; args = json.load(sys.stdin); "
            f"open({str(seen)!r}, 'w').write(json.dumps(args)); print('CMD-' + args['order'])")
    command = shlex.join([sys.executable, "-c", code])
    path = test_file(repo, f"""\
  - name: command
    caller: {{turns: [audio/order.wav]}}
    tools:
      lookup: {{command: {json.dumps(command)}}}
    expect: [{{said: "CMD-123 is on its way"}}]
""")
    doc, _ = run_json(path, exit_code=0)
    assert doc["tests"][0]["status"] == "passed"
    assert json.loads(seen.read_text()) == {"order": "123", "verbose": True}


def test_a_session_error_fails_no_session_error(live, repo, write):
    # A tool result later than the tool's timeout (1 s, real time) draws a session.error
    # (an unknown call).
    write("agents/impatient.yaml", AGENT.replace("timeout_seconds: 150", "timeout_seconds: 1"))
    command = shlex.join([sys.executable, "-c", "import time; time.sleep(1.3); print('late')"])
    # The second turn starts 1.2 s after the first answer (60 s at --speed 50), so the late
    # result is sent before the end.
    wav_file(repo / "tests/audio/wait.wav", utterances(("s", 60.0), ("t", 0.5), ("s", 0.2)))
    path = test_file(repo, f"""\
  - name: late tool
    spec: ../agents/impatient.yaml
    caller: {{turns: [audio/order.wav, audio/wait.wav]}}
    tools: {{lookup: {{command: {json.dumps(command)}}}}}
    expect: [{{no_session_error: true}}, {{said: "no result from lookup"}}]
""")
    doc, _ = run_json(path, exit_code=1)
    found = checks(doc, "late tool")
    ok, detail = found["no session.error"]
    assert not ok and detail.startswith("invalid_value: tool.result for unknown call_id 'call_")
    assert found["said /no result from lookup/"] == (True, None)


def test_a_stuck_conversation_times_out_and_fails(live, repo):
    # 30 s before the speech (0.6 s at --speed 50): longer than the test may take.
    wav_file(repo / "tests/audio/long.wav", utterances(("s", 30.0), ("t", 0.3)))
    path = test_file(repo, """\
  - name: too long
    timeout: 0.5
    caller: {turns: [audio/long.wav]}
    expect: [{ended_cleanly: true}]
""")
    doc, _ = run_json(path, exit_code=1)
    found = checks(doc, "too long")
    assert found["session ended cleanly"] == (False, "the test timed out")
    assert found["the conversation ran to its end"] == (False, "the test timed out after 0.5 s")


# -- a simulated caller ---------------------------------------------------------------------------
def test_a_simulated_caller_talks_with_the_agent_for_several_turns(live, repo):
    path = test_file(repo, """\
  - name: simulated
    tools: {lookup: {result: A-7}}
    caller:
      persona:
        system_prompt: You are a customer asking about an order.
        voice: james
        opening_line: Hello, I am calling about my order.
        max_turns: 3
    expect:
      - said: "A-7 is on its way"
        turn: 1
      - said: goodbye
        turn: 2
      - max_turns: 3
      - tool_called: lookup
      - ended_cleanly: true
""")
    doc, _ = run_json(path, exit_code=0)
    (test,) = doc["tests"]
    assert test["status"] == "passed", test
    lines = [(ln["who"], ln["turn"]) for ln in test["transcript"]]
    assert lines == [("agent", 0), ("user", 1), ("agent", 1), ("user", 2), ("agent", 2),
                     ("user", 3), ("agent", 3)]
    # The caller's lines were heard as speech (the emulator describes what it hears).
    assert test["transcript"][1]["text"] == "I want to check order 123."
    assert test["transcript"][6]["text"].startswith("I heard ")
    caller_session, = [s for s in live.app.state.live.history if "customer" in
                       s.config["system_prompt"]]
    agent_session, = [s for s in live.app.state.live.history if s is not caller_session]
    assert caller_session.config["system_prompt"] == "You are a customer asking about an order."
    assert caller_session.config["greeting"] == "Hello, I am calling about my order."
    assert caller_session.config["output"]["voice"] == "james"
    assert test["caller_session_id"] == caller_session.id
    assert test["session_id"] == agent_session.id
    assert agent_session.user_turns == 3
    assert {agent_session.end_reason, caller_session.end_reason} == {"client"}


def test_a_telephony_agent_and_a_pcm_caller_hear_each_other(live, repo, write):
    # The agent speaks and hears 8 kHz μ-law, the caller's session 24 kHz PCM: the audio
    # is converted both ways.
    write("agents/phone.yaml", AGENT + "input: {format: {encoding: audio/pcmu}}\n"
          "output: {format: {encoding: audio/pcmu}}\n")
    path = test_file(repo, """\
  - name: phone
    spec: ../agents/phone.yaml
    tools: {lookup: {result: A-7}}
    caller:
      persona: {system_prompt: You are a customer., opening_line: Hello there., max_turns: 2}
    expect: [{said: "A-7 is on its way", turn: 1}, {max_turns: 2}]
""")
    doc, _ = run_json(path, exit_code=0)
    assert doc["tests"][0]["status"] == "passed", doc
    sessions = live.app.state.live.history
    (agent,) = [s for s in sessions if "Sunrise" in s.config["system_prompt"]]
    (caller,) = [s for s in sessions if s is not agent]
    assert agent.config["input"]["format"]["encoding"] == "audio/pcmu"
    assert caller.config["input"]["format"]["encoding"] == "audio/pcm"
    assert agent.user_turns == 2 and caller.user_turns == 1


def test_a_simulated_caller_stops_at_its_done_when_line(live, repo):
    path = test_file(repo, """\
  - name: done when
    tools: {lookup: {result: A-7}}
    caller:
      persona:
        system_prompt: You call.
        max_turns: 5
        done_when: "where is my order"
    expect: [{max_turns: 1}]
""")
    doc, _ = run_json(path, exit_code=0)
    (test,) = doc["tests"]
    # No opening line: the caller answered the greeting with its script's first line,
    # which matched done_when and ended the conversation after the agent's answer.
    assert [ln["who"] for ln in test["transcript"]] == ["agent", "user", "agent"]
    assert test["transcript"][1]["text"] == "I want to check order 123."
    (caller,) = [s for s in live.app.state.live.history if s.config["system_prompt"] == "You call."]
    assert caller.sent.count("transcript.agent") == 1


# -- running: selection, agents, outputs, exit codes -----------------------------------------------
def test_junit_xml_parses_with_a_suite_per_file_and_a_failure_per_failed_test(live, repo):
    ok = test_file(repo, "  - name: greets\n    expect: [{said: sunrise}]\n", "a.yaml")
    bad = test_file(repo, "  - name: says refund\n    expect: [{said: refund}]\n"
                    "  - name: \"<&'\\x01\\\">\"\n", "b.yaml")
    junit = repo / "out" / "junit.xml"
    junit.parent.mkdir()
    run_cli("test", ok, bad, "--junit", str(junit), *SPEED, exit_code=1)
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [ok, bad]
    assert [s.get("failures") for s in suites] == ["0", "1"]
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"greets", "says refund", "<&'\">"}
    assert cases["greets"].find("failure") is None
    failure = cases["says refund"].find("failure")
    assert failure.get("message") == (
        "said /refund/: no agent line matched; last: 'Hi, Sunrise Pharmacy. How can I help?'")
    assert f"{bad}:4: said /refund/" in failure.text
    assert cases["says refund"].find("system-out").text == (
        "[greeting] agent: Hi, Sunrise Pharmacy. How can I help?\n")
    assert cases["says refund"].get("classname") == bad and float(cases["greets"].get("time")) > 0
    assert not list(junit.parent.glob(".*tmp"))  # written atomically: no temporary left


def test_select_with_k_and_run_concurrently(live, repo):
    path = test_file(repo, "".join(
        f"  - name: greeting {i}\n    expect: [{{said: sunrise}}]\n" for i in range(3))
        + "  - name: other\n    expect: [{said: refund}]\n")
    doc, _ = run_json(path, "-k", "GREETING", "--concurrency", "3", exit_code=0)
    assert sorted(t["name"] for t in doc["tests"]) == ["greeting 0", "greeting 1", "greeting 2"]
    assert len(live.app.state.live.history) == 3
    result = run_cli("test", path, "-k", "nothing", *SPEED, exit_code=2)
    assert "error: no tests selected" in result.stderr


def test_agent_override_with_a_stored_agent_or_a_spec_file(live, repo, write):
    run_cli("create", "-f", str(repo / "agents" / "frontdesk.yaml"))
    path = test_file(repo, "  - name: greets\n    expect: [{said: sunrise}]\n", header=(
        "agent: nobody\ntests:\n"))
    run_cli("test", path, "--agent", "frontdesk", *SPEED)
    (session,) = live.app.state.live.history
    assert session.config["agent_id"]
    other = write("other.yaml", AGENT.replace("Hi, Sunrise Pharmacy.", "Hello, Moonrise."))
    run_cli("test", path, "--agent", other, *SPEED, exit_code=1)
    inline = live.app.state.live.history[-1]
    assert "agent_id" not in inline.config and inline.config["greeting"].startswith("Hello")
    # The spec file is connected inline and never stored.
    assert [a["name"] for a in live.store.list_agents()] == ["frontdesk"]
    # A stored agent that does not exist: the test could not run (exit 5, not found).
    doc, _ = run_json(path, exit_code=5)
    assert doc["tests"][0]["status"] == "error" and "nobody" in doc["tests"][0]["error"]


def test_save_dir_keeps_transcript_events_and_both_sides_audio(live, repo):
    path = test_file(repo, "  - name: order / check\n" + TWO_TURNS
                     + "    tools: {lookup: {result: A-1}}\n    expect: [{said: refund}]\n")
    saved = repo / "artifacts"
    run_cli("test", path, "--save-dir", str(saved), *SPEED, exit_code=1)
    (folder,) = saved.iterdir()
    assert folder.name == "suite-order-check"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["agent.wav", "caller.wav", "events.jsonl", "result.json", "transcript.txt"]
    assert (folder / "transcript.txt").read_text().splitlines()[1] == (
        "[turn 1] user : I want to check order 123.")
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert "session.ready" in [e["type"] for e in events[:2]]
    assert events[-1]["type"] == "session.ended"
    audio = [e for e in events if e["type"] == "reply.audio"]
    assert audio and all(0 < e["data"]["bytes"] <= 4800 for e in audio)
    import wave

    for name, least in (("agent.wav", 2.0), ("caller.wav", 1.5)):  # seconds of audio
        with wave.open(str(folder / name)) as w:
            assert (w.getframerate(), w.getnchannels()) == (24000, 1)
            assert w.getnframes() / 24000 > least
    assert json.loads((folder / "result.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(("body", "args", "code", "message"), [
    ("  - name: x\n", ("--base-url", "https://agents.example.com"), 2,
     "--speed is for an emulator on this machine"),
    ("  - name: x\n    expect: [{said: '('}]\n", (), 3, ":4: tests[0].expect[0].said: not a valid"),
    ("  - name: x\n", ("--agent", "missing.yaml"), 2, "--agent missing.yaml: no such spec file"),
    ("  - name: x\n", ("--junit", "no/such/dir/j.xml"), 2, "directory no/such/dir does not exist"),
])
def test_bad_input_exit_codes(live, repo, body, args, code, message):
    path = test_file(repo, body)
    result = run_cli("test", path, *args, *SPEED, exit_code=code)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_agent_spec_is_not_a_test_file(live, repo):
    result = run_cli("test", str(repo / "agents" / "frontdesk.yaml"), exit_code=3)
    assert "not a test file: it has no `tests:` list" in result.stderr


def test_service_unavailable_is_exit_7(repo, monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", f"http://127.0.0.1:{port}")
    path = test_file(repo, "  - name: x\n    expect: [{said: sunrise}]\n")
    doc, result = run_json(path, exit_code=7)
    assert doc["tests"][0]["status"] == "error" and doc["summary"]["errors"] == 1
    assert "ERROR x" in result.stderr


# -- the example repository -----------------------------------------------------------------------
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agents-repo"


def test_the_example_workflow_tests_before_diff_and_gates_apply_and_promote():
    import yaml

    workflow = yaml.safe_load((EXAMPLE / ".github/workflows/agents.yml").read_text())
    runs = [s.get("run", "") for s in workflow["jobs"]["check"]["steps"]]
    test_step = next(i for i, r in enumerate(runs) if r.startswith("agentctl test tests/"))
    diff_step = next(i for i, r in enumerate(runs) if r.startswith("agentctl diff"))
    assert test_step < diff_step and "--junit" in runs[test_step]
    assert workflow["jobs"]["apply"]["needs"] == "check"
    assert workflow["jobs"]["promote"]["needs"] == "check"
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert "tests/**" in triggers["pull_request"]["paths"]


def test_the_example_greeting_test_passes_against_the_emulator(live, monkeypatch):
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token")
    doc, _ = run_json(str(EXAMPLE / "tests"), "-k", "greets", exit_code=0)
    assert [t["name"] for t in doc["tests"]] == ["greets the caller"]
    (session,) = live.app.state.live.history
    assert session.config["greeting"] == "Hi, Sunrise Pharmacy. How can I help?"
    assert live.store.list_agents() == []  # inline, never stored


@pytest.mark.parametrize("concurrency", ["1", "2"])
def test_ctrl_c_ends_the_sessions_cleanly_and_exits_130(live, repo, concurrency):
    import signal
    import threading
    import time

    wav_file(repo / "tests/audio/slow.wav", utterances(("s", 30.0), ("t", 0.3)))
    path = test_file(repo, "".join(f"""\
  - name: slow {i}
    caller: {{turns: [audio/slow.wav]}}
""" for i in range(2)))
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def press_ctrl_c_once_the_greeting_is_over() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            history = live.app.state.live.history
            if history and history[0].sent.count("reply.done") >= 1:
                break
            time.sleep(0.01)
        signal.pthread_kill(main_thread, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_once_the_greeting_is_over, daemon=True)
    presser.start()
    junit = repo / "junit.xml"
    # At real-time speed the 30 s of silence is still playing when Ctrl-C comes.
    result = run_cli("test", path, "--concurrency", concurrency, "--junit", str(junit),
                     exit_code=130)
    presser.join()
    assert "ERROR slow 0" in result.stdout and "interrupted" in result.stdout
    for session in live.app.state.live.history:
        assert session.received[-1] == "session.end" and session.end_reason == "client"
    errors = ET.parse(junit).getroot().findall(".//error")
    assert errors and errors[0].get("message") == "interrupted"


def test_a_service_at_its_session_limit_makes_tests_wait_not_fail(tmp_path, monkeypatch, repo):
    running = server.start(port=0, db_path=tmp_path / "capped.sqlite3",
                           live={"speed": 50.0, "script": SCRIPT, "max_sessions": 1})
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    try:
        path = test_file(repo, "".join(
            f"  - name: turn {i}\n" + TWO_TURNS + "    tools: {lookup: {result: A-1}}\n"
            "    expect: [{said: goodbye}]\n" for i in range(2)))
        doc, result = run_json(path, "--concurrency", "2", exit_code=0)
        assert doc["summary"]["passed"] == 2
        assert sorted(t["attempts"] for t in doc["tests"]) == [1, 2]
        assert "the service is at capacity (concurrency_exceeded); trying again in 1 s" in (
            result.stderr)
    finally:
        running.stop()
    assert running.errors == []
