"""The emulator's live session: the Voice Agent WebSocket at `/v1/ws` (reference §15).

What the service does, as the reference's E: rules give it:

- Auth (§2, §15.8): the upgrade is always accepted; a missing or refused credential is
  then a `session.error` `unauthorized` and close 1008 (never an HTTP 401). Credentials:
  `Authorization: <key>` or `Bearer <key>`, `?token=` from `GET /v1/token` (single use),
  or `Bearer <resume_token>` (single use, resumes its own session only).
- Order (§15.1): `session.update` -> `session.updated{config}` -> `session.ready{session_id,
  config, expires_at, resume_token}`; a greeting then starts with no user audio. Per user
  turn: `input.speech.started`, `transcript.user.delta` (the whole utterance so far, same
  `item_id`), `input.speech.stopped`, `transcript.user`, `reply.started{reply_id, item_id}`,
  `reply.audio` with `transcript.agent.delta` word by word (`start_ms`/`end_ms` from the
  reply's start), `transcript.agent`, `reply.done{reply_id, status}`. Every event carries
  `timestamp` (float Unix seconds); ids are `sess_`/`resp_`/`msg_` + 32 hex.
- Client tools: `reply.started`, `tool.call`, `reply.done`, then the client's `tool.result`
  (string `result`, `is_error`) starts the next reply. HTTP tools are called by the
  emulator; their `tool.call` is a notice only.
- `session.update` takes `agent_id` alone or the inline fields (`protocol.INLINE_FIELDS`:
  `llm`, `pre_connect_requests`, `webhook` included, nothing else). After ready, greeting
  and output voice/format/type are `immutable_field`; volume, prompt, tools may change.
- `session.error` codes come from the catalogue only (`protocol.ERROR_CODES`), with
  `message`, `param` (null when no field is at fault) and `session_id` once there is one.
  Terminal ones close the socket with 1008; `session.end` -> `session.ended
  {session_duration_seconds, audio_duration_seconds: null}` -> close 1000.
- Resume (§15.7): `session.resume{session_id}` as the first message of a new socket within
  30 s, with the API key or the session's `resume_token`; a new token per `ready`.
- Rate guard (§15.9): input audio more than 2 s ahead of real time ends the session with
  `audio_rate_violation` (with a speed factor, 2 s of real time ahead of `speed` times
  real time).
- Audio (§7.9): `audio/pcm` 24 kHz, `audio/pcmu` / `audio/pcma` 8 kHz, input and output
  independent; speech detection runs on the decoded samples.

The emulator's own choices (the reference does not settle them; docs/live-sessions.md
lists them): the scripted agent (`script.py`) and its synthetic voice; what a detached
session says is kept (at most `resume_buffer` events, the oldest dropped) and sent after
the resume's `session.ready`; the speed factor runs the agent's speech and the rate guard
faster; `reply.cancel` ends a reply with status `cancelled`; `invalid_value` answers
messages the catalogue has no code for (not JSON, unknown type, audio before ready, an
unknown `call_id`); a session that outlived its window answers a resume with
`session_expired`, an unknown or ended one with `session_not_found`.

Test hooks (`LiveOptions`): `speed`, `resume_window`, `resume_buffer`, `rate_guard`,
`max_sessions`, and `drop_after_events=N`, which closes the first bound socket (code 1011,
no `session.ended`) once it has sent N events (0: before `session.ready`), once.
`LiveService.history` keeps the newest sessions (emulator/limits.py); `Session.log`
(`SessionLog`) is what happened in one: turns, transcripts, tool calls, audio both ways,
timings, the close reason. `Session.recorder` feeds the Sessions API (emulator/sessions.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from agentctl import g711
from agentctl import protocol as P
from agentctl.emulator.limits import MAX_SESSION_HISTORY, append_bounded
from agentctl.emulator.plumbing import EmulatorState, deep_merge, key_from_authorization
from agentctl.emulator.script import Script, ToolCallStep, load_script, parse_script, render
from agentctl.emulator.speech import (
    CHUNK_MS,
    SpeechDetector,
    synthesize,
    word_timings,
)
from agentctl.emulator.tokens import ResumeTokens
from agentctl.record import DEFAULT_INPUT, DEFAULT_OUTPUT
from agentctl.spec.rules import check_agent, format_path

log = logging.getLogger("agentctl.emulator.live")

RESUME_BUFFER = 1000  # events a detached session keeps (a 20 s reply is 200 audio chunks)
DEFAULT_TOOL_TIMEOUT = 120.0  # the reference's default timeout_seconds
TOOL_RESPONSE_CAP = 8 * 1024
CLOSE_DROPPED = 1011
EXPIRES_AFTER = 3594  # session.ready.expires_at: connect + ~3594 s whatever the cap (probe)
DEFAULT_VOICE = "alba"  # the probe's echo for an inline session without a voice (inferred)
MAX_RECORDED_SECONDS = 600.0  # audio kept per direction in a SessionLog
INPUT_ECHO_KEYS = ("type", "format", "keyterms", "transcription_prompt", "transcription_mode",
                   "language_codes", "voice_focus", "voice_focus_threshold",
                   "continuous_partials", "turn_detection")
WEBHOOK_EVENTS = ("session.started", "session.completed", "call.connected", "call.ended",
                  "call.failed")
MESSAGE_REPLY = "You said: {user}"  # the unscripted answer to a conversation.message


@dataclass
class LiveOptions:
    """How the live side behaves; `create_app(live=...)` takes this or a dict of it."""

    script: Script = field(default_factory=Script)
    speed: float | None = None  # None: the script's (1.0 by default)
    resume_window: float = P.RESUME_WINDOW
    resume_buffer: int = RESUME_BUFFER
    drop_after_events: int | None = None
    rate_guard: bool = True
    max_sessions: int | None = None  # more at once: concurrency_exceeded

    @classmethod
    def coerce(cls, value: LiveOptions | Mapping[str, Any] | None) -> LiveOptions:
        if value is None:
            return cls()
        if isinstance(value, LiveOptions):
            return value
        options = dict(value)
        script = options.pop("script", None)
        loaded = load_script(script) if isinstance(script, str | Path) else parse_script(script)
        return cls(script=loaded, **options)

    @property
    def pace(self) -> float:
        return float(self.speed if self.speed is not None else self.script.speed)


class SessionError(Exception):
    """A `session.error` to send: a catalogue code, a message, the field at fault."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        assert code in P.ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param

    def event(self, session_id: str | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {"type": P.SESSION_ERROR, "code": self.code,
                                 "message": self.message, "param": self.param}
        if session_id is not None:
            event["session_id"] = session_id
        return event


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


# -- the socket --------------------------------------------------------------------------


class Connection:
    """One accepted WebSocket; sends are serialised; a failed send marks it closed."""

    def __init__(self, ws: WebSocket, drop_after: int | None = None) -> None:
        self.ws = ws
        self.open = True
        self.sent = 0
        self.drop_after = drop_after
        self._lock = asyncio.Lock()

    async def send(self, event: dict[str, Any]) -> bool:
        event.setdefault("timestamp", time.time())
        async with self._lock:
            if not self.open:
                return False
            if self.drop_after == 0:
                await self.close(CLOSE_DROPPED, "connection dropped (test hook)")
                return False
            try:
                await self.ws.send_text(json.dumps(event))
            except Exception:  # the peer went away mid-send
                self.open = False
                return False
            self.sent += 1
            if self.drop_after is not None and self.sent >= self.drop_after:
                self.drop_after = None
                await self.close(CLOSE_DROPPED, "connection dropped (test hook)")
        return True

    async def close(self, code: int = P.CLOSE_NORMAL, reason: str = "") -> None:
        if not self.open:
            return
        self.open = False
        with contextlib.suppress(Exception):  # already closed by the peer
            await self.ws.close(code, reason)


# -- session configuration ---------------------------------------------------------------


def _problem_error(problems: list[Any]) -> SessionError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    where = f"session.{format_path(first.path)}"
    return SessionError(P.INVALID_CONFIG, f"{where}: {first.message}{more}", where)


def check_session(body: Any, *, allow_loopback: bool) -> None:
    """A `session.update`'s `session` (agent_id aside): SessionError if it is refused."""
    if not isinstance(body, dict) or not body:
        raise SessionError(P.INVALID_CONFIG, "session.update needs a non-empty `session` "
                           "object", "session")
    for key in body:
        if key not in P.INLINE_FIELDS:
            raise SessionError(P.INVALID_CONFIG, f"session.{key}: unknown field (expected "
                               f"agent_id, or inline {', '.join(P.INLINE_FIELDS)})",
                               f"session.{key}")
    for section in ("input", "output"):
        fmt = body.get(section, {}).get("format") if isinstance(body.get(section), dict) else None
        if fmt is not None:
            _check_format(fmt, f"session.{section}.format")
    if "webhook" in body:
        _check_webhook(body["webhook"], allow_loopback)
    if "pre_connect_requests" in body:
        _check_pre_connect(body["pre_connect_requests"])
    # The agent rules know the rest; the format was checked above (invalid_format).
    checked = {k: copy.deepcopy(v) for k, v in body.items()
               if k in ("system_prompt", "greeting", "input", "output", "tools", "llm")}
    for section in ("input", "output"):
        if isinstance(checked.get(section), dict):
            checked[section].pop("format", None)
            if section == "output" and isinstance(checked[section].get("volume"), float):
                checked[section]["volume"] = round(checked[section]["volume"])  # 0-100 number
    problems = check_agent(checked, partial=True, allow_loopback_urls=allow_loopback)
    if problems:
        raise _problem_error(problems)


def _check_format(fmt: Any, where: str) -> None:
    if not isinstance(fmt, dict):
        raise SessionError(P.INVALID_FORMAT, f"{where}: must be an object "
                           "({encoding, sample_rate})", where)
    encoding = fmt.get("encoding", P.DEFAULT_ENCODING)
    if encoding not in P.ENCODING_RATES:
        raise SessionError(P.INVALID_FORMAT, f"{where}.encoding: unsupported {encoding!r} "
                           f"(expected one of {', '.join(P.ENCODING_RATES)})",
                           f"{where}.encoding")
    rate = fmt.get("sample_rate")
    if rate is not None and rate != P.ENCODING_RATES[encoding]:
        raise SessionError(P.INVALID_FORMAT, f"{where}.sample_rate: {encoding} takes "
                           f"{P.ENCODING_RATES[encoding]} Hz only, not {rate!r}",
                           f"{where}.sample_rate")


def _check_webhook(hook: Any, allow_loopback: bool) -> None:
    where = "session.webhook"
    if not isinstance(hook, dict):
        raise SessionError(P.INVALID_WEBHOOK, f"{where}: must be an object (url, events, "
                           "secret)", where)
    for key in hook:
        if key not in P.WEBHOOK_FIELDS:
            raise SessionError(P.INVALID_WEBHOOK, f"{where}.{key}: unknown field (expected "
                               f"{', '.join(P.WEBHOOK_FIELDS)})", f"{where}.{key}")
    problems = check_agent({"llm": [{"model": "m", "base_url": hook.get("url")}]},
                           partial=True, allow_loopback_urls=allow_loopback)
    if not isinstance(hook.get("url"), str) or problems:
        reason = problems[0].message if problems else "field required"
        raise SessionError(P.INVALID_WEBHOOK, f"{where}.url: {reason}", f"{where}.url")
    events = hook.get("events")
    if (not isinstance(events, list) or not events or len(set(map(str, events))) != len(events)
            or any(e not in WEBHOOK_EVENTS for e in events)):
        raise SessionError(P.INVALID_WEBHOOK, f"{where}.events: a non-empty list of distinct "
                           f"events from {', '.join(WEBHOOK_EVENTS)}", f"{where}.events")
    secret = hook.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 32):
        raise SessionError(P.INVALID_WEBHOOK, f"{where}.secret: at least 32 characters",
                           f"{where}.secret")


