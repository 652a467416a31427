"""The emulator's `/v1/ws` at the protocol level (reference §15), with the websockets
client directly: every event and field, every error code the emulator can send."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from array import array
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from agentctl import g711
from agentctl import protocol as P
from agentctl.emulator import server
from tests.session.wavgen import utterances

KEY = "live-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SPEECH = utterances(("s", 0.3), ("t", 1.0), ("s", 1.2))  # one turn, ended by silence
INLINE = {"system_prompt": "You help."}
HEX32 = r"[0-9a-f]{32}"
PACE = 50.0


def start(tmp_path: Path, **live: Any) -> server.RunningEmulator:
    options = {"speed": PACE, **live}
    allow = options.pop("allow_loopback_tools", False)
    keys = options.pop("api_keys", None)
    return server.start(port=0, db_path=tmp_path / "db.sqlite3", live=options,
                        allow_loopback_tools=allow, api_keys=keys)


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[server.RunningEmulator]:
    running = start(tmp_path)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


@pytest.fixture
def make(tmp_path: Path):
    """An emulator with these live options, stopped (and checked) after the test."""
    made: list[server.RunningEmulator] = []

    def _make(**live: Any) -> server.RunningEmulator:
        directory = tmp_path / f"emu{len(made)}"
        directory.mkdir()
        made.append(start(directory, **live))
        return made[-1]

    yield _make
    for running in made:
        running.stop()
        assert running.errors == []


def ws(emulator: server.RunningEmulator, *, headers: dict[str, str] | None = AUTH,
       query: str = "") -> ClientConnection:
    return connect(emulator.ws_url + query, additional_headers=headers, proxy=None,
                   open_timeout=10, close_timeout=2)


def send(conn: ClientConnection, kind: str, **fields: Any) -> None:
    conn.send(json.dumps({"type": kind, **fields}))


def audio(conn: ClientConnection, pcm: bytes, chunk: int = 4800, *, speed: float = PACE / 2,
          encode=lambda b: b, rate: int = 24000) -> None:
    """Stream `pcm` (PCM16) at `speed` times real time, under the emulator's rate guard."""
    start = time.monotonic()
    sent = 0.0
    for i in range(0, len(pcm), chunk):
        piece = pcm[i:i + chunk]
        delay = start + sent / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send(conn, "input.audio", audio=base64.b64encode(encode(piece)).decode())
        sent += len(piece) / 2 / rate


def recv(conn: ClientConnection) -> dict[str, Any]:
    return json.loads(conn.recv(timeout=10))


def until(conn: ClientConnection, kind: str, *, keep_audio: bool = False,
          **match: Any) -> list[dict[str, Any]]:
    """Events up to and including the first `kind` (matching `match`); audio dropped."""
    seen = []
    while True:
        event = recv(conn)
        if keep_audio or event["type"] != "reply.audio":
            seen.append(event)
        if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
            return seen


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def without(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] != kind]


def bind(conn: ClientConnection, session: dict[str, Any] | None = None) -> dict[str, Any]:
    """session.update -> session.updated -> session.ready; returns the ready event."""
    send(conn, "session.update", session=session or INLINE)
    updated = recv(conn)
    assert updated["type"] == "session.updated", updated
    ready = recv(conn)
    assert ready["type"] == "session.ready", ready
    assert updated["config"] == ready["config"]
    return ready


