"""The emulator's `/v1/ws` at the protocol level, with the websockets client directly."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from agentctl.emulator import server
from tests.session.wavgen import utterances

KEY = "live-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SPEECH = utterances(("s", 0.3), ("t", 1.0), ("s", 1.2))  # one turn, ended by silence
INLINE = {"system_prompt": "You help."}


def start(tmp_path: Path, **live: Any) -> server.RunningEmulator:
    options = {"speed": 50.0, **live}
    allow = options.pop("allow_loopback_tools", False)
    return server.start(port=0, db_path=tmp_path / "db.sqlite3", live=options,
                        allow_loopback_tools=allow)


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[server.RunningEmulator]:
    running = start(tmp_path)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def ws(emulator: server.RunningEmulator, *, headers: dict[str, str] | None = AUTH,
       query: str = "") -> ClientConnection:
    return connect(emulator.ws_url + query, additional_headers=headers, proxy=None,
                   open_timeout=10, close_timeout=2)


def send(conn: ClientConnection, kind: str, **fields: Any) -> None:
    conn.send(json.dumps({"type": kind, **fields}))


def audio(conn: ClientConnection, pcm: bytes, chunk: int = 4800) -> None:
    for i in range(0, len(pcm), chunk):
        send(conn, "input.audio", audio=base64.b64encode(pcm[i:i + chunk]).decode())


def recv(conn: ClientConnection) -> dict[str, Any]:
    return json.loads(conn.recv(timeout=10))


def until(conn: ClientConnection, kind: str, **match: Any) -> list[dict[str, Any]]:
    """Events up to and including the first `kind` (matching `match`); audio dropped."""
    seen = []
    while True:
        event = recv(conn)
        if event["type"] != "reply.audio":
            seen.append(event)
        if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
            return seen


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def bind(conn: ClientConnection, session: dict[str, Any] | None = None) -> str:
    send(conn, "session.update", session=session or INLINE)
    ready = recv(conn)
    assert ready["type"] == "session.ready", ready
    return ready["session_id"]


def live_service(emulator: server.RunningEmulator):
    return emulator.app.state.live


# -- auth and binding ------------------------------------------------------------------
def test_bad_or_missing_auth_is_refused_with_401(emu):
    for headers in ({"Authorization": "Bearer "}, None):
        with pytest.raises(InvalidStatus) as info:
            ws(emu, headers=headers)
        assert info.value.response.status_code == 401
    assert {r["status"] for r in emu.requests if r["path"] == "/v1/ws"} == {401}


def test_a_key_outside_the_accepted_list_is_refused(tmp_path):
    running = server.start(port=0, db_path=tmp_path / "db.sqlite3", api_keys=["only-this"])
    try:
        with pytest.raises(InvalidStatus):
            ws(running)
        with ws(running, headers={"Authorization": "Bearer only-this"}) as conn:
            bind(conn)
    finally:
        running.stop()


def test_a_token_works_once(emu):
    token = httpx.get(emu.base_url + "/v1/token", params={"expires_in_seconds": 60},
                      headers={"Authorization": KEY}).json()["token"]
    with ws(emu, headers=None, query=f"?token={token}") as conn:
        bind(conn)
    with pytest.raises(InvalidStatus) as info:
        ws(emu, headers=None, query=f"?token={token}")
    assert info.value.response.status_code == 401


@pytest.mark.parametrize(("session", "code", "words"), [
    ({"agent_id": "7ad24396-b822-4dca-871a-be9cc4781cf9", "system_prompt": "x"},
     "invalid_session", "cannot be combined"),
    ({"agent_id": "7ad24396-b822-4dca-871a-be9cc4781cf9"}, "agent_not_found", "no agent"),
    ({}, "invalid_session", "needs agent_id or inline"),
    ({"greeting": "Hi"}, "invalid_session", "system_prompt: field required"),
    ({"system_prompt": "x", "name": "n"}, "invalid_session", "session.name: unknown field"),
    ({"system_prompt": "x", "input": {"turn_detection": {"vad_threshold": 3}}},
     "invalid_session", "input.turn_detection.vad_threshold"),
    ({"system_prompt": "x", "tools": [{"name": "t", "description": "d",
                                         "http": {"url": "http://127.0.0.1/x"}}]},
     "invalid_session", "tools[0].http.url: must be an https URL"),
])
def test_a_bad_session_update_gets_session_error_then_close(emu, session, code, words):
    with ws(emu) as conn:
        send(conn, "session.update", session=session)
        error = recv(conn)
        assert error["type"] == "session.error" and error["code"] == code, error
        assert words in error["message"]
        with pytest.raises(ConnectionClosed) as info:
            conn.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008


def test_audio_before_ready_is_an_error_and_the_socket_stays_usable(emu):
    with ws(emu) as conn:
        audio(conn, SPEECH[:4800])
        error = recv(conn)
        assert (error["type"], error["code"]) == ("session.error", "session_not_ready")
        send(conn, "reply.create", instructions="hi")
        assert recv(conn)["code"] == "session_not_ready"
        conn.send("not json")
        assert recv(conn)["code"] == "invalid_message"
        bind(conn)


# -- a conversation --------------------------------------------------------------------
def test_a_turn_in_the_documented_order(emu):
    with ws(emu) as conn:
        bind(conn, {"system_prompt": "x", "greeting": "Hello!"})
        greeting = until(conn, "reply.done")
        assert types(greeting) == ["reply.started", "transcript.agent", "reply.done"]
        assert greeting[1]["text"] == "Hello!" and greeting[1]["interrupted"] is False
        audio(conn, SPEECH)
        turn = until(conn, "reply.done")
        assert types(turn) == [
            "input.speech.started", "transcript.user.delta", "transcript.user.delta",
            "input.speech.stopped", "transcript.user", "reply.started", "transcript.agent",
            "reply.done",
        ]
        assert turn[4]["text"] == "[1.0 seconds of speech]"
        assert turn[6]["text"] == "I heard 1.0 seconds of speech."
        assert turn[6]["reply_id"] == turn[5]["reply_id"]
        assert turn[7]["status"] == "completed"
        send(conn, "session.end")
        assert recv(conn)["type"] == "session.ended"
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=5)
    (session,) = live_service(emu).history
    assert session.end_reason == "client" and live_service(emu).sessions == {}


def test_reply_audio_is_pcm16_of_the_replys_length(emu):
    with ws(emu) as conn:
        bind(conn)
        send(conn, "reply.create", instructions="Say this.")  # 9 characters -> 540 ms
        pcm = b""
        while True:
            event = recv(conn)
            if event["type"] == "reply.audio":
                pcm += base64.b64decode(event["data"])
            if event["type"] == "transcript.agent":
                assert event["text"] == "Say this."
            if event["type"] == "reply.done":
                break
        assert len(pcm) == 2 * 24000 * 540 // 1000


def test_barge_in_interrupts_the_reply(tmp_path):
    running = start(tmp_path, speed=1.0)  # a reply plays for seconds: time to barge in
    try:
        with ws(running) as conn:
            bind(conn, {"system_prompt": "x", "greeting": "A rather long greeting. " * 4})
            assert recv(conn)["type"] == "reply.started"
            audio(conn, SPEECH[: 2 * 24000])  # speech starts 0.3 s in
            events = until(conn, "reply.done")
            kinds = types(events)
            assert kinds[-2:] == ["transcript.agent", "reply.done"]
            assert kinds.index("input.speech.started") < kinds.index("transcript.agent")
            assert events[-2]["interrupted"] is True
            assert events[-1]["status"] == "interrupted"
    finally:
        running.stop()


def test_no_barge_in_when_interrupt_response_is_false(tmp_path):
    running = start(tmp_path, speed=1.0)
    try:
        with ws(running) as conn:
            bind(conn, {"system_prompt": "x", "greeting": "Hello there, friend.",
                        "input": {"turn_detection": {"interrupt_response": False}}})
            assert recv(conn)["type"] == "reply.started"
            audio(conn, SPEECH[: 2 * 24000])
            events = until(conn, "reply.done")
            assert events[-1]["status"] == "completed"
            assert "input.speech.started" in types(events)
    finally:
        running.stop()


def test_session_update_mid_session(emu):
    with ws(emu) as conn:
        bind(conn)
        send(conn, "session.update",
             session={"input": {"turn_detection": {"min_silence": 200}}})
        assert recv(conn)["type"] == "session.updated"
        send(conn, "session.update", session={"output": {"volume": 10}})
        assert recv(conn)["code"] == "invalid_session"
        # 300 ms of silence now ends the turn (1.0 s would have been needed before).
        audio(conn, utterances(("t", 0.5), ("s", 0.3)))
        events = until(conn, "transcript.user")
        assert events[-1]["text"] == "[0.5 seconds of speech]"


# -- tools -----------------------------------------------------------------------------
TOOL_SCRIPT = {"turns": [{"user": "Look it up.",
                          "tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}],
                          "reply": "The answer is {result}."}]}


def test_a_client_tool_call_waits_for_its_result(tmp_path):
    running = start(tmp_path, script=TOOL_SCRIPT)
    try:
        with ws(running) as conn:
            bind(conn, {"system_prompt": "x", "tools": [{"name": "lookup", "description": "d"}]})
            audio(conn, SPEECH)
            events = until(conn, "tool.call")
            call = events[-1]
            assert call["name"] == "lookup" and call["arguments"] == {"q": "x"}
            assert types(events)[-2] == "transcript.user"
            send(conn, "tool.result", call_id="nope", result="x")
            assert recv(conn)["code"] == "unknown_call_id"
            send(conn, "tool.result", call_id=call["call_id"], result='{"v": 42}')
            events = until(conn, "reply.done")
            assert events[-2]["text"] == 'The answer is {"v": 42}.'
    finally:
        running.stop()


def test_an_unanswered_tool_call_times_out_into_the_reply(tmp_path):
    running = start(tmp_path, script=TOOL_SCRIPT, speed=100.0)
    try:
        with ws(running) as conn:
            bind(conn, {"system_prompt": "x",
                        "tools": [{"name": "lookup", "description": "d",
                                    "timeout_seconds": 5}]})
            audio(conn, SPEECH)
            until(conn, "tool.call")
            events = until(conn, "reply.done")  # 5 s at speed 100: 50 ms
            assert "no result from lookup within 5 s" in events[-2]["text"]
    finally:
        running.stop()


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
        body = b'{"temp": 21}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_http_tool_is_called_by_the_emulator(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    script = {"turns": [{"user": "Weather?", "tool_calls": [
        {"name": "weather", "arguments": {"lat": 48.8, "city": "Paris"}}],
        "reply": "Weather: {result}"}]}
    running = start(tmp_path, script=script, allow_loopback_tools=True)
    try:
        tool = {"name": "weather", "description": "d", "http": {
            "url": f"http://127.0.0.1:{httpd.server_port}/w?units=c", "http_method": "GET",
            "headers": [{"name": "Authorization", "value": "Bearer tool-secret"}]}}
        with ws(running) as conn:
            bind(conn, {"system_prompt": "x", "tools": [tool]})
            audio(conn, SPEECH)
            events = until(conn, "reply.done")
            assert "tool.call" not in types(events)  # the service calls HTTP tools itself
            assert events[-2]["text"] == 'Weather: {"temp": 21}'
        (request,) = _Recorder.seen
        assert request["path"] == "/w?units=c&lat=48.8&city=Paris"
        assert request["auth"] == "Bearer tool-secret"
    finally:
        running.stop()
        httpd.shutdown()
        httpd.server_close()


# -- resume ----------------------------------------------------------------------------
def test_resume_continues_the_session(emu):
    with ws(emu) as conn:
        session_id = bind(conn)
    service = live_service(emu)
    with ws(emu) as conn:
        send(conn, "session.resume", session_id=session_id)
        assert recv(conn) == {"type": "session.ready", "session_id": session_id}
        audio(conn, SPEECH)
        events = until(conn, "reply.done")
        assert events[0]["type"] == "input.speech.started"  # nothing was said meanwhile
    (session,) = service.history
    assert session.resumes == 1 and session.connections == 2


def test_resume_after_the_window_is_refused(tmp_path):
    running = start(tmp_path, resume_window=0.2)
    try:
        with ws(running) as conn:
            session_id = bind(conn)
        (session,) = live_service(running).history
        deadline = time.monotonic() + 10
        while not session.ended and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.end_reason == "expired"
        with ws(running) as conn:
            send(conn, "session.resume", session_id=session_id)
            error = recv(conn)
            assert (error["type"], error["code"]) == ("session.error", "session_not_found")
    finally:
        running.stop()


def test_the_drop_hook_closes_the_first_socket_after_n_events(tmp_path):
    running = start(tmp_path, drop_after_events=1)
    try:
        with ws(running) as conn:
            session_id = bind(conn)
            with pytest.raises(ConnectionClosed) as info:
                conn.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1011
        with ws(running) as conn:  # the second socket is not dropped
            send(conn, "session.resume", session_id=session_id)
            assert recv(conn)["type"] == "session.ready"
            audio(conn, SPEECH)
            assert until(conn, "reply.done")[-1]["status"] == "completed"
    finally:
        running.stop()


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def drop_after_ready_and_reply_started(running: server.RunningEmulator, greeting: str):
    """Bind with a greeting on a socket the hook drops after session.ready and
    reply.started; -> (session id, the emulator's session)."""
    with ws(running) as conn:
        session_id = bind(conn, {"system_prompt": "x", "greeting": greeting})
        assert recv(conn)["type"] == "reply.started"
        with pytest.raises(ConnectionClosed):
            conn.recv(timeout=5)
    (session,) = live_service(running).history
    return session_id, session


def reply_pcm(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "reply.audio")


def until_with_audio(conn: ClientConnection, kind: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        seen.append(recv(conn))
        if seen[-1]["type"] == kind:
            return seen


def test_what_a_detached_session_says_comes_after_the_resumes_ready_in_order(tmp_path):
    from agentctl.emulator.speech import synthesize

    running = start(tmp_path, drop_after_events=2)
    try:
        session_id, session = drop_after_ready_and_reply_started(running, "Hello!")
        # The greeting went on without a socket; wait for the agent to finish it.
        wait_until(lambda: session.backlog and session.backlog[-1]["type"] == "reply.done",
                   "the greeting to end")
        with ws(running) as conn:
            send(conn, "session.resume", session_id=session_id)
            assert recv(conn) == {"type": "session.ready", "session_id": session_id}
            kept = until_with_audio(conn, "reply.done")
            assert types(kept) == ["reply.audio"] * 4 + ["transcript.agent", "reply.done"]
            assert reply_pcm(kept) == b"".join(synthesize("Hello!", 24000))  # all, once
            assert kept[-2]["text"] == "Hello!" and kept[-1]["status"] == "completed"
            audio(conn, SPEECH)  # and the session carries on live
            assert until(conn, "reply.done")[0]["type"] == "input.speech.started"
        assert session.replayed == 6 and not session.backlog
    finally:
        running.stop()
    assert running.errors == []


def test_a_resume_in_the_middle_of_a_reply_gets_the_rest_of_it_once_in_order(tmp_path):
    from agentctl.emulator.speech import synthesize

    greeting = "A rather long greeting, spoken slowly. " * 2
    running = start(tmp_path, drop_after_events=2, speed=5.0)  # ~0.9 s of speaking
    try:
        session_id, _ = drop_after_ready_and_reply_started(running, greeting)
        with ws(running) as conn:  # at once: some of it was kept, the rest comes live
            send(conn, "session.resume", session_id=session_id)
            assert recv(conn)["type"] == "session.ready"
            rest = until_with_audio(conn, "reply.done")
        assert types(rest)[-2:] == ["transcript.agent", "reply.done"]
        assert set(types(rest)[:-2]) == {"reply.audio"}
        assert reply_pcm(rest) == b"".join(synthesize(greeting, 24000))
        assert rest[-2]["interrupted"] is False
    finally:
        running.stop()
    assert running.errors == []


def test_what_a_detached_session_keeps_is_bounded_and_the_resume_says_so(tmp_path):
    running = start(tmp_path, drop_after_events=2, resume_buffer=3)
    try:
        session_id, session = drop_after_ready_and_reply_started(running, "Hello!")
        wait_until(lambda: session.backlog and session.backlog[-1]["type"] == "reply.done",
                   "the greeting to end")
        assert len(session.backlog) == 3 and session.backlog_lost == 3
        with ws(running) as conn:
            send(conn, "session.resume", session_id=session_id)
            assert recv(conn)["type"] == "session.ready"
            notice = recv(conn)
            assert (notice["type"], notice["code"]) == ("session.error", "events_lost")
            assert notice["message"].startswith("3 event(s) sent while disconnected")
            assert types(until_with_audio(conn, "reply.done")) == [
                "reply.audio", "transcript.agent", "reply.done"]
    finally:
        running.stop()
    assert running.errors == []