def _check_pre_connect(entries: Any) -> None:
    where = "session.pre_connect_requests"
    if not isinstance(entries, list) or len(entries) > 2:
        raise SessionError(P.INVALID_CONFIG, f"{where}: a list of at most 2 requests", where)
    for i, entry in enumerate(entries):
        http = entry.get("http") if isinstance(entry, dict) else None
        if not isinstance(http, dict) or not isinstance(http.get("url"), str):
            raise SessionError(P.INVALID_CONFIG, f"{where}[{i}].http.url: field required",
                               f"{where}[{i}].http.url")


def session_config(body: Any, state: EmulatorState, *, allow_loopback: bool) -> dict[str, Any]:
    """The first `session.update`'s `session` -> the session's configuration."""
    if isinstance(body, dict) and "agent_id" in body:
        inline = [k for k in body if k != "agent_id"]
        if inline:
            raise SessionError(P.INVALID_CONFIG, "session.agent_id cannot be combined with "
                               f"inline fields ({', '.join(inline)}): send one or the other",
                               "session.agent_id")
        agent_id = body["agent_id"]
        record = state.store.get_agent(agent_id) if isinstance(agent_id, str) else None
        if record is None:
            raise SessionError(P.AGENT_NOT_FOUND, f"no agent with id {agent_id!r}",
                               "session.agent_id")
        config = {k: copy.deepcopy(record[k]) for k in P.INLINE_FIELDS if k in record}
        config["agent_id"] = agent_id
        config["name"] = record.get("name")
        voice = record.get("voice")
        if isinstance(voice, dict) and isinstance(voice.get("voice_id"), str):
            config.setdefault("output", {})
            config["output"] = {**(config["output"] or {})}
            config["output"].setdefault("voice", voice["voice_id"])
    else:
        check_session(body, allow_loopback=allow_loopback)
        if "system_prompt" not in body:
            raise SessionError(P.INVALID_CONFIG, "session.system_prompt: field required",
                               "session.system_prompt")
        config = copy.deepcopy(body)
    config["input"] = deep_merge(DEFAULT_INPUT, config.get("input") or {})
    config["output"] = deep_merge(DEFAULT_OUTPUT, config.get("output") or {})
    config.setdefault("tools", [])
    return config