def closed_with(conn: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            conn.recv(timeout=5)
    return info.value.rcvd.code if info.value.rcvd is not None else None


def expect_error(conn: ClientConnection, code: str, *, param: Any = ..., words: str = "",
                 close: int | None = None) -> dict[str, Any]:
    error = recv(conn)
    assert (error["type"], error["code"]) == ("session.error", code), error
    assert code in P.ERROR_CODES and isinstance(error["timestamp"], float)
    assert words in error["message"], error
    if param is not ...:
        assert error["param"] == param, error
    if close is not None:
        assert closed_with(conn) == close
    return error


def live_service(emulator: server.RunningEmulator):
    return emulator.app.state.live


# -- auth (§2, §15.8): always upgraded, refused in-band --------------------------------
@pytest.mark.parametrize("headers", [{"Authorization": "Bearer "}, None,
                                     {"Authorization": "two words"}])
def test_a_missing_or_bad_key_is_unauthorized_then_closed_1008(emu, headers):
    with ws(emu, headers=headers) as conn:
        error = expect_error(conn, "unauthorized", param=None, words="Authentication failed",
                             close=1008)
        assert "session_id" not in error
    assert {r["status"] for r in emu.requests if r["path"] == "/v1/ws"} <= {101, None}


def test_a_key_outside_the_accepted_list_is_refused(make):
    running = make(api_keys=["only-this"])
    with ws(running) as conn:
        expect_error(conn, "unauthorized", close=1008)
    with ws(running, headers={"Authorization": "only-this"}) as conn:  # raw key, no Bearer
        bind(conn)


def test_a_temporary_token_works_once(emu):
    token = httpx.get(emu.base_url + "/v1/token", params={"expires_in_seconds": 60},
                      headers={"Authorization": KEY}).json()["token"]
    with ws(emu, headers=None, query=f"?token={token}") as conn:
        bind(conn)
    with ws(emu, headers=None, query=f"?token={token}") as conn:  # reused
        expect_error(conn, "unauthorized", words="already used", close=1008)
    with ws(emu, headers=None, query="?token=made-up") as conn:
        expect_error(conn, "unauthorized", close=1008)


# -- binding -------------------------------------------------------------------------------
@pytest.mark.parametrize(("session", "code", "param", "words"), [
    ({"agent_id": "agent_0123", "system_prompt": "x"}, "invalid_config", "session.agent_id",
     "cannot be combined"),
    ({"agent_id": "7ad24396-b822-4dca-871a-be9cc4781cf9"}, "agent_not_found",
     "session.agent_id", "no agent"),
    ({}, "invalid_config", "session", "non-empty"),
    ({"greeting": "Hi"}, "invalid_config", "session.system_prompt", "field required"),
    ({"system_prompt": "x", "name": "n"}, "invalid_config", "session.name", "unknown field"),
    ({"system_prompt": "x", "input": {"turn_detection": {"vad_threshold": 3}}},
     "invalid_config", "session.input.turn_detection.vad_threshold", "between"),
    ({"system_prompt": "x", "tools": [{"name": "t", "http": {"url": "http://127.0.0.1/x"}}]},
     "invalid_config", "session.tools[0].http.url", "must be an https URL"),
    ({"system_prompt": "x", "input": {"format": {"encoding": "audio/opus"}}},
     "invalid_format", "session.input.format.encoding", "unsupported"),
    ({"system_prompt": "x", "output": {"format": {"encoding": "audio/pcm",
                                                  "sample_rate": 16000}}},
     "invalid_format", "session.output.format.sample_rate", "24000 Hz only"),
    ({"system_prompt": "x", "input": {"format": {"encoding": "audio/pcmu",
                                                 "sample_rate": 24000}}},
     "invalid_format", "session.input.format.sample_rate", "8000 Hz only"),
    ({"system_prompt": "x", "webhook": {"url": "https://hooks.example.com/h"}},
     "invalid_webhook", "session.webhook.events", "non-empty list"),
    ({"system_prompt": "x", "webhook": {"url": "http://hooks.example.com/h",
                                        "events": ["session.completed"]}},
     "invalid_webhook", "session.webhook.url", "https"),
    ({"system_prompt": "x", "webhook": {"url": "https://hooks.example.com/h",
                                        "events": ["session.completed"], "secret": "short"}},
     "invalid_webhook", "session.webhook.secret", "32"),
    ({"system_prompt": "x", "pre_connect_requests": [{}, {}, {}]}, "invalid_config",
     "session.pre_connect_requests", "at most 2"),
])
def test_a_bad_first_session_update_is_an_error_then_close_1008(emu, session, code, param,
                                                                words):
    with ws(emu) as conn:
        send(conn, "session.update", session=session)
        expect_error(conn, code, param=param, words=words, close=1008)
    assert live_service(emu).history == []


def test_before_ready_other_messages_are_invalid_values_and_the_socket_stays(emu):
    with ws(emu) as conn:
        send(conn, "input.audio", audio=base64.b64encode(SPEECH[:4800]).decode())
        expect_error(conn, "invalid_value", param="type", words="send session.update first")
        send(conn, "reply.create", instructions="hi")
        expect_error(conn, "invalid_value", words="reply.create before session.ready")
        conn.send("not json")
        expect_error(conn, "invalid_value", words="JSON object")
        conn.send(b"\x00\x01")
        expect_error(conn, "invalid_value", words="binary frames")
        bind(conn)


def test_concurrency_exceeded(make):
    running = make(max_sessions=1)
    with ws(running) as first:
        bind(first)
        with ws(running) as second:
            send(second, "session.update", session=INLINE)
            expect_error(second, "concurrency_exceeded", close=1008)


# -- what session.ready says (§15.1, §15.3, §15.4) -----------------------------------------
def test_updated_then_ready_with_the_config_echo_ids_and_token(emu):
    session = {
        "system_prompt": "x", "greeting": None,
        "input": {"keyterms": ["agentctl"]},
        "tools": [
            {"name": "lookup", "description": "Look up.", "parameters": {"type": "object"}},
            {"name": "weather", "description": "Weather.", "timeout_seconds": 5,
             "http": {"url": "https://api.example.com/w", "http_method": "GET",
                      "headers": [{"name": "Authorization", "value": "Bearer tool-secret"}]}},
        ],
        "llm": [{"base_url": "https://llm.example.com/v1", "model": "m1",
                 "api_key": "llm-secret"}],
        "pre_connect_requests": [{"http": {"url": "https://crm.example.com/pre",
                                           "headers": [{"name": "X", "value": "pre-secret"}]}}],
        "webhook": {"url": "https://hooks.example.com/h", "events": ["session.completed"],
                    "secret": "s" * 32},
    }
    before = time.time()
    with ws(emu) as conn:
        send(conn, "session.update", session=session)
        updated, ready = recv(conn), recv(conn)
    assert (updated["type"], ready["type"]) == ("session.updated", "session.ready")
    assert set(ready) == {"type", "session_id", "config", "expires_at", "resume_token",
                          "timestamp"}
    assert re.fullmatch(f"sess_{HEX32}", ready["session_id"])
    assert isinstance(ready["expires_at"], int)
    assert ready["expires_at"] == pytest.approx(before + 3594, abs=5)
    assert isinstance(ready["resume_token"], str) and ready["resume_token"]
    assert before <= updated["timestamp"] <= ready["timestamp"] <= time.time()
    config = ready["config"]
    assert config == updated["config"]
    assert config["id"] == ready["session_id"] and config["system_prompt"] == "x"
    assert set(config) == {"id", "system_prompt", "greeting", "input", "output", "tools",
                           "llm", "pre_connect_requests"}
    assert set(config["input"]) == {"type", "format", "keyterms", "transcription_prompt",
                                    "transcription_mode", "language_codes", "voice_focus",
                                    "voice_focus_threshold", "continuous_partials",
                                    "turn_detection"}
    assert config["input"]["keyterms"] == ["agentctl"]
    assert config["input"]["transcription_prompt"] is None
    assert config["output"] == {"type": "audio", "voice": "alba", "volume": 100,
                                "format": {"encoding": "audio/pcm", "sample_rate": 24000}}
    client_tool, http_tool = config["tools"]
    assert client_tool["type"] == "function" and client_tool["http"] is None
    assert client_tool["timeout_seconds"] == 120.0
    assert http_tool["timeout_seconds"] == 5.0 and isinstance(http_tool["timeout_seconds"], float)
    assert http_tool["http"] == {"url": "https://api.example.com/w", "method": "GET",
                                 "headers_ciphertext": "", "headers_encrypted_data_key": "",
                                 "headers_kms_key_id": ""}
    assert config["llm"] == [{"base_url": "https://llm.example.com/v1", "model": "m1",
                              "api_key_ciphertext": "", "api_key_encrypted_data_key": "",
                              "api_key_kms_key_id": "", "reasoning_effort": None}]
    (pre,) = config["pre_connect_requests"]
    assert pre["on_failure"] == "continue" and pre["http"]["headers_ciphertext"] == ""
    text = json.dumps([updated, ready])
    for secret in ("tool-secret", "llm-secret", "pre-secret", "s" * 32):
        assert secret not in text


def test_a_stored_agent_binds_with_its_voice_in_the_echo(emu):
    created = httpx.post(emu.base_url + "/v1/agents", headers={"Authorization": KEY}, json={
        "name": "a", "system_prompt": "p", "voice": {"voice_id": "ivy"}}).json()
    with ws(emu) as conn:
        ready = bind(conn, {"agent_id": created["id"]})
    assert ready["config"]["output"]["voice"] == "ivy"
    assert ready["config"]["pre_connect_requests"] == [] and ready["config"]["llm"] == []


# -- a conversation -------------------------------------------------------------------------
def test_a_turn_in_the_documented_order_with_every_field(emu):
    with ws(emu) as conn:
        bind(conn, {"system_prompt": "x", "greeting": "Hello there!"})
        greeting = until(conn, "reply.done")
        assert types(without(greeting, "transcript.agent.delta")) == [
            "reply.started", "transcript.agent", "reply.done"]
        deltas = [e for e in greeting if e["type"] == "transcript.agent.delta"]
        assert [d["delta"] for d in deltas] == ["Hello", " there!"]
        audio(conn, SPEECH)
        turn = until(conn, "reply.done", keep_audio=True)
        send(conn, "session.end")
        ended = recv(conn)
        assert closed_with(conn) == 1000
    kinds = types(turn)
    spoken = [k for k in kinds if k not in ("reply.audio", "transcript.agent.delta")]
    assert spoken == [
        "input.speech.started", "transcript.user.delta", "transcript.user.delta",
        "input.speech.stopped", "transcript.user", "reply.started", "transcript.agent",
        "reply.done",
    ]
    by = {k: [e for e in turn if e["type"] == k] for k in set(kinds)}
    assert all(isinstance(e["timestamp"], float) for e in turn)
    # transcript.user.delta: the whole utterance so far, one item id through the turn.
    user_item = by["transcript.user"][0]["item_id"]
    assert re.fullmatch(f"msg_{HEX32}", user_item)
    assert {d["item_id"] for d in by["transcript.user.delta"]} == {user_item}
    assert [d["text"] for d in by["transcript.user.delta"]] == [
        "[0.5 seconds of speech]", "[1.0 seconds of speech]"]
    assert by["transcript.user"][0]["text"] == "[1.0 seconds of speech]"
    started = by["reply.started"][0]
    reply_id, item_id = started["reply_id"], started["item_id"]
    assert re.fullmatch(f"resp_{HEX32}", reply_id) and re.fullmatch(f"msg_{HEX32}", item_id)
    assert item_id != user_item
    assert {e["reply_id"] for e in by["reply.audio"]} == {reply_id}
    # transcript.agent.delta: one word each, interleaved with the audio, timed from the
    # reply's start at 60 ms a character.
    deltas = by["transcript.agent.delta"]
    assert "".join(d["delta"] for d in deltas) == "I heard 1.0 seconds of speech."
    assert [(d["delta"], d["start_ms"], d["end_ms"]) for d in deltas[:3]] == [
        ("I", 0, 60), (" heard", 120, 420), (" 1.0", 480, 660)]
    assert all((d["reply_id"], d["item_id"]) == (reply_id, item_id) for d in deltas)
    assert kinds.index("transcript.agent.delta") < len(kinds) - 1 - kinds[::-1].index(
        "reply.audio")  # not all after the audio
    final = by["transcript.agent"][0]
    assert (final["reply_id"], final["item_id"], final["interrupted"]) == (reply_id, item_id,
                                                                           False)
    assert final["text"] == "I heard 1.0 seconds of speech."
    assert by["reply.done"][0] == {"type": "reply.done", "reply_id": reply_id,
                                   "status": "completed",
                                   "timestamp": by["reply.done"][0]["timestamp"]}
    assert ended["type"] == "session.ended"
    assert set(ended) == {"type", "session_duration_seconds", "audio_duration_seconds",
                          "timestamp"}
    assert ended["audio_duration_seconds"] is None
    assert 0 < ended["session_duration_seconds"] < 30
    (session,) = live_service(emu).history
    assert session.end_reason == "client" and live_service(emu).sessions == {}
    log = session.log
    assert [t["trigger"] for t in log.turns] == ["greeting", "user"]
    assert log.turns[1]["user_text"] == "[1.0 seconds of speech]"
    assert log.turns[1]["agent_text"] == "I heard 1.0 seconds of speech."
    assert log.end_reason == "client" and len(log.audio_in) == len(SPEECH)


def test_reply_audio_is_pcm16_of_the_replys_length(emu):
    with ws(emu) as conn:
        bind(conn)
        send(conn, "reply.create", instructions="Say this.")  # 9 characters -> 540 ms
        events = until(conn, "reply.done", keep_audio=True)
    pcm = b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "reply.audio")
    assert len(pcm) == 2 * 24000 * 540 // 1000
    assert [e["text"] for e in events if e["type"] == "transcript.agent"] == ["Say this."]


