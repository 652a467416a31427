"""The session runner's rules that the emulator cannot provoke, through a fake socket."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest

from agentctl.errors import UsageError
from agentctl.session.runner import LiveSession, SessionPlan, Until
from agentctl.session.tools import ToolAnswer, parse_tool
from agentctl.session.ws import Closed, ws_url


class FakeSocket:
    """Scripted server: `on_send` reacts to what the client sends; `log` keeps the order."""

    def __init__(self, log: list[str], on_send) -> None:
        self.incoming: queue.Queue[Any] = queue.Queue()
        self.log = log
        self.on_send = on_send

    def push(self, *events: dict[str, Any]) -> None:
        for event in events:
            self.log.append(f"push {event['type']}")
            self.incoming.put(event)

    def send(self, event: dict[str, Any]) -> None:
        self.log.append(f"send {event['type']}")
        self.on_send(self, event)

    def recv(self, timeout: float | None) -> dict[str, Any] | None:
        try:
            item = self.incoming.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        pass


class Listener:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    def event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_a_tool_result_waits_for_the_reply_in_progress():
    log: list[str] = []
    runner: LiveSession | None = None

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "tool.call", "call_id": "c1", "name": "lookup",
                       "arguments": {"q": 1}})

            def finish_reply_later() -> None:  # once the tool has its answer, not before
                wait_for(lambda: runner is not None and runner.tool_results, "the tool")
                sock.push({"type": "reply.done", "status": "completed"})

            threading.Thread(target=finish_reply_later, daemon=True).start()
        elif kind == "tool.result":
            assert event == {"type": "tool.result", "call_id": "c1", "result": "42"}
            sock.push({"type": "reply.started", "reply_id": "r2"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    sock = FakeSocket(log, server)
    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("2-replies"),
                       tools={"lookup": ToolAnswer("lookup", text="42")})
    runner = LiveSession(plan, Listener(), opener=lambda *a, **k: sock)
    result = runner.run()
    assert result.outcome == "done"
    assert log.index("push reply.done") < log.index("send tool.result")
    assert log[-2:] == ["send session.end", "push session.ended"]


def test_resume_after_a_drop_marks_it_and_resends_nothing_but_resume():
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"})
            sock.incoming.put(Closed(None, "no close frame"))
        elif kind == "session.resume":
            assert event["session_id"] == "s1"
            sock.push({"type": "session.ready", "session_id": "s1"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    def opener(*args: Any, **kwargs: Any) -> FakeSocket:
        sockets.append(FakeSocket(log, server))
        return sockets[-1]

    listener = Listener()
    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"))
    result = LiveSession(plan, listener, opener=opener).run()
    assert result.outcome == "done" and len(sockets) == 2
    assert [line for line in log if line.startswith("send")] == [
        "send session.update", "send session.resume", "send session.end"]
    resumed = [e for e in listener.events if e["type"] == "client.resumed"]
    assert resumed and resumed[0]["session_id"] == "s1"
    assert result.report["totals"]["resumes"] == 1


@pytest.mark.parametrize(("base", "url"), [
    ("https://agents.assemblyai.com", "wss://agents.assemblyai.com/v1/ws"),
    ("https://eu.example.com/", "wss://eu.example.com/v1/ws"),
    ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/v1/ws"),
    ("https://example.com/proxy/v1", "wss://example.com/proxy/v1/ws"),
])
def test_the_websocket_url_derives_from_the_base_url(base, url):
    assert ws_url(base) == url


@pytest.mark.parametrize(("text", "kind", "count"), [
    ("reply", "replies", 1), ("3-replies", "replies", 3), ("1-reply", "replies", 1),
    ("greeting", "greeting", 0), ("timeout", "timeout", 0),
])
def test_until_values(text, kind, count):
    assert Until.parse(text) == Until(kind, count)


@pytest.mark.parametrize("text", ["0-replies", "soon", "replies"])
def test_bad_until_values(text):
    with pytest.raises(UsageError):
        Until.parse(text)


def test_tool_commands_are_split_like_a_shell_and_run_without_one(tmp_path):
    import shlex
    import sys

    answer = parse_tool(f"t={shlex.join([sys.executable, '-c', 'print(input())'])} ")
    assert answer.run({"a": "$HOME"}, timeout=10) == ('{"a": "$HOME"}', None)
    slow = parse_tool(f"t={shlex.join([sys.executable, '-c', 'import time; time.sleep(5)'])}")
    result, problem = slow.run({}, timeout=0.2)
    assert problem is not None and "did not finish within 0.2 s" in problem
    assert '"error"' in result