_EMPTY_HEADERS = {"headers_ciphertext": "", "headers_encrypted_data_key": "",
                  "headers_kms_key_id": ""}


def _wire_http(http: Any) -> dict[str, Any] | None:
    if not isinstance(http, dict):
        return None
    return {"url": http.get("url"), "method": http.get("http_method", "POST"), **_EMPTY_HEADERS}


def config_echo(session_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """The resolved configuration as `session.updated` / `session.ready` carry it (§15.4):
    the wire shape, with internal keys as empty strings and never a secret."""
    given_input = config.get("input") or {}
    output = config.get("output") or {}
    tools = []
    for tool in config.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        timeout = tool.get("timeout_seconds", DEFAULT_TOOL_TIMEOUT)
        tools.append({
            "type": "function", "name": tool.get("name"),
            "description": tool.get("description"), "parameters": tool.get("parameters"),
            "timeout_seconds": float(timeout) if isinstance(timeout, int | float) else timeout,
            "execution_mode": tool.get("execution_mode", "interactive"),
            "http": _wire_http(tool.get("http")),
        })
    llm = [{"base_url": entry.get("base_url"), "model": entry.get("model"),
            "api_key_ciphertext": "", "api_key_encrypted_data_key": "",
            "api_key_kms_key_id": "", "reasoning_effort": entry.get("reasoning_effort")}
           for entry in config.get("llm") or [] if isinstance(entry, dict)]
    pre_connect = []
    for entry in config.get("pre_connect_requests") or []:
        if isinstance(entry, dict):
            shown = {k: copy.deepcopy(v) for k, v in entry.items() if k != "http"}
            shown["http"] = _wire_http(entry.get("http"))
            shown.setdefault("on_failure", "continue")
            pre_connect.append(shown)
    return {
        "id": session_id,
        "system_prompt": config.get("system_prompt"),
        "greeting": config.get("greeting"),
        "input": {k: copy.deepcopy(given_input.get(k)) for k in INPUT_ECHO_KEYS},
        "output": {"type": output.get("type", "audio"),
                   "voice": output.get("voice") or DEFAULT_VOICE,
                   "format": copy.deepcopy(output.get("format")),
                   "volume": output.get("volume", 100)},
        "tools": tools,
        "llm": llm,
        "pre_connect_requests": pre_connect,
    }


# -- what happened in a session (for session records) ----------------------------------


@dataclass
class SessionLog:
    """One session as it ran, for records and tests. Times are seconds since it started
    (`started_at`, Unix seconds). Audio is PCM16 mono at `audio_in_rate` /
    `audio_out_rate` (telephony audio decoded), at most MAX_RECORDED_SECONDS each way."""

    session_id: str
    agent_id: str | None
    started_at: float
    audio_in_rate: int
    audio_out_rate: int
    ended_at: float | None = None
    end_reason: str | None = None  # client, expired, audio_rate_violation, error
    # One entry per reply: trigger (greeting, user, conversation_message, reply_create,
    # tool_result, retry), user_item_id, user_text, reply_id, item_id, agent_text,
    # status, started_s, done_s, and for user turns speech_started_s / speech_stopped_s.
    turns: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # conversation.message
    config_changes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # session.error / reply.error
    audio_in: bytearray = field(default_factory=bytearray)
    audio_out: list[tuple[float, bytes]] = field(default_factory=list)  # (when sent, PCM16)
    events: list[tuple[float, str]] = field(default_factory=list)  # what was sent, when
    connections: int = 0
    resumes: int = 0


# -- the session -------------------------------------------------------------------------


class Session:
    """A live session: outlives its socket by the resume window."""

    def __init__(self, service: LiveService, config: dict[str, Any],
                 owner: str | None) -> None:
        self.service = service
        self.id = new_id(P.SESSION_PREFIX)
        self.config = config
        self.owner = owner  # the API key that opened it (None: a temporary token)
        # The Sessions API's record of this session (emulator/sessions.py): four hooks,
        # started/client_event/server_event/ended.
        self.recorder = service.state.platform.recorder
        self.pace = service.options.pace
        # Each session its own turns (a test's agent and its simulated caller).
        self.script = service.options.script.for_session(str(config.get("system_prompt") or ""))
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.in_encoding, self.in_rate = P.audio_format(config["input"])
        self.out_encoding, self.out_rate = P.audio_format(config["output"])
        turn = self._turn_detection()
        self.detector = SpeechDetector(
            self.in_rate, turn.get("vad_threshold", 0.5), turn.get("min_silence", 1000)
        )
        self.log = SessionLog(self.id, config.get("agent_id"), time.time(),
                              self.in_rate, self.out_rate)
        self.conn: Connection | None = None
        # What could not be sent while no socket was attached, for the resume; one lock
        # keeps every send in order (the backlog before anything new).
        self.backlog: deque[dict[str, Any]] = deque()
        self.backlog_lost = 0
        self._out = asyncio.Lock()
        self.user_turns = 0
        self.jobs: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.agent_task: asyncio.Task[None] | None = None
        self.expiry_task: asyncio.Task[None] | None = None
        self.reply_id: str | None = None  # the reply being spoken
        self.reply_trigger: str | None = None
        self.replies: set[str] = set()
        self.cut = asyncio.Event()  # barge-in or cancel: the reply stops
        self.cut_status = P.REPLY_INTERRUPTED
        self.pending: dict[str, asyncio.Future[tuple[str, bool]]] = {}
        self.user_item: str | None = None
        self.partial_words = 0
        self.speech_started_s: float | None = None
        self.failed: tuple[Any, ...] | None = None  # a failed turn a reply.create retries
        self.errored_turns: set[int] = set()
        self.audio_in_s = 0.0
        self.first_audio_at: float | None = None
        # For tests and diagnostics.
        self.received: list[str] = []
        self.sent: list[str] = []
        self.tool_calls = self.log.tool_calls
        self.resumes = 0
        self.replayed = 0
        self.connections = 0
        self.ended = False
        self.end_reason: str | None = None

    def _turn_detection(self) -> dict[str, Any]:
        td = self.config["input"].get("turn_detection")
        return td if isinstance(td, dict) else {}

    def now(self) -> float:
        """Seconds since the session started (wall clock, not scaled)."""
        return round(self.loop.time() - self.started, 3)

    def echo(self) -> dict[str, Any]:
        return config_echo(self.id, self.config)

    # -- the socket ---------------------------------------------------------------------
    async def attach(self, conn: Connection) -> None:
        old, self.conn = self.conn, conn
        self.connections += 1
        self.log.connections = self.connections
        if self.expiry_task is not None:
            self.expiry_task.cancel()
            self.expiry_task = None
        if old is not None and old is not conn:
            await old.close(P.CLOSE_NORMAL, "session resumed on another connection")

    def detached(self, conn: Connection) -> None:
        if self.conn is not conn:
            return
        self.conn = None
        if not self.ended:
            self.expiry_task = asyncio.create_task(self._expire())

    async def _expire(self) -> None:
        await asyncio.sleep(self.service.options.resume_window)
        if self.conn is None and not self.ended:
            self._finish("expired")
            self.service.expired.add(self.id)

    def ready_event(self) -> dict[str, Any]:
        return {"type": P.SESSION_READY, "session_id": self.id, "config": self.echo(),
                "expires_at": int(self.log.started_at) + EXPIRES_AFTER,
                "resume_token": self.service.resume_tokens.issue(self.id)}

    async def emit(self, event: dict[str, Any]) -> None:
        """Send to the attached client; with none (or a socket that died under the send),
        keep the event for the resume, after whatever is kept already."""
        event.setdefault("timestamp", time.time())
        self.log.events.append((self.now(), event["type"]))
        self.recorder.server_event(self.id, event)
        async with self._out:
            if self.backlog or not await self._send_now(event):
                self._keep(event)

    async def _send_now(self, event: dict[str, Any]) -> bool:
        conn = self.conn
        if conn is None or not await conn.send(event):
            return False
        self.sent.append(event["type"])
        return True

    def _keep(self, event: dict[str, Any]) -> None:
        if self.ended or event.get("type") == P.SESSION_READY:
            return  # nobody will resume; each connection gets its own session.ready
        if len(self.backlog) >= max(self.service.options.resume_buffer, 1):
            self.backlog.popleft()
            self.backlog_lost += 1  # the emulator's own bound; nothing is sent about it
        self.backlog.append(event)

    async def resumed_on(self, conn: Connection) -> None:
        """A `session.resume` on `conn`: `session.ready`, then what was kept, in order.

        Under the send lock, so nothing new overtakes the backlog. If `conn` dies on the
        way, what was not sent stays kept for the next resume.
        """
        async with self._out:
            await self.attach(conn)
            if not await self._send_now(self.ready_event()):
                return
            while self.backlog:
                if not await self._send_now(self.backlog[0]):
                    return
                self.backlog.popleft()
                self.replayed += 1

    async def error(self, error: SessionError) -> None:
        self.log.errors.append({"at": self.now(), "code": error.code, "message": error.message})
        await self.emit(error.event(self.id))

    async def refuse(self, error: SessionError, reason: str) -> None:
        """A terminal error: say it, close 1008, and the session is over."""
        conn = self.conn
        await self.error(error)
        self._finish(reason)
        if conn is not None:
            await conn.close(P.CLOSE_POLICY, error.code)

    def start(self) -> None:
        self.agent_task = asyncio.create_task(self._agent())
        greeting = self.config.get("greeting")
        if isinstance(greeting, str) and greeting.strip():
            self.jobs.put_nowait(("say", greeting, "greeting"))

    async def end(self) -> None:
        """`session.end`: `session.ended`, then close 1000. The session is over (and its
        end reason set) before the event leaves, so whoever reads it sees that."""
        if self.ended:
            return
        conn = self.conn
        duration = self.loop.time() - self.started
        self._finish("client")
        event = {"type": P.SESSION_ENDED, "session_duration_seconds": round(duration, 3),
                 "audio_duration_seconds": None, "timestamp": time.time()}
        self.log.events.append((self.now(), P.SESSION_ENDED))
        self.recorder.server_event(self.id, event)
        async with self._out:
            await self._send_now(event)
        if conn is not None:
            await conn.close(P.CLOSE_NORMAL, "session ended")

    def _finish(self, reason: str) -> None:
        self.ended = True
        self.end_reason = reason
        self.log.end_reason = reason
        self.log.ended_at = time.time()
        self.recorder.ended(self.id, reason, self.config)
        self.backlog.clear()
        if self.agent_task is not None:
            self.agent_task.cancel()
        for future in self.pending.values():
            if not future.done():
                future.cancel()
        self.service.sessions.pop(self.id, None)
        self.service.resume_tokens.forget(self.id)

    # -- client events ------------------------------------------------------------------
    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.received.append(str(kind))
        self.recorder.client_event(self.id, event)
        try:
            if kind == P.INPUT_AUDIO:
                await self._audio(event)
            elif kind == P.TOOL_RESULT:
                self._tool_result(event)
            elif kind == P.REPLY_CREATE:
                self._reply_create(event)
            elif kind == P.REPLY_CANCEL:
                self._reply_cancel(event)
            elif kind == P.CONVERSATION_MESSAGE:
                self._message(event)
            elif kind == P.SESSION_UPDATE:
                await self._update(event.get("session"))
            elif kind == P.SESSION_END:
                await self.end()
            elif kind == P.SESSION_RESUME:
                raise SessionError(P.INVALID_VALUE, "session.resume must be a connection's "
                                   "first message", "type")
            else:
                raise SessionError(P.INVALID_VALUE, f"unknown event type {kind!r}", "type")
        except SessionError as exc:
            if exc.code in P.TERMINAL_CODES:
                await self.refuse(exc, exc.code)
            else:
                await self.error(exc)

    async def _audio(self, event: dict[str, Any]) -> None:
        data = event.get("audio")
        try:
            if not isinstance(data, str):
                raise ValueError
            raw = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            raise SessionError(P.INVALID_AUDIO, "input.audio: `audio` must be base64 "
                               f"{self.in_encoding}", "audio") from None
        if self.in_encoding == P.PCM and len(raw) % 2:
            raise SessionError(P.INVALID_AUDIO, "input.audio: 16-bit PCM needs an even "
                               "number of bytes", "audio")
        pcm = g711.decode(raw, self.in_encoding)
        now = self.loop.time()
        if self.first_audio_at is None:
            self.first_audio_at = now
        self.audio_in_s += len(pcm) / 2 / self.in_rate
        # Seconds ahead of the schedule, in real time: the speed factor lets a test
        # stream `pace` times faster, and a stall of the emulator's own loop (a burst of
        # queued audio) is not taken for a client running ahead.
        ahead = self.audio_in_s / self.pace - (now - self.first_audio_at)
        if self.service.options.rate_guard and ahead > P.RATE_GUARD_AHEAD:
            raise SessionError(P.AUDIO_RATE_VIOLATION, f"audio is arriving "
                               f"{ahead * self.pace:.1f} s ahead of real time: slow down "
                               "(stream it at the pace of speech)", "audio")
        if len(self.log.audio_in) < MAX_RECORDED_SECONDS * self.in_rate * 2:
            self.log.audio_in.extend(pcm)
        for speech in self.detector.feed(pcm):
            if speech.kind == "started":
                self.partial_words = 0
                self.user_item = new_id(P.ITEM_PREFIX)
                self.speech_started_s = self.now()
                await self.emit({"type": P.SPEECH_STARTED})
                if self.reply_id is not None and self._turn_detection().get(
                        "interrupt_response", True):
                    self.cut_status = P.REPLY_INTERRUPTED
                    self.cut.set()
            elif speech.kind == "partial":
                await self.emit({"type": P.USER_DELTA, "item_id": self.user_item,
                                 "text": self._partial(speech.speech)})
            else:
                await self._turn_ended(speech.speech)

    def _user_text(self, seconds: float) -> str:
        turn = self.script.turn(self.user_turns)
        return render(turn.user, seconds=f"{seconds:.1f}", turn=self.user_turns + 1)

    def _partial(self, seconds: float) -> str:
        """The whole utterance so far (a delta replaces the one before, §15.3)."""
        if "{seconds}" in self.script.turn(self.user_turns).user:
            return self._user_text(seconds)  # a description of the audio so far
        words = self._user_text(seconds).split()
        self.partial_words = min(self.partial_words + 2, max(len(words) - 1, 1))
        return " ".join(words[: self.partial_words])

    async def _turn_ended(self, seconds: float) -> None:
        text = self._user_text(seconds)
        index = self.user_turns
        self.user_turns += 1
        item_id = self.user_item or new_id(P.ITEM_PREFIX)
        self.user_item = None
        await self.emit({"type": P.SPEECH_STOPPED})
        await self.emit({"type": P.USER_FINAL, "item_id": item_id, "text": text})
        user = {"user_item_id": item_id, "user_text": text,
                "speech_started_s": self.speech_started_s, "speech_stopped_s": self.now()}
        self.jobs.put_nowait(("turn", index, text, seconds, "user", user))

    def _tool_result(self, event: dict[str, Any]) -> None:
        call_id, result = event.get("call_id"), event.get("result")
        is_error = event.get("is_error", False)
        future = self.pending.get(call_id) if isinstance(call_id, str) else None
        if future is None or future.done():
            raise SessionError(P.INVALID_VALUE, f"tool.result for unknown call_id {call_id!r}",
                               "call_id")
        if not isinstance(result, str):
            raise SessionError(P.INVALID_VALUE, "tool.result: `result` must be a string "
                               "(serialise JSON yourself)", "result")
        if not isinstance(is_error, bool):
            raise SessionError(P.INVALID_VALUE, "tool.result: `is_error` must be true or "
                               "false", "is_error")
        future.set_result((result, is_error))

    def _reply_create(self, event: dict[str, Any]) -> None:
        instructions = event.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise SessionError(P.INVALID_VALUE, "reply.create: `instructions` must be a "
                               "string", "instructions")
        if self.reply_trigger == "greeting":  # a reply.create replaces the greeting
            self.cut_status = P.REPLY_CANCELLED
            self.cut.set()
        if instructions and instructions.strip():
            self.jobs.put_nowait(("say", instructions, "reply_create"))
        elif self.failed is not None:
            job, self.failed = self.failed, None
            self.jobs.put_nowait((*job[:4], "retry", job[5]))
        else:
            self.jobs.put_nowait(("say", "How can I help?", "reply_create"))

    def _reply_cancel(self, event: dict[str, Any]) -> None:
        reply_id = event.get("reply_id")
        if reply_id is not None and reply_id == self.reply_id:
            self.cut_status = P.REPLY_CANCELLED
            self.cut.set()
        elif reply_id not in self.replies:
            raise SessionError(P.INVALID_VALUE, f"reply.cancel: no reply {reply_id!r}",
                               "reply_id")
        # A reply that is already over: nothing to cancel.

    def _message(self, event: dict[str, Any]) -> None:
        role, content = event.get("role"), event.get("content")
        if role not in P.CONVERSATION_ROLES:
            raise SessionError(P.INVALID_VALUE, f"conversation.message: `role` must be one "
                               f"of {', '.join(P.CONVERSATION_ROLES)}", "role")
        if not isinstance(content, str) or not content.strip():
            raise SessionError(P.INVALID_VALUE, "conversation.message: `content` must be "
                               "a non-empty string", "content")
        self.log.messages.append({"at": self.now(), "role": role, "content": content})
        if role == "user":  # the scripted agent answers it like a spoken turn
            index = self.user_turns
            self.user_turns += 1
            user = {"user_item_id": None, "user_text": content}
            self.jobs.put_nowait(("turn", index, content, 0.0, "conversation_message", user))

    async def _update(self, body: Any) -> None:
        if isinstance(body, dict) and "agent_id" in body:
            raise SessionError(P.AGENT_ID_NOT_FIRST, "session.agent_id: only the first "
                               "session.update may name an agent", "session.agent_id")
        if isinstance(body, dict):  # fixed whatever the new value (before other checks)
            self._check_immutable(body)
        check_session(body, allow_loopback=self.service.state.allow_loopback_tools)
        assert isinstance(body, dict)
        for key, value in body.items():
            if key in ("input", "output"):
                self.config[key] = deep_merge(self.config[key], value)
            else:
                self.config[key] = copy.deepcopy(value)
        turn = self._turn_detection()
        self.detector.configure(turn.get("vad_threshold", 0.5), turn.get("min_silence", 1000))
        encoding, rate = P.audio_format(self.config["input"])
        if (encoding, rate) != (self.in_encoding, self.in_rate):
            self.in_encoding, self.in_rate = encoding, rate
            self.detector = SpeechDetector(rate, turn.get("vad_threshold", 0.5),
                                           turn.get("min_silence", 1000))
        self.log.config_changes.append({"at": self.now(), "fields": sorted(body)})
        await self.emit({"type": P.SESSION_UPDATED, "config": self.echo()})

    def _check_immutable(self, body: dict[str, Any]) -> None:
        """§15.6: greeting and output voice/format/type are fixed; volume may change."""
        if "greeting" in body and body["greeting"] != self.config.get("greeting"):
            raise SessionError(P.IMMUTABLE_FIELD, "session.greeting cannot change after "
                               "session.ready", "session.greeting")
        output = body.get("output")
        if isinstance(output, dict):
            for key in ("voice", "format", "type"):
                if key in output and output[key] != self.config["output"].get(key):
                    raise SessionError(P.IMMUTABLE_FIELD, f"session.output.{key} cannot "
                                       "change after session.ready", f"session.output.{key}")

    # -- the agent ----------------------------------------------------------------------
    async def _agent(self) -> None:
        while True:
            job = await self.jobs.get()
            try:
                if job[0] == "say":
                    await self.speak(job[1], {"trigger": job[2]})
                else:
                    await self._answer(*job[1:])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: keep it visible to tests, keep serving
                self.service.state.errors.append(exc)
                log.exception("emulator: live session %s failed a turn", self.id)
                await self.error(SessionError(P.INTERNAL_ERROR, "the agent failed this turn"))

    async def _answer(self, index: int, user_text: str, seconds: float, trigger: str,
                      user: dict[str, Any]) -> None:
        turn = self.script.turn(index)
        if turn.reply_error is not None and index not in self.errored_turns:
            self.errored_turns.add(index)
            await self._fail(turn.reply_error, ("turn", index, user_text, seconds, trigger,
                                                user), {"trigger": trigger, **user})
            return
        result = ""
        for step in turn.tool_calls:
            result = await self._call_tool(step, {"trigger": trigger, **user})
            trigger, user = "tool_result", {}
        template = turn.reply
        if trigger == "conversation_message" and index >= len(self.script.turns) and (
                template == self.script.default_reply):
            template = MESSAGE_REPLY
        text = render(template, seconds=f"{seconds:.1f}", turn=index + 1, user=user_text,
                      result=result)
        await self.speak(text, {"trigger": trigger, **user})

    def _open_reply(self, entry: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        reply_id, item_id = new_id(P.REPLY_PREFIX), new_id(P.ITEM_PREFIX)
        self.replies.add(reply_id)
        turn = {**entry, "reply_id": reply_id, "item_id": item_id, "agent_text": None,
                "status": None, "started_s": self.now(), "done_s": None}
        self.log.turns.append(turn)
        return reply_id, item_id, turn

    async def _fail(self, error: dict[str, Any], job: tuple[Any, ...],
                    entry: dict[str, Any]) -> None:
        """A reply that fails (`reply.error`, then `reply.done` `failed`)."""
        reply_id, item_id, turn = self._open_reply(entry)
        await self.emit({"type": P.REPLY_STARTED, "reply_id": reply_id, "item_id": item_id})
        self.log.errors.append({"at": self.now(), "reply_id": reply_id, **error})
        await self.emit({"type": P.REPLY_ERROR, "reply_id": reply_id, **error})
        turn.update(status=P.REPLY_FAILED, done_s=self.now())
        await self.emit({"type": P.REPLY_DONE, "reply_id": reply_id, "status": P.REPLY_FAILED})
        if error.get("retryable"):
            self.failed = job

    async def speak(self, text: str, entry: dict[str, Any]) -> None:
        """reply.started, reply.audio chunks at the pace of playback with the words as they
        are spoken, transcript.agent, reply.done; speech from the user meanwhile
        interrupts it (barge-in), and reply.cancel cancels it."""
        reply_id, item_id, turn = self._open_reply(entry)
        output = self.config["output"]
        volume = output.get("volume", 100)
        volume = volume if isinstance(volume, int | float) else 100
        chunk_s = CHUNK_MS / 1000
        words = word_timings(text)
        said = 0
        self.cut.clear()
        self.reply_id, self.reply_trigger = reply_id, entry.get("trigger")
        played = 0
        try:
            await self.emit({"type": P.REPLY_STARTED, "reply_id": reply_id,
                             "item_id": item_id})
            start = self.loop.time()
            for i, chunk in enumerate(synthesize(text, self.out_rate, volume)):
                if self.cut.is_set():
                    break
                if len(self.log.audio_out) * chunk_s < MAX_RECORDED_SECONDS:
                    self.log.audio_out.append((self.now(), chunk))
                data = g711.encode(chunk, self.out_encoding)
                await self.emit({"type": P.REPLY_AUDIO, "reply_id": reply_id,
                                 "data": base64.b64encode(data).decode("ascii")})
                played = i + 1
                while said < len(words) and words[said][1] < played * CHUNK_MS:
                    word, start_ms, end_ms = words[said]
                    await self.emit({"type": P.AGENT_DELTA, "reply_id": reply_id,
                                     "item_id": item_id, "delta": word,
                                     "start_ms": start_ms, "end_ms": end_ms})
                    said += 1
                delay = start + (i + 1) * chunk_s / self.pace - self.loop.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.cut.wait(), delay)
            cut = self.cut.is_set()
        finally:
            self.reply_id = self.reply_trigger = None
        status = self.cut_status if cut else P.REPLY_COMPLETED
        if cut:  # what was heard: the words whose audio had all gone out
            heard_ms = max(played - 1, 0) * CHUNK_MS
            text = "".join(w for w, _, end in words if end <= heard_ms).strip()
        turn.update(agent_text=text, status=status, done_s=self.now())
        await self.emit({"type": P.AGENT_FINAL, "reply_id": reply_id, "item_id": item_id,
                         "text": text, "interrupted": cut})
        await self.emit({"type": P.REPLY_DONE, "reply_id": reply_id, "status": status})

    async def _call_tool(self, step: ToolCallStep, entry: dict[str, Any]) -> str:
        """A reply that calls a tool: reply.started, tool.call, reply.done; then the
        result (the client's tool.result, or the HTTP tool's answer)."""
        tools = self.config.get("tools") or []
        tool = next((t for t in tools if isinstance(t, dict) and t.get("name") == step.name),
                    None)
        timeout = DEFAULT_TOOL_TIMEOUT
        if tool is not None and isinstance(tool.get("timeout_seconds"), int | float):
            timeout = float(tool["timeout_seconds"])
        http = tool is not None and isinstance(tool.get("http"), dict)
        call_id = new_id("call_")
        record: dict[str, Any] = {"kind": "http" if http else "client", "name": step.name,
                                  "call_id": call_id, "arguments": step.arguments,
                                  "at": self.now()}
        self.tool_calls.append(record)
        future: asyncio.Future[tuple[str, bool]] = self.loop.create_future()
        if not http:
            self.pending[call_id] = future
        reply_id, item_id, turn = self._open_reply(entry)
        await self.emit({"type": P.REPLY_STARTED, "reply_id": reply_id, "item_id": item_id})
        # For an HTTP tool the service calls it itself; the event is a notice (§15.1).
        await self.emit({"type": P.TOOL_CALL, "call_id": call_id, "name": step.name,
                         "arguments": step.arguments})
        turn.update(status=P.REPLY_COMPLETED, done_s=self.now(), tool_call=call_id)
        await self.emit({"type": P.REPLY_DONE, "reply_id": reply_id,
                         "status": P.REPLY_COMPLETED})
        if http:
            assert tool is not None
            return await self._http_tool(tool, step.arguments, timeout, record)
        try:
            # Real time: waiting for the client is not the agent's speech, so the speed
            # factor does not shorten it (a slow --tool command must still make it).
            result, is_error = await asyncio.wait_for(future, timeout)
            record.update(result=result, is_error=is_error)
        except TimeoutError:
            result = f"error: no result from {step.name} within {timeout:g} s"
            record["timed_out"] = True
        finally:
            self.pending.pop(call_id, None)
        return result

    async def _http_tool(self, tool: dict[str, Any], arguments: dict[str, Any],
                         timeout: float, record: dict[str, Any]) -> str:
        import httpx

        http = tool["http"]
        url, method = str(http.get("url", "")), str(http.get("http_method", "GET")).upper()
        record.update(method=method, url=url)
        allowed = self.service.state.allow_loopback_tools
        problems = check_agent({"tools": [tool]}, partial=True, allow_loopback_urls=allowed)
        if problems:
            record["blocked"] = True
            return f"error: the tool's URL is not allowed: {problems[0].message}"
        headers = {
            str(h["name"]): str(h.get("value", ""))
            for h in http.get("headers") or []
            if isinstance(h, dict) and isinstance(h.get("name"), str)
        }
        try:
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=not allowed
            ) as client:
                if method in ("GET", "DELETE"):
                    params = {k: v if isinstance(v, str) else json.dumps(v)
                              for k, v in arguments.items() if v is not None}
                    target = httpx.URL(url).copy_merge_params(params)
                    response = await client.request(method, target, headers=headers)
                else:
                    response = await client.request(method, url, headers=headers,
                                                    json=arguments)
        except httpx.TimeoutException:
            record["status"] = "timeout"
            return f"error: the tool timed out after {timeout:g} s"
        except httpx.HTTPError as exc:
            record["status"] = "failed"
            return f"error: the tool request failed ({type(exc).__name__})"
        record["status"] = response.status_code
        body = response.content[:TOOL_RESPONSE_CAP].decode("utf-8", "replace")
        if not 200 <= response.status_code < 300:
            return f"error: the tool answered HTTP {response.status_code}: {body[:200]}"
        return body