@pytest.mark.parametrize("encoding", ["audio/pcmu", "audio/pcma"])
def test_telephony_audio_both_ways(emu, encoding):
    fmt = {"encoding": encoding, "sample_rate": 8000}
    with ws(emu) as conn:
        ready = bind(conn, {"system_prompt": "x", "input": {"format": fmt},
                            "output": {"format": fmt}})
        assert ready["config"]["output"]["format"] == fmt
        speech8k = utterances(("s", 0.3), ("t", 1.0), ("s", 1.2), rate=8000)
        audio(conn, speech8k, chunk=1600, rate=8000,
              encode=lambda pcm: g711.encode(pcm, encoding))
        events = until(conn, "reply.done", keep_audio=True)
    assert [e["text"] for e in events if e["type"] == "transcript.user"] == [
        "[1.0 seconds of speech]"]  # heard through the codec
    data = b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "reply.audio")
    assert len(data) == 8000 * 30 * 60 // 1000  # one byte a sample, 8 kHz, 1.8 s
    pcm = array("h", g711.decode(data, encoding))
    assert max(abs(s) for s in pcm) > 3000  # a voice, not noise from a wrong codec


def test_input_and_output_encodings_are_independent(emu):
    with ws(emu) as conn:
        bind(conn, {"system_prompt": "x",
                    "output": {"format": {"encoding": "audio/pcmu"}}})
        audio(conn, SPEECH)  # PCM 24 kHz in
        events = until(conn, "reply.done", keep_audio=True)
    data = b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "reply.audio")
    assert len(data) == 8000 * 30 * 60 // 1000


