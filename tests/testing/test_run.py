"""The test runner as a library: capacity refusals are waited out, not failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentctl.emulator import server
from agentctl.session.ws import Closed, Socket, ws_url
from agentctl.spec.load import load_specs
from agentctl.spec.testfile import parse_test_document
from agentctl.testing.run import Agents, Runner, RunOptions
from tests.conftest import TEST_KEY


class AtCapacity:
    """A socket whose service refuses the session for capacity, then closes (1008)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.answered = False

    def send(self, event):
        pass

    def recv(self, timeout):
        if self.answered:
            raise Closed(1008, self.code)
        self.answered = True
        return {"type": "session.error", "code": self.code, "message": "try later"}

    def close(self):
        pass


@pytest.fixture
def live(tmp_path: Path):
    running = server.start(port=0, db_path=tmp_path / "live.sqlite3", live={"speed": 50.0})
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def read_tests(write, body: str):
    write("agent.yaml", "name: a\nsystem_prompt: x\ngreeting: Hello there.\n"
          "voice: {voice_id: ivy}\n")
    (doc,) = load_specs([write("t.yaml", "spec: agent.yaml\ntests:\n" + body)], env={})
    return parse_test_document(doc)


@pytest.mark.parametrize("code", ["at_capacity", "concurrency_exceeded"])
def test_a_capacity_refusal_waits_and_tries_again(live, write, code):
    refusals = []

    def opener(url, key, *, timeout, ca_cert=None):
        if len(refusals) < 2:
            refusals.append(code)
            return AtCapacity(code)
        return Socket.open(url, key, timeout=timeout, ca_cert=ca_cert)

    (test,) = read_tests(write, "  - name: greets\n    expect: [{said: hello}]\n")
    options = RunOptions(url=ws_url(live.base_url), api_key=TEST_KEY, speed=50.0,
                         capacity_delay=0.01, opener=opener)
    result = Runner(options, Agents(lambda: None, {})).run(test)
    assert result.status == "passed", result
    assert result.attempts == 3 and refusals == [code, code]
    assert result.warnings[:2] == [f"the service is at capacity ({code}); trying again in "
                                   f"{d:g} s" for d in (0.01, 0.02)]


def test_capacity_that_never_frees_is_unavailable(write):
    (test,) = read_tests(write, "  - name: greets\n")
    options = RunOptions(url="ws://127.0.0.1:9/v1/ws", api_key=TEST_KEY, capacity_delay=0.01,
                         capacity_wait=0.1, opener=lambda *a, **k: AtCapacity("at_capacity"))
    result = Runner(options, Agents(lambda: None, {})).run(test)
    assert (result.status, result.exit_code) == ("error", 7)
    assert result.error.startswith("the service stayed at capacity (at_capacity) for ")
    assert result.hint == "lower --concurrency, or retry later"