# -- the endpoint ------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """Who opened a socket: an API key, a temporary token, or a session's resume token."""

    kind: str  # key, token, resume, refused
    key: str | None = None
    session_id: str | None = None  # kind == resume
    problem: str = ""


class LiveService:
    """The `/v1/ws` endpoint and the sessions it keeps (for resume)."""

    def __init__(self, state: EmulatorState, options: LiveOptions | Mapping[str, Any] | None
                 = None) -> None:
        self.state = state
        self.options = LiveOptions.coerce(options)
        self.sessions: dict[str, Session] = {}
        self.history: list[Session] = []
        self.expired: set[str] = set()
        self.resume_tokens = ResumeTokens()
        self._drop_pending = self.options.drop_after_events is not None

    async def endpoint(self, ws: WebSocket) -> None:
        # Always upgrade: a refused credential is answered in-band (§15.8).
        await ws.accept()
        conn = Connection(ws)
        credential = self._credential(ws)
        if credential.kind == "refused":
            await self._refuse(conn, SessionError(P.UNAUTHORIZED, credential.problem))
            await _linger(ws)
            return
        session: Session | None = None
        peer_gone = False
        try:
            while conn.open:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    peer_gone = True
                    break
                event = await self._parse(conn, message, session)
                if event is None:
                    continue
                if session is None:
                    session = await self._bind(conn, event, credential)
                elif session.conn is conn:
                    await session.handle(event)
                else:
                    break  # resumed elsewhere
        except WebSocketDisconnect:
            peer_gone = True
        except Exception as exc:  # a bug: record it (tests assert none) and hang up
            self.state.errors.append(exc)
            log.exception("emulator: live session failed")
            await conn.send(SessionError(P.INTERNAL_ERROR, "internal error").event(
                session.id if session is not None else None))
            await conn.close(CLOSE_DROPPED, "internal error")
        finally:
            conn.open = False
            if session is not None:
                session.detached(conn)
        if not peer_gone:
            await _linger(ws)

    def _credential(self, ws: WebSocket) -> Credential:
        header = ws.headers.get("authorization")
        token = ws.query_params.get("token")
        if header is None and token is not None:
            if self.state.tokens.redeem(token):
                return Credential("token")
            return Credential("refused", problem="Authentication failed: the token is "
                              "unknown, expired or already used")
        key, problem = key_from_authorization(header)
        if key is None:
            return Credential("refused", problem=f"Authentication failed: {problem}")
        if self.resume_tokens.is_resume_token(key):
            session_id = self.resume_tokens.redeem(key)
            if session_id is None:
                return Credential("refused", problem="Authentication failed: the resume "
                                  "token was already used or replaced by a newer one")
            return Credential("resume", session_id=session_id)
        if self.state.api_keys is not None and key not in self.state.api_keys:
            return Credential("refused", problem="Authentication failed")
        return Credential("key", key=key)

    async def _parse(self, conn: Connection, message: dict[str, Any],
                     session: Session | None) -> dict[str, Any] | None:
        async def bad(text: str) -> None:
            await conn.send(SessionError(P.INVALID_VALUE, text).event(
                session.id if session is not None else None))

        text = message.get("text")
        if text is None:
            await bad("binary frames are not part of the protocol: send JSON text")
            return None
        try:
            event = json.loads(text)
        except ValueError:
            await bad("a message must be a JSON object")
            return None
        except RecursionError:  # json.loads recurses per level: a client's message, not a bug
            await bad("a message must be a JSON object (this one is nested too deeply)")
            return None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await bad("a message must be a JSON object with a `type`")
            return None
        return event

    async def _bind(self, conn: Connection, event: dict[str, Any],
                    credential: Credential) -> Session | None:
        """The connection's first meaningful message: session.update or session.resume."""
        kind = event["type"]
        if kind == P.SESSION_RESUME:
            return await self._resume(conn, event, credential)
        if kind != P.SESSION_UPDATE:
            await conn.send(SessionError(P.INVALID_VALUE, f"{kind} before session.ready: "
                                         "send session.update first", "type").event())
            return None
        if credential.kind == "resume":
            await self._refuse(conn, SessionError(
                P.SESSION_FORBIDDEN, "a resume token only resumes its own session: send "
                "session.resume", "type"))
            return None
        limit = self.options.max_sessions
        if limit is not None and len(self.sessions) >= limit:
            await self._refuse(conn, SessionError(
                P.CONCURRENCY_EXCEEDED, f"at most {limit} live session(s) at once"))
            return None
        try:
            config = session_config(event.get("session"), self.state,
                                    allow_loopback=self.state.allow_loopback_tools)
        except SessionError as exc:
            await self._refuse(conn, exc)
            return None
        session = Session(self, config, credential.key)
        session.received.append(kind)
        self.sessions[session.id] = session
        append_bounded(self.history, session, MAX_SESSION_HISTORY)
        session.recorder.started(session.id, config.get("agent_id"), config)
        if self._drop_pending:
            self._drop_pending = False
            conn.drop_after = self.options.drop_after_events
        await session.attach(conn)
        echo = session.echo()
        await session.emit({"type": P.SESSION_UPDATED, "config": echo})
        await session.emit(session.ready_event())
        session.start()
        return session

    async def _resume(self, conn: Connection, event: dict[str, Any],
                      credential: Credential) -> Session | None:
        session_id = event.get("session_id")
        session = self.sessions.get(session_id) if isinstance(session_id, str) else None
        error: SessionError | None = None
        if session is None or session.ended:
            if session_id in self.expired:
                error = SessionError(P.SESSION_EXPIRED, f"session {session_id!r} was kept "
                                     f"{self.options.resume_window:g} s after its connection "
                                     "closed and is gone", "session_id")
            else:
                error = SessionError(P.SESSION_NOT_FOUND, f"no session {session_id!r} to "
                                     "resume", "session_id")
        elif credential.kind == "resume" and credential.session_id != session.id:
            error = SessionError(P.SESSION_FORBIDDEN, "this resume token belongs to another "
                                 "session", "session_id")
        elif credential.kind == "key" and session.owner not in (None, credential.key):
            error = SessionError(P.SESSION_FORBIDDEN, "the session belongs to another key",
                                 "session_id")
        if error is not None:
            await self._refuse(conn, error)
            return None
        assert session is not None
        session.received.append(P.SESSION_RESUME)
        session.resumes += 1
        session.log.resumes = session.resumes
        await session.resumed_on(conn)
        return session

    async def _refuse(self, conn: Connection, error: SessionError) -> None:
        await conn.send(error.event())
        await conn.close(P.CLOSE_POLICY, error.code)


LINGER_SECONDS = 2.0


async def _linger(ws: WebSocket) -> None:
    """After closing the socket ourselves, read (and drop) what the client still sends until
    its close frame, for at most LINGER_SECONDS. Hanging up on unread incoming data makes
    the TCP stack answer with a reset, and a reset can destroy what was sent just before it:
    a `session.error` and its close (seen when a client was still streaming audio)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(LINGER_SECONDS):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass


def live_routes(state: EmulatorState, options: Any = None) -> tuple[list[Any], LiveService]:
    """The `/v1/ws` route over `state`, and the service behind it (for tests)."""
    from starlette.routing import WebSocketRoute

    service = LiveService(state, options)
    return [WebSocketRoute("/v1/ws", service.endpoint)], service