def test_undecodable_audio_is_invalid_audio(emu):
    with ws(emu) as conn:
        ready = bind(conn)
        send(conn, "input.audio", audio="not base64!")
        error = expect_error(conn, "invalid_audio", param="audio")
        assert error["session_id"] == ready["session_id"]
        send(conn, "input.audio", audio=base64.b64encode(b"\x00\x01\x02").decode())
        expect_error(conn, "invalid_audio", words="even number of bytes")
        send(conn, "what.is.this")
        expect_error(conn, "invalid_value", param="type", words="unknown event type")
        send(conn, "session.resume", session_id=ready["session_id"])
        expect_error(conn, "invalid_value", words="first message")


def test_barge_in_interrupts_the_reply_and_trims_its_transcript(make):
    running = make(speed=1.0)  # a reply plays for seconds: time to barge in
    with ws(running) as conn:
        bind(conn, {"system_prompt": "x", "greeting": "A rather long greeting. " * 4})
        assert recv(conn)["type"] == "reply.started"
        audio(conn, SPEECH[: 2 * 24000], speed=1.0)  # speech starts 0.3 s in
        events = until(conn, "reply.done")
    kinds = types(events)
    assert kinds[-2:] == ["transcript.agent", "reply.done"]
    assert kinds.index("input.speech.started") < kinds.index("transcript.agent")
    assert events[-2]["interrupted"] is True and events[-1]["status"] == "interrupted"
    heard = events[-2]["text"]
    assert heard and ("A rather long greeting. " * 4).startswith(heard)
    assert len(heard) < len("A rather long greeting. " * 4) - 10


