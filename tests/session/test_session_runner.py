"""The session runner's rules that the emulator cannot provoke, through a fake socket."""

from __future__ import annotations

import base64
import queue
import threading
import time
from array import array
from typing import Any

import pytest

from agentctl.errors import UsageError
from agentctl.session import runner as runner_module
from agentctl.session.audio import BufferSource
from agentctl.session.runner import LiveSession, SessionPlan, Until
from agentctl.session.tools import ToolAnswer, parse_tool
from agentctl.session.ws import Closed, ws_url


class FakeSocket:
    """Scripted server: `on_send` reacts to what the client sends; `log` keeps the order."""

    def __init__(self, log: list[str], on_send) -> None:
        self.incoming: queue.Queue[Any] = queue.Queue()
        self.log = log
        self.on_send = on_send
        self.dead = False

    def push(self, *events: dict[str, Any]) -> None:
        for event in events:
            self.log.append(f"push {event['type']}")
            self.incoming.put(event)

    def die(self) -> None:
        """The connection drops: the reader sees it after what was pushed; sends fail."""
        self.dead = True
        self.incoming.put(Closed(None, "no close frame"))

    def send(self, event: dict[str, Any]) -> None:
        if self.dead:
            raise Closed(None, "no close frame")
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
            assert event == {"type": "tool.result", "call_id": "c1", "result": "42",
                             "is_error": False}
            sock.push({"type": "reply.started", "reply_id": "r2"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    sock = FakeSocket(log, server)
    # A reply that only calls a tool is not an answer: "reply" waits for the second.
    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"),
                       tools={"lookup": ToolAnswer("lookup", text="42")})
    runner = LiveSession(plan, Listener(), opener=lambda *a, **k: sock)
    result = runner.run()
    assert result.outcome == "done" and result.report["totals"]["replies"] == 1
    assert log.index("push reply.done") < log.index("send tool.result")
    assert log[-2:] == ["send session.end", "push session.ended"]


def test_resume_after_a_drop_marks_it_and_resends_nothing_but_resume():
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"})
            sock.die()
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


def opener_for(server, sockets: list[FakeSocket], log: list[str]):
    def opener(*args: Any, **kwargs: Any) -> FakeSocket:
        sockets.append(FakeSocket(log, server))
        return sockets[-1]

    return opener


def test_a_resume_whose_socket_dies_before_ready_is_retried_and_counted_as_one():
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"})
            sock.die()
        elif kind == "session.resume" and len(sockets) == 2:
            sock.die()  # the service took the resume, but its session.ready never came
        elif kind == "session.resume":
            sock.push({"type": "session.ready", "session_id": "s1"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    listener = Listener()
    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"))
    result = LiveSession(plan, listener, opener=opener_for(server, sockets, log)).run()
    assert result.outcome == "done" and len(sockets) == 3
    assert [line for line in log if line.startswith("send")] == [
        "send session.update", "send session.resume", "send session.resume",
        "send session.end"]
    (resumed,) = [e for e in listener.events if e["type"] == "client.resumed"]
    assert resumed["attempts"] == 2
    totals = result.report["totals"]
    # one outage, one marker; two session.resume (what the service counts); two sockets lost
    assert (totals["resumes"], totals["resume_attempts"], totals["connections_lost"],
            totals["reconnects_before_ready"]) == (1, 2, 2, 0)


def test_a_socket_lost_before_ready_is_a_fresh_start_not_a_resume():
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update" and len(sockets) == 1:
            sock.die()
        elif kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s2"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    listener = Listener()
    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"))
    result = LiveSession(plan, listener, opener=opener_for(server, sockets, log)).run()
    assert result.outcome == "done" and result.session_id == "s2"
    assert [line for line in log if line.startswith("send")] == [
        "send session.update", "send session.update", "send session.end"]
    assert not [e for e in listener.events if e["type"] == "client.resumed"]
    assert any("dropped before session.ready" in w for w in listener.warnings)
    totals = result.report["totals"]
    assert (totals["resumes"], totals["resume_attempts"], totals["connections_lost"],
            totals["reconnects_before_ready"]) == (0, 0, 0, 1)


def numbered_chunks(count: int, chunk: int = 4800) -> bytes:
    """`count` 100 ms chunks at 24 kHz, each filled with its own number (to spot repeats)."""
    return b"".join(array("h", [i + 1] * (chunk // 2)).tobytes() for i in range(count))


def test_audio_across_a_drop_is_sent_once_in_order_and_continues():
    log: list[str] = []
    sockets: list[FakeSocket] = []
    pcm = numbered_chunks(12)
    trailing = 2 * 24000 * 200 // 1000
    heard: list[tuple[int, bytes]] = []  # (socket number, audio) as the service got it

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        number = sockets.index(sock) + 1
        if kind in ("session.update", "session.resume"):
            sock.push({"type": "session.ready", "session_id": "s1"})
        elif kind == "input.audio":
            heard.append((number, base64.b64decode(event["audio"])))
            if number == 1 and len(heard) == 5:
                sock.die()  # the fifth chunk arrived; the sixth finds the socket gone
            if sum(len(a) for _, a in heard) == len(pcm) + trailing:
                sock.push({"type": "input.speech.started"},
                          {"type": "reply.started", "reply_id": "r1"},
                          {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"), source=BufferSource(pcm, 24000),
                       speed=1000.0, trailing_silence_ms=200, timeout=20)
    result = LiveSession(plan, Listener(), opener=opener_for(server, sockets, log)).run()
    assert result.outcome == "done" and result.report["totals"]["resumes"] == 1
    assert [n for n, _ in heard[:6]] == [1, 1, 1, 1, 1, 2]  # the sixth went on the new one
    assert b"".join(a for _, a in heard) == pcm + bytes(trailing)  # each chunk once, in order
    assert result.report["totals"]["audio_sent_s"] == pytest.approx(
        (len(pcm) + trailing) / 2 / 24000)


def test_a_reply_cut_by_a_drop_stays_in_progress_until_its_end_comes_after_the_resume():
    log: list[str] = []
    sockets: list[FakeSocket] = []
    runner: LiveSession | None = None

    class Resuming(Listener):
        def event(self, event: dict[str, Any]) -> None:
            super().event(event)
            if event["type"] == "client.resumed":  # the service now sends what it kept
                sockets[-1].push({"type": "reply.audio", "data": "AAAA"},
                                 {"type": "reply.done", "status": "completed"})
            if event["type"] == "reply.done":
                log.append("handled reply.done")

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "tool.call", "call_id": "c1", "name": "lookup",
                       "arguments": {}})

            def drop_once_answered() -> None:  # the answer is ready, the reply is not over
                wait_for(lambda: runner is not None and runner.tool_results, "the tool")
                sock.die()

            threading.Thread(target=drop_once_answered, daemon=True).start()
        elif kind == "session.resume":
            sock.push({"type": "session.ready", "session_id": "s1"})
        elif kind == "tool.result":
            sock.push({"type": "reply.started", "reply_id": "r2"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("2-replies"),
                       tools={"lookup": ToolAnswer("lookup", text="42")})
    runner = LiveSession(plan, Resuming(), opener=opener_for(server, sockets, log))
    result = runner.run()
    assert result.outcome == "done" and result.report["totals"]["resumes"] == 1
    # not sent at the resume: only once the cut reply's own end arrived
    assert log.index("handled reply.done") < log.index("send tool.result")
    assert [t["status"] for t in result.report["turns"]] == ["completed", "completed"]


def test_no_speech_in_a_finite_input_ends_early(monkeypatch):
    monkeypatch.setattr(runner_module, "NO_SPEECH_GRACE_MIN", 0.05)
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        if event["type"] == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"})
        elif event["type"] == "session.end":
            sock.push({"type": "session.ended"})

    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"), source=BufferSource(bytes(9600), 24000),
                       speed=1000.0, trailing_silence_ms=200, timeout=5)
    result = LiveSession(plan, Listener(), opener=opener_for(server, sockets, log)).run()
    assert result.outcome == "no_speech" and result.report["outcome"] == "no_speech"
    assert log[-2:] == ["send session.end", "push session.ended"]
    assert "send input.audio" in log  # all of it went out first


def test_the_input_audio_stops_before_session_end(monkeypatch):
    # Audio after session.end would reach a service that is closing its end (it resets
    # the connection, which can wipe session.ended). The service here never answers the
    # end, so the client waits END_WAIT while the input (paced in real time) still has
    # seconds to go.
    monkeypatch.setattr(runner_module, "END_WAIT", 0.3)
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        if event["type"] == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"})
        elif event["type"] == "input.audio" and "speech" not in log:
            log.append("speech")
            sock.push({"type": "input.speech.started"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "reply.done", "status": "completed"})

    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       until=Until.parse("reply"), source=BufferSource(bytes(480000), 24000),
                       timeout=10)
    result = LiveSession(plan, Listener(), opener=opener_for(server, sockets, log)).run()
    assert result.outcome == "done"
    assert "send input.audio" not in log[log.index("send session.end"):]


def test_after_a_resume_a_greeting_that_never_finishes_does_not_hold_the_input(monkeypatch):
    # A service that does not send what it said meanwhile: the greeting's end never comes.
    monkeypatch.setattr(runner_module, "RESUME_QUIET", 0.05)
    log: list[str] = []
    sockets: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            sock.push({"type": "session.ready", "session_id": "s1"},
                      {"type": "reply.started", "reply_id": "g1"})
            sock.die()
        elif kind == "session.resume":
            sock.push({"type": "session.ready", "session_id": "s1"})
        elif kind == "input.audio" and "speech" not in log:
            log.append("speech")
            sock.push({"type": "input.speech.started"}, {"type": "input.speech.stopped"},
                      {"type": "reply.started", "reply_id": "r1"},
                      {"type": "reply.done", "status": "completed"})
        elif kind == "session.end":
            sock.push({"type": "session.ended"})

    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"},
                       has_greeting=True, until=Until.parse("reply"),
                       source=BufferSource(bytes(9600), 24000), speed=1000.0,
                       trailing_silence_ms=100, timeout=10)
    result = LiveSession(plan, Listener(), opener=opener_for(server, sockets, log)).run()
    assert result.outcome == "done"


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


@pytest.mark.parametrize(("reason", "exit_code"), [("unauthorized", 4), ("agent_not_found", 5),
                                                    ("invalid_config", 6)])
def test_a_refusal_whose_error_event_was_lost_is_read_from_the_close_reason(reason, exit_code):
    """The service closes with 1008 and the code as reason; a close that overtakes the
    session.error still says which refusal it was (not a drop to reconnect after)."""
    log: list[str] = []
    opened: list[FakeSocket] = []

    def server(sock: FakeSocket, event: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent on a refused socket")

    class Refused(FakeSocket):
        def send(self, event: dict[str, Any]) -> None:
            raise Closed(1008, reason)

        def recv(self, timeout: float | None) -> dict[str, Any] | None:
            raise Closed(1008, reason)

    def opener(*args: Any, **kwargs: Any) -> FakeSocket:
        opened.append(Refused(log, server))
        return opened[-1]

    plan = SessionPlan(url="ws://x/v1/ws", api_key="k", session={"agent_id": "a"})
    with pytest.raises(Exception) as caught:
        LiveSession(plan, Listener(), opener=opener).run()
    assert caught.value.exit_code == exit_code and f"({reason})" in caught.value.message
    assert len(opened) == 1  # refused, not reconnected