def test_no_barge_in_when_interrupt_response_is_false(make):
    running = make(speed=1.0)
    with ws(running) as conn:
        bind(conn, {"system_prompt": "x", "greeting": "Hello there, friend.",
                    "input": {"turn_detection": {"interrupt_response": False}}})
        assert recv(conn)["type"] == "reply.started"
        audio(conn, SPEECH[: 2 * 24000], speed=1.0)
        events = until(conn, "reply.done")
    assert events[-1]["status"] == "completed"
    assert "input.speech.started" in types(events)


def test_reply_cancel(make):
    running = make(speed=1.0)
    with ws(running) as conn:
        bind(conn)
        send(conn, "reply.create", instructions="A long answer that will be cut. " * 3)
        started = recv(conn)
        send(conn, "reply.cancel", reply_id=started["reply_id"])
        events = until(conn, "reply.done")
        assert events[-1] == {**events[-1], "reply_id": started["reply_id"],
                              "status": "cancelled"}
        assert events[-2]["interrupted"] is True
        send(conn, "reply.cancel", reply_id=started["reply_id"])  # over: nothing to do
        send(conn, "reply.cancel", reply_id="resp_nope")
        expect_error(conn, "invalid_value", param="reply_id")


def test_reply_create_during_the_greeting_replaces_it(make):
    running = make(speed=1.0)
    with ws(running) as conn:
        bind(conn, {"system_prompt": "x", "greeting": "A long greeting to skip. " * 3})
        greeting = recv(conn)
        send(conn, "reply.create", instructions="Straight to it.")
        first = until(conn, "reply.done")
        second = until(conn, "reply.done")
    assert first[-1]["reply_id"] == greeting["reply_id"]
    assert first[-1]["status"] == "cancelled"
    assert second[-2]["text"] == "Straight to it."


def test_conversation_message(emu):
    with ws(emu) as conn:
        bind(conn)
        send(conn, "conversation.message", role="system", content="Be brief.")
        send(conn, "conversation.message", role="user", content="What is agentctl?")
        events = until(conn, "reply.done")
        assert events[0]["type"] == "reply.started"  # no speech events for a text message
        assert events[-2]["text"] == "You said: What is agentctl?"
        send(conn, "conversation.message", role="assistant", content="x")
        expect_error(conn, "invalid_value", param="role")
        send(conn, "conversation.message", role="user", content="")
        expect_error(conn, "invalid_value", param="content")
    (session,) = live_service(emu).history
    assert [m["role"] for m in session.log.messages] == ["system", "user"]
    assert session.log.turns[0]["trigger"] == "conversation_message"


# -- session.update after ready (§15.6) ---------------------------------------------------
def test_session_update_mid_session(emu):
    with ws(emu) as conn:
        bind(conn, {"system_prompt": "x", "greeting": "Hi."})
        until(conn, "reply.done")
        send(conn, "session.update", session={"input": {"turn_detection": {"min_silence": 200}},
                                              "output": {"volume": 10},
                                              "system_prompt": "y", "greeting": "Hi."})
        updated = recv(conn)
        assert updated["type"] == "session.updated"
        assert updated["config"]["output"]["volume"] == 10
        assert updated["config"]["system_prompt"] == "y"
        assert updated["config"]["input"]["turn_detection"]["min_silence"] == 200
        # 300 ms of silence now ends the turn (1.0 s would have been needed before).
        audio(conn, utterances(("t", 0.5), ("s", 0.3)))
        events = until(conn, "transcript.user")
        assert events[-1]["text"] == "[0.5 seconds of speech]"


@pytest.mark.parametrize(("change", "code", "param"), [
    ({"greeting": "Another."}, "immutable_field", "session.greeting"),
    ({"output": {"voice": "james"}}, "immutable_field", "session.output.voice"),
    ({"output": {"format": {"encoding": "audio/pcmu"}}}, "immutable_field",
     "session.output.format"),
    ({"output": {"type": "text"}}, "immutable_field", "session.output.type"),
    ({"agent_id": "agent_x"}, "agent_id_not_first", "session.agent_id"),
    ({"voice": {"voice_id": "ivy"}}, "invalid_config", "session.voice"),
    ({"tools": "nope"}, "invalid_config", "session.tools"),
    ({"webhook": {"url": "https://h.example.com", "events": ["nope"]}}, "invalid_webhook",
     "session.webhook.events"),
])
def test_a_refused_mid_session_update_leaves_the_session_as_it_was(emu, change, code, param):
    with ws(emu) as conn:
        ready = bind(conn, {"system_prompt": "x", "greeting": "Hi."})
        until(conn, "reply.done")
        send(conn, "session.update", session=change)
        error = expect_error(conn, code, param=param)
        assert error["session_id"] == ready["session_id"]
        send(conn, "reply.create", instructions="Still here.")
        assert until(conn, "transcript.agent")[-1]["text"] == "Still here."
    (session,) = live_service(emu).history
    assert session.config["greeting"] == "Hi." and "voice" not in session.config["output"]


# -- tools ---------------------------------------------------------------------------------
TOOL_SCRIPT = {"turns": [{"user": "Look it up.",
                          "tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}],
                          "reply": "The answer is {result}."}]}


def test_a_client_tool_call_is_its_own_reply_then_waits_for_the_result(make):
    running = make(script=TOOL_SCRIPT)
    with ws(running) as conn:
        bind(conn, {"system_prompt": "x", "tools": [{"name": "lookup"}]})
        audio(conn, SPEECH)
        events = until(conn, "reply.done")
        assert types(events)[-4:] == ["transcript.user", "reply.started", "tool.call",
                                      "reply.done"]
        call = events[-2]
        assert call["name"] == "lookup" and call["arguments"] == {"q": "x"}
        assert re.fullmatch(f"call_{HEX32}", call["call_id"])
        send(conn, "tool.result", call_id="nope", result="x")
        expect_error(conn, "invalid_value", param="call_id")
        send(conn, "tool.result", call_id=call["call_id"], result={"v": 42})
        expect_error(conn, "invalid_value", param="result", words="must be a string")
        send(conn, "tool.result", call_id=call["call_id"], result='{"v": 42}', is_error=True)
        events = until(conn, "reply.done")
        assert events[0]["type"] == "reply.started"
        assert events[0]["reply_id"] != call["call_id"]
        assert [e["text"] for e in events if e["type"] == "transcript.agent"] == [
            'The answer is {"v": 42}.']
    (session,) = live_service(running).history
    (record,) = session.tool_calls
    assert record["result"] == '{"v": 42}' and record["is_error"] is True
    assert [t["trigger"] for t in session.log.turns] == ["user", "tool_result"]


def test_an_unanswered_tool_call_times_out_into_the_reply(make):
    running = make(script=TOOL_SCRIPT)
    with ws(running) as conn:
        bind(conn, {"system_prompt": "x", "tools": [{"name": "lookup", "timeout_seconds": 1}]})
        audio(conn, SPEECH)
        until(conn, "tool.call")
        began = time.monotonic()
        events = until(conn, "transcript.agent")
    # The wait is real time (the speed factor shortens speech, not the client's work).
    assert time.monotonic() - began >= 0.9
    assert "no result from lookup within 1 s" in events[-1]["text"]


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


def test_an_http_tool_is_called_by_the_emulator_and_its_tool_call_is_a_notice(make):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    script = {"turns": [{"user": "Weather?", "tool_calls": [
        {"name": "weather", "arguments": {"lat": 48.8, "city": "Paris"}}],
        "reply": "Weather: {result}"}]}
    running = make(script=script, allow_loopback_tools=True)
    try:
        tool = {"name": "weather", "http": {
            "url": f"http://127.0.0.1:{httpd.server_port}/w?units=c", "http_method": "GET",
            "headers": [{"name": "Authorization", "value": "Bearer tool-secret"}]}}
        with ws(running) as conn:
            bind(conn, {"system_prompt": "x", "tools": [tool]})
            audio(conn, SPEECH)
            events = until(conn, "transcript.agent")
            assert "tool.call" in types(events)  # a notice: nobody answers it
            assert events[-1]["text"] == 'Weather: {"temp": 21}'
        (request,) = _Recorder.seen
        assert request["path"] == "/w?units=c&lat=48.8&city=Paris"
        assert request["auth"] == "Bearer tool-secret"
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- reply.error (through a script) --------------------------------------------------------
def test_a_scripted_reply_error_and_its_retry_with_reply_create(make):
    error = {"code": "llm_provider_error", "message": "The provider timed out.",
             "retryable": True, "status_code": 504}
    running = make(script={"turns": [{"user": "Hi", "reply": "Hello!", "reply_error": error}]})
    with ws(running) as conn:
        bind(conn)
        audio(conn, SPEECH)
        events = until(conn, "reply.done")
        started, failure, done = events[-3:]
        assert started["type"] == "reply.started"
        assert failure == {"type": "reply.error", "reply_id": started["reply_id"], **error,
                           "timestamp": failure["timestamp"]}
        assert (done["reply_id"], done["status"]) == (started["reply_id"], "failed")
        send(conn, "reply.create")
        retried = until(conn, "reply.done")
    assert retried[-2]["text"] == "Hello!" and retried[-1]["status"] == "completed"
    (session,) = live_service(running).history
    assert [t["trigger"] for t in session.log.turns] == ["user", "retry"]


# -- resume (§15.7, §15.8) ---------------------------------------------------------------
def test_resume_with_the_api_key(emu):
    with ws(emu) as conn:
        first = bind(conn)
    with ws(emu) as conn:
        send(conn, "session.resume", session_id=first["session_id"])
        ready = recv(conn)
        assert ready["type"] == "session.ready" and ready["session_id"] == first["session_id"]
        assert ready["resume_token"] != first["resume_token"]  # a new one per ready
        assert ready["config"] == first["config"]
        audio(conn, SPEECH)
        events = until(conn, "reply.done")
        assert events[0]["type"] == "input.speech.started"  # nothing was said meanwhile
    (session,) = live_service(emu).history
    assert session.resumes == 1 and session.connections == 2


def test_resume_with_the_resume_token_once(emu):
    with ws(emu) as conn:
        first = bind(conn)
    token = {"Authorization": f"Bearer {first['resume_token']}"}
    with ws(emu, headers=token) as conn:
        send(conn, "session.resume", session_id=first["session_id"])
        second = recv(conn)
        assert second["type"] == "session.ready"
    with ws(emu, headers=token) as conn:  # spent
        expect_error(conn, "unauthorized", words="already used", close=1008)
    with ws(emu, headers={"Authorization": f"Bearer {second['resume_token']}"}) as conn:
        send(conn, "session.update", session=INLINE)  # a resume token only resumes
        expect_error(conn, "session_forbidden", close=1008)
    with ws(emu) as conn:  # and that token was spent by the refused attempt too
        send(conn, "session.resume", session_id=first["session_id"])
        third = recv(conn)
    with ws(emu, headers={"Authorization": f"Bearer {third['resume_token']}"}) as conn:
        send(conn, "session.resume", session_id="sess_" + "0" * 32)
        expect_error(conn, "session_not_found", param="session_id", close=1008)


def test_resume_is_refused_to_another_key_and_for_another_sessions_token(emu):
    with ws(emu) as one, ws(emu) as two:
        first, second = bind(one), bind(two)
    with ws(emu, headers={"Authorization": "another-key"}) as conn:
        send(conn, "session.resume", session_id=first["session_id"])
        expect_error(conn, "session_forbidden", words="another key", close=1008)
    with ws(emu, headers={"Authorization": f"Bearer {second['resume_token']}"}) as conn:
        send(conn, "session.resume", session_id=first["session_id"])
        expect_error(conn, "session_forbidden", words="another session", close=1008)


def test_resume_after_the_window_is_session_expired(make):
    running = make(resume_window=0.2)
    with ws(running) as conn:
        session_id = bind(conn)["session_id"]
    (session,) = live_service(running).history
    wait_until(lambda: session.ended, "the session to expire")
    assert session.end_reason == "expired"
    with ws(running) as conn:
        send(conn, "session.resume", session_id=session_id)
        expect_error(conn, "session_expired", param="session_id", close=1008)


def test_an_ended_session_cannot_be_resumed(emu):
    with ws(emu) as conn:
        session_id = bind(conn)["session_id"]
        send(conn, "session.end")
        assert recv(conn)["type"] == "session.ended"
    with ws(emu) as conn:
        send(conn, "session.resume", session_id=session_id)
        expect_error(conn, "session_not_found", close=1008)


def test_the_drop_hook_closes_the_first_socket_after_n_events(make):
    running = make(drop_after_events=2)
    with ws(running) as conn:
        session_id = bind(conn)["session_id"]
        assert closed_with(conn) == 1011
    with ws(running) as conn:  # the second socket is not dropped
        send(conn, "session.resume", session_id=session_id)
        assert recv(conn)["type"] == "session.ready"
        audio(conn, SPEECH)
        assert until(conn, "reply.done")[-1]["status"] == "completed"


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def drop_after_ready_and_reply_started(running: server.RunningEmulator, greeting: str):
    """Bind with a greeting on a socket the hook drops after session.updated,
    session.ready and reply.started; -> (session id, the emulator's session)."""
    with ws(running) as conn:
        session_id = bind(conn, {"system_prompt": "x", "greeting": greeting})["session_id"]
        assert recv(conn)["type"] == "reply.started"
        assert closed_with(conn) == 1011
    (session,) = live_service(running).history
    return session_id, session


def reply_pcm(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "reply.audio")


def test_what_a_detached_session_says_comes_after_the_resumes_ready_in_order(make):
    from agentctl.emulator.speech import synthesize

    running = make(drop_after_events=3)
    session_id, session = drop_after_ready_and_reply_started(running, "Hello!")
    # The greeting went on without a socket; wait for the agent to finish it.
    wait_until(lambda: session.backlog and session.backlog[-1]["type"] == "reply.done",
               "the greeting to end")
    with ws(running) as conn:
        send(conn, "session.resume", session_id=session_id)
        ready = recv(conn)
        assert (ready["type"], ready["session_id"]) == ("session.ready", session_id)
        kept = until(conn, "reply.done", keep_audio=True)
        assert types(kept) == ["reply.audio", "transcript.agent.delta"] + [
            "reply.audio"] * 3 + ["transcript.agent", "reply.done"]
        assert reply_pcm(kept) == b"".join(synthesize("Hello!", 24000))  # all, once
        assert kept[-2]["text"] == "Hello!" and kept[-1]["status"] == "completed"
        audio(conn, SPEECH)  # and the session carries on live
        assert until(conn, "reply.done")[0]["type"] == "input.speech.started"
    assert session.replayed == 7 and not session.backlog


def test_a_resume_in_the_middle_of_a_reply_gets_the_rest_of_it_once_in_order(make):
    from agentctl.emulator.speech import synthesize

    greeting = "A rather long greeting, spoken slowly. " * 2
    running = make(drop_after_events=3, speed=5.0)  # ~0.9 s of speaking
    session_id, _ = drop_after_ready_and_reply_started(running, greeting)
    with ws(running) as conn:  # at once: some of it was kept, the rest comes live
        send(conn, "session.resume", session_id=session_id)
        assert recv(conn)["type"] == "session.ready"
        rest = until(conn, "reply.done", keep_audio=True)
    assert types(rest)[-2:] == ["transcript.agent", "reply.done"]
    assert set(types(rest)[:-2]) == {"reply.audio", "transcript.agent.delta"}
    assert reply_pcm(rest) == b"".join(synthesize(greeting, 24000))
    assert rest[-2]["interrupted"] is False


def test_what_a_detached_session_keeps_is_bounded_silently(make):
    running = make(drop_after_events=3, resume_buffer=3)
    session_id, session = drop_after_ready_and_reply_started(running, "Hello!")
    wait_until(lambda: session.backlog and session.backlog[-1]["type"] == "reply.done",
               "the greeting to end")
    assert len(session.backlog) == 3 and session.backlog_lost == 4
    with ws(running) as conn:
        send(conn, "session.resume", session_id=session_id)
        assert recv(conn)["type"] == "session.ready"
        # No invented notice: the oldest are simply gone (the emulator's own bound).
        assert types(until(conn, "reply.done", keep_audio=True)) == [
            "reply.audio", "transcript.agent", "reply.done"]


# -- the rate guard (§15.9) --------------------------------------------------------------
def test_audio_faster_than_real_time_is_an_audio_rate_violation(make):
    running = make(speed=1.0)
    with ws(running) as conn:
        ready = bind(conn)
        audio(conn, SPEECH[: 2 * 24000 * 2], speed=1.0)  # 2 s at real time: fine
        audio(conn, SPEECH[: 2 * 24000 * 3], speed=1000.0)  # 3 s more at once: not
        events = until(conn, "session.error")
        error = events[-1]
        assert (error["code"], error["session_id"]) == ("audio_rate_violation",
                                                        ready["session_id"])
        assert "slow down" in error["message"]
        assert closed_with(conn) == 1008
    (session,) = live_service(running).history
    assert session.end_reason == "audio_rate_violation"


def test_the_rate_guard_scales_with_the_speed_factor_and_can_be_off(make):
    for options in ({"speed": 50.0}, {"speed": 1.0, "rate_guard": False}):
        running = make(**options)
        with ws(running) as conn:
            bind(conn)
            audio(conn, SPEECH, speed=25.0)
            assert until(conn, "reply.done")[-1]["status"] == "completed"
    running = make(speed=2.0)  # 2 s of real time ahead of twice real time: 4 s of audio
    with ws(running) as conn:
        bind(conn)
        audio(conn, utterances(("s", 5.0)), speed=1000.0)
        assert until(conn, "session.error")[-1]["code"] == "audio_rate_violation"


# -- internal_error, and the catalogue -----------------------------------------------------
def test_a_failing_turn_is_an_internal_error_and_the_session_goes_on(emu, monkeypatch):
    from agentctl.emulator import live

    def broken(*args: Any, **kwargs: Any):
        raise RuntimeError("boom")

    with ws(emu) as conn:
        bind(conn)
        monkeypatch.setattr(live, "synthesize", broken)
        send(conn, "reply.create", instructions="x")
        events = until(conn, "session.error")
        assert events[-1]["code"] == "internal_error" and "boom" not in events[-1]["message"]
        monkeypatch.undo()
        send(conn, "reply.create", instructions="Fine again.")
        assert until(conn, "transcript.agent")[-1]["text"] == "Fine again."
    assert [str(e) for e in emu.errors] == ["boom"]
    emu.errors.clear()


# Each code the emulator can send has a test above; at_capacity (a service-wide limit) is
# the catalogue's only code it never sends.
TESTED_CODES = {
    "agent_id_not_first", "agent_not_found", "audio_rate_violation", "concurrency_exceeded",
    "immutable_field", "internal_error", "invalid_audio", "invalid_config", "invalid_format",
    "invalid_value", "invalid_webhook", "session_expired", "session_forbidden",
    "session_not_found", "unauthorized",
}


def test_the_emulator_sends_catalogue_codes_only_and_each_is_tested():
    source = (Path(P.__file__).parent / "emulator" / "live.py").read_text()
    used = {getattr(P, name) for name in re.findall(r"SessionError\(\s*P\.([A-Z_]+)", source)}
    assert used <= P.ERROR_CODES
    assert used == TESTED_CODES
    assert P.ERROR_CODES - used == {"at_capacity"}
