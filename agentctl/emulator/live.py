"""The emulator's live session: the Voice Agent WebSocket at `/v1/ws`.

Follows the reference's WebSocket protocol (`voice-agent-api.md`):

- Auth on the upgrade: `Authorization: Bearer <key>` (the same check as REST) or
  `?token=` from `GET /v1/token` (one use). A refused upgrade is a 401 with a JSON detail.
- The first message binds the session: `session.update` with `agent_id` xor inline fields
  (`system_prompt`, `greeting`, `input`, `output`, `tools`), answered by `session.ready`
  with a `session_id`; or `session.resume` with the id of a session that lost its socket
  less than 30 s ago. A bad binding message gets a `session.error` and the socket is
  closed (1008). Audio (or anything else) before `session.ready` gets a `session.error`
  and the socket stays open.
- The session goes on while its socket is gone (the reply in progress, a tool's timeout),
  and what it would have sent meanwhile is kept, in order (at most `resume_buffer`
  events; past that the oldest go and the resume says so with a `session.error`
  `events_lost`): a resume gets `session.ready`, then what was kept, then the rest, so
  the client sees the whole conversation. An event whose send failed (the socket died
  under it) counts as not sent and is kept too. `session.ready` itself is never kept:
  each connection gets its own.
- Speech detection on `input.audio` (`speech.SpeechDetector`), transcripts and replies from
  the script (`script.Script`), reply audio paced in 100 ms chunks, greeting first,
  client tools (`tool.call`, then waiting for `tool.result`), HTTP tools called for real,
  barge-in, `reply.create`, a mid-session `session.update` (`session.updated`), and
  `session.end` -> `session.ended` -> close.

Test hooks (`LiveOptions`): `speed` runs replies and tool timeouts faster,
`resume_window` shortens the 30 s, `resume_buffer` bounds what a detached session keeps,
and `drop_after_events=N` closes the first bound socket
(code 1011, no `session.ended`) once it has sent N events (0: before `session.ready`),
once per emulator, so a client's resume can be tested deterministically.
`LiveService.history` keeps the newest sessions (emulator/limits.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import logging
import math
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from agentctl.emulator.app import (
    DEFAULT_INPUT,
    DEFAULT_OUTPUT,
    ApiError,
    EmulatorState,
    authenticate,
    deep_merge,
)
from agentctl.emulator.limits import MAX_SESSION_HISTORY, append_bounded
from agentctl.emulator.script import Script, ToolCallStep, load_script, parse_script, render
from agentctl.emulator.speech import CHUNK_MS, SpeechDetector, reply_ms, synthesize
from agentctl.spec.rules import check_agent, format_path

log = logging.getLogger("agentctl.emulator.live")

RESUME_WINDOW = 30.0
# Events a detached session keeps for its resume: a 20 s reply is 200 audio chunks, so
# this holds a few replies (~6 MB of base64 audio at 24 kHz) and bounds the memory.
RESUME_BUFFER = 1000
INLINE_FIELDS = ("system_prompt", "greeting", "input", "output", "tools")
DEFAULT_TOOL_TIMEOUT = 15.0
TOOL_RESPONSE_CAP = 8 * 1024
CLOSE_POLICY = 1008
CLOSE_DROPPED = 1011


@dataclass
class LiveOptions:
    """How the live side behaves; `create_app(live=...)` takes this or a dict of it."""

    script: Script = field(default_factory=Script)
    speed: float | None = None  # None: the script's (1.0 by default)
    resume_window: float = RESUME_WINDOW
    resume_buffer: int = RESUME_BUFFER
    drop_after_events: int | None = None

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
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.open:
            return
        self.open = False
        with contextlib.suppress(Exception):  # already closed by the peer
            await self.ws.close(code, reason)


# -- session configuration ---------------------------------------------------------------


def _problem_text(problems: list[Any]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"session.{format_path(first.path)}: {first.message}{more}"


def session_config(
    body: Any, state: EmulatorState, *, allow_loopback: bool
) -> dict[str, Any]:
    """A `session.update`'s `session` (the first one) -> the session's configuration."""
    if not isinstance(body, dict):
        raise SessionError("invalid_session", "session.update needs a `session` object")
    unknown = [k for k in body if k not in (*INLINE_FIELDS, "agent_id")]
    if unknown:
        raise SessionError(
            "invalid_session",
            f"session.{unknown[0]}: unknown field (expected agent_id, or inline "
            f"{', '.join(INLINE_FIELDS)})",
        )
    inline = [k for k in INLINE_FIELDS if k in body]
    if "agent_id" in body:
        if inline:
            raise SessionError(
                "invalid_session",
                "session.agent_id cannot be combined with inline fields "
                f"({', '.join(inline)}): send one or the other",
            )
        agent_id = body["agent_id"]
        record = None
        if isinstance(agent_id, str) and _is_uuid(agent_id):
            record = state.store.get_agent(agent_id)
        if record is None:
            raise SessionError("agent_not_found", f"no agent with id {agent_id!r}")
        config = {k: copy.deepcopy(record[k]) for k in INLINE_FIELDS if k in record}
        config["agent_id"] = agent_id
        config["name"] = record.get("name")
    else:
        if not inline:
            raise SessionError(
                "invalid_session", "session.update needs agent_id or inline fields"
            )
        if "system_prompt" not in body:
            raise SessionError("invalid_session", "session.system_prompt: field required")
        problems = check_agent(body, partial=True, allow_loopback_urls=allow_loopback)
        if problems:
            raise SessionError("invalid_session", _problem_text(problems))
        config = copy.deepcopy(body)
    config["input"] = deep_merge(DEFAULT_INPUT, config.get("input") or {})
    config["output"] = deep_merge(DEFAULT_OUTPUT, config.get("output") or {})
    config.setdefault("tools", [])
    return config


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _rate(section: Any) -> int:
    fmt = section.get("format") if isinstance(section, dict) else None
    rate = fmt.get("sample_rate") if isinstance(fmt, dict) else None
    return rate if isinstance(rate, int) and rate > 0 else 24000


# -- the session -------------------------------------------------------------------------


class Session:
    """A live session: outlives its socket by the resume window."""

    def __init__(self, service: LiveService, config: dict[str, Any]) -> None:
        self.service = service
        self.id = f"sess_{uuid.uuid4().hex}"
        self.config = config
        # The Sessions API's record of this session (emulator/sessions.py): four hooks,
        # started/client_event/server_event/ended.
        self.recorder = service.state.platform.recorder
        self.pace = service.options.pace
        self.script = service.options.script
        turn = self._turn_detection()
        self.in_rate = _rate(config["input"])
        self.out_rate = _rate(config["output"])
        self.detector = SpeechDetector(
            self.in_rate, turn.get("vad_threshold", 0.5), turn.get("min_silence", 1000)
        )
        self.conn: Connection | None = None
        self.connections = 0
        # What could not be sent while no socket was attached, for the resume; one lock
        # keeps every send in order (the backlog before anything new).
        self.backlog: deque[dict[str, Any]] = deque()
        self.backlog_lost = 0
        self._out = asyncio.Lock()
        self.user_turns = 0
        self._ids = 0
        self.jobs: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.agent_task: asyncio.Task[None] | None = None
        self.expiry_task: asyncio.Task[None] | None = None
        self.reply_active = False
        self.barge_in = asyncio.Event()
        self.pending: dict[str, asyncio.Future[str]] = {}
        self.partial_words = 0
        # For tests and diagnostics.
        self.received: list[str] = []
        self.sent: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.resumes = 0
        self.replayed = 0
        self.ended = False
        self.end_reason: str | None = None

    def _turn_detection(self) -> dict[str, Any]:
        td = self.config["input"].get("turn_detection")
        return td if isinstance(td, dict) else {}

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids}"

    # -- the socket ---------------------------------------------------------------------
    async def attach(self, conn: Connection) -> None:
        old, self.conn = self.conn, conn
        self.connections += 1
        if self.expiry_task is not None:
            self.expiry_task.cancel()
            self.expiry_task = None
        if old is not None and old is not conn:
            await old.close(1000, "session resumed on another connection")

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

    async def emit(self, event: dict[str, Any]) -> None:
        """Send to the attached client; with none (or a socket that died under the send),
        keep the event for the resume, after whatever is kept already."""
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
        if self.ended or event.get("type") == "session.ready":
            return  # nobody will resume; each connection gets its own session.ready
        if len(self.backlog) >= max(self.service.options.resume_buffer, 1):
            self.backlog.popleft()
            self.backlog_lost += 1
        self.backlog.append(event)

    async def resumed_on(self, conn: Connection) -> None:
        """A `session.resume` on `conn`: `session.ready`, then what was kept, in order.

        Under the send lock, so nothing new overtakes the backlog. If `conn` dies on the
        way, what was not sent stays kept for the next resume.
        """
        async with self._out:
            await self.attach(conn)
            if not await self._send_now({"type": "session.ready", "session_id": self.id}):
                return
            if self.backlog_lost:
                lost, self.backlog_lost = self.backlog_lost, 0
                notice = {"type": "session.error", "code": "events_lost",
                          "message": f"{lost} event(s) sent while disconnected were dropped "
                          f"(a detached session keeps the last "
                          f"{self.service.options.resume_buffer})"}
                if not await self._send_now(notice):
                    self.backlog_lost = lost
                    return
            while self.backlog:
                if not await self._send_now(self.backlog[0]):
                    return
                self.backlog.popleft()
                self.replayed += 1

    async def error(self, code: str, message: str) -> None:
        await self.emit({"type": "session.error", "code": code, "message": message})

    def start(self) -> None:
        self.agent_task = asyncio.create_task(self._agent())
        greeting = self.config.get("greeting")
        if isinstance(greeting, str) and greeting.strip():
            self.jobs.put_nowait(("say", greeting))

    async def end(self) -> None:
        """`session.end`: `session.ended`, then close."""
        if self.ended:
            return
        conn = self.conn
        await self.emit({"type": "session.ended"})
        self._finish("client")
        if conn is not None:
            await conn.close(1000, "session ended")

    def _finish(self, reason: str) -> None:
        self.ended = True
        self.end_reason = reason
        self.recorder.ended(self.id, reason, self.config)
        self.backlog.clear()
        if self.agent_task is not None:
            self.agent_task.cancel()
        for future in self.pending.values():
            if not future.done():
                future.cancel()
        self.service.sessions.pop(self.id, None)

    # -- client events ------------------------------------------------------------------
    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.received.append(str(kind))
        self.recorder.client_event(self.id, event)
        if kind == "input.audio":
            await self._audio(event)
        elif kind == "tool.result":
            await self._tool_result(event)
        elif kind == "reply.create":
            instructions = event.get("instructions")
            text = instructions if isinstance(instructions, str) and instructions.strip() else (
                "How can I help?"
            )
            self.jobs.put_nowait(("say", text))
        elif kind == "session.update":
            await self._update(event.get("session"))
        elif kind == "session.end":
            await self.end()
        elif kind == "session.resume":
            await self.error("invalid_message", "session.resume must be a connection's first "
                             "message")
        else:
            await self.error("invalid_message", f"unknown event type {kind!r}")

    async def _audio(self, event: dict[str, Any]) -> None:
        data = event.get("audio")
        try:
            if not isinstance(data, str):
                raise ValueError
            pcm = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            await self.error("invalid_format", "input.audio: `audio` must be base64 PCM16")
            return
        if len(pcm) % 2:
            await self.error("invalid_format", "input.audio: PCM16 needs an even number of bytes")
            return
        for speech in self.detector.feed(pcm):
            if speech.kind == "started":
                self.partial_words = 0
                await self.emit({"type": "input.speech.started"})
                if self.reply_active and self._turn_detection().get("interrupt_response", True):
                    self.barge_in.set()
            elif speech.kind == "partial":
                await self.emit({"type": "transcript.user.delta",
                                 "text": self._partial(speech.speech)})
            else:
                await self._turn_ended(speech.speech)

    def _user_text(self, seconds: float) -> str:
        turn = self.script.turn(self.user_turns)
        return render(turn.user, seconds=f"{seconds:.1f}", turn=self.user_turns + 1)

    def _partial(self, seconds: float) -> str:
        if "{seconds}" in self.script.turn(self.user_turns).user:
            return self._user_text(seconds)  # a description of the audio so far
        words = self._user_text(seconds).split()
        self.partial_words = min(self.partial_words + 2, max(len(words) - 1, 1))
        return " ".join(words[: self.partial_words])

    async def _turn_ended(self, seconds: float) -> None:
        text = self._user_text(seconds)
        index = self.user_turns
        self.user_turns += 1
        await self.emit({"type": "input.speech.stopped"})
        await self.emit({"type": "transcript.user", "text": text,
                         "item_id": self.next_id("item")})
        self.jobs.put_nowait(("turn", index, text, seconds))

    async def _tool_result(self, event: dict[str, Any]) -> None:
        call_id, result = event.get("call_id"), event.get("result")
        future = self.pending.get(call_id) if isinstance(call_id, str) else None
        if future is None or future.done():
            await self.error("unknown_call_id", f"tool.result for unknown call_id {call_id!r}")
            return
        if not isinstance(result, str):
            result = json.dumps(result)
        future.set_result(result)

    async def _update(self, body: Any) -> None:
        if not isinstance(body, dict) or not body:
            await self.error("invalid_session", "session.update needs a `session` object")
            return
        if "agent_id" in body:
            await self.error("invalid_session", "session.agent_id cannot change mid-session")
            return
        if "output" in body:
            await self.error("invalid_session",
                             "session.output cannot change after session.ready")
            return
        unknown = [k for k in body if k not in INLINE_FIELDS]
        if unknown:
            await self.error("invalid_session", f"session.{unknown[0]}: unknown field")
            return
        problems = check_agent(
            body, partial=True, allow_loopback_urls=self.service.state.allow_loopback_tools
        )
        if problems:
            await self.error("invalid_session", _problem_text(problems))
            return
        for key, value in body.items():
            if key == "input":
                self.config["input"] = deep_merge(self.config["input"], value)
            else:
                self.config[key] = copy.deepcopy(value)
        turn = self._turn_detection()
        self.detector.configure(turn.get("vad_threshold", 0.5), turn.get("min_silence", 1000))
        await self.emit({"type": "session.updated"})

    # -- the agent ----------------------------------------------------------------------
    async def _agent(self) -> None:
        while True:
            job = await self.jobs.get()
            try:
                if job[0] == "say":
                    await self.speak(job[1])
                else:
                    await self._answer(*job[1:])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: keep it visible to tests, keep serving
                self.service.state.errors.append(exc)
                log.exception("emulator: live session %s failed a turn", self.id)

    async def _answer(self, index: int, user_text: str, seconds: float) -> None:
        turn = self.script.turn(index)
        result = ""
        for step in turn.tool_calls:
            result = await self._call_tool(step)
        text = render(turn.reply, seconds=f"{seconds:.1f}", turn=index + 1, user=user_text,
                      result=result)
        await self.speak(text)

    async def speak(self, text: str) -> None:
        """reply.started, reply.audio chunks at the pace of playback, transcript.agent,
        reply.done; speech from the user meanwhile interrupts it (barge-in)."""
        loop = asyncio.get_running_loop()
        reply_id = self.next_id("reply")
        output = self.config["output"]
        volume = output.get("volume", 100) if isinstance(output.get("volume"), int) else 100
        chunk_s = CHUNK_MS / 1000
        total = max(1, math.ceil(reply_ms(text) / CHUNK_MS))
        self.barge_in.clear()
        self.reply_active = True
        interrupted = False
        played = 0
        try:
            await self.emit({"type": "reply.started", "reply_id": reply_id})
            start = loop.time()
            for i, chunk in enumerate(synthesize(text, self.out_rate, volume)):
                if self.barge_in.is_set():
                    interrupted = True
                    break
                await self.emit({"type": "reply.audio",
                                 "data": base64.b64encode(chunk).decode("ascii")})
                played = i + 1
                delay = start + (i + 1) * chunk_s / self.pace - loop.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.barge_in.wait(), delay)
            interrupted = interrupted or self.barge_in.is_set()
        finally:
            self.reply_active = False
        spoken = text if not interrupted else text[: len(text) * max(played - 1, 0) // total]
        await self.emit({"type": "transcript.agent", "text": spoken, "reply_id": reply_id,
                         "item_id": self.next_id("item"), "interrupted": interrupted})
        await self.emit({"type": "reply.done",
                         "status": "interrupted" if interrupted else "completed"})

    async def _call_tool(self, step: ToolCallStep) -> str:
        tools = self.config.get("tools") or []
        tool = next((t for t in tools if isinstance(t, dict) and t.get("name") == step.name),
                    None)
        timeout = DEFAULT_TOOL_TIMEOUT
        if tool is not None and isinstance(tool.get("timeout_seconds"), int | float):
            timeout = float(tool["timeout_seconds"])
        if tool is not None and isinstance(tool.get("http"), dict):
            result = await self._http_tool(tool, step.arguments, timeout)
            return result
        call_id = self.next_id("call")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = future
        record: dict[str, Any] = {"kind": "client", "name": step.name, "call_id": call_id}
        self.tool_calls.append(record)
        await self.emit({"type": "tool.call", "call_id": call_id, "name": step.name,
                         "arguments": step.arguments})
        try:
            result = await asyncio.wait_for(future, timeout / self.pace)
            record["result"] = result
        except TimeoutError:
            result = f"error: no result from {step.name} within {timeout:g} s"
            record["timed_out"] = True
        finally:
            self.pending.pop(call_id, None)
        return result

    async def _http_tool(self, tool: dict[str, Any], arguments: dict[str, Any],
                         timeout: float) -> str:
        import httpx

        http = tool["http"]
        url, method = str(http.get("url", "")), str(http.get("http_method", "GET")).upper()
        record: dict[str, Any] = {"kind": "http", "name": tool.get("name"), "method": method,
                                  "url": url}
        self.tool_calls.append(record)
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
                              for k, v in arguments.items()}
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


class LiveService:
    """The `/v1/ws` endpoint and the sessions it keeps (for resume)."""

    def __init__(self, state: EmulatorState, options: LiveOptions | Mapping[str, Any] | None
                 = None) -> None:
        self.state = state
        self.options = LiveOptions.coerce(options)
        self.sessions: dict[str, Session] = {}
        self.history: list[Session] = []
        self._drop_pending = self.options.drop_after_events is not None

    async def endpoint(self, ws: WebSocket) -> None:
        denied = self._deny_reason(ws)
        if denied is not None:
            await ws.send_denial_response(JSONResponse({"detail": denied}, status_code=401))
            return
        await ws.accept()
        conn = Connection(ws)
        session: Session | None = None
        try:
            while conn.open:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                event = await self._parse(conn, message)
                if event is None:
                    continue
                if session is None:
                    session = await self._bind(conn, event)
                elif session.conn is conn:
                    await session.handle(event)
                else:
                    break  # resumed elsewhere
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # a bug: record it (tests assert none) and hang up
            self.state.errors.append(exc)
            log.exception("emulator: live session failed")
            await conn.close(CLOSE_DROPPED, "internal error")
        finally:
            conn.open = False
            if session is not None:
                session.detached(conn)

    def _deny_reason(self, ws: WebSocket) -> str | None:
        header = ws.headers.get("authorization")
        token = ws.query_params.get("token")
        if header is None and token is not None:
            return None if self.state.tokens.redeem(token) else "Unauthorized"
        try:
            authenticate(self.state, header)
        except ApiError as exc:
            return str(exc.detail)
        return None

    async def _parse(self, conn: Connection, message: dict[str, Any]) -> dict[str, Any] | None:
        async def bad(text: str) -> None:
            await conn.send({"type": "session.error", "code": "invalid_message", "message": text})

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

    async def _bind(self, conn: Connection, event: dict[str, Any]) -> Session | None:
        """The connection's first meaningful message: session.update or session.resume."""
        kind = event["type"]
        if kind == "session.resume":
            session_id = event.get("session_id")
            session = self.sessions.get(session_id) if isinstance(session_id, str) else None
            if session is None or session.ended:
                await self._refuse(conn, "session_not_found",
                                   f"no session {session_id!r} to resume (they last 30 s "
                                   "after a disconnect)")
                return None
            session.received.append(kind)
            session.resumes += 1
            await session.resumed_on(conn)
            return session
        if kind != "session.update":
            await conn.send({"type": "session.error", "code": "session_not_ready",
                             "message": f"{kind} before session.ready: send session.update "
                             "first"})
            return None
        try:
            config = session_config(event.get("session"), self.state,
                                    allow_loopback=self.state.allow_loopback_tools)
        except SessionError as exc:
            await self._refuse(conn, exc.code, exc.message)
            return None
        session = Session(self, config)
        session.received.append(kind)
        self.sessions[session.id] = session
        append_bounded(self.history, session, MAX_SESSION_HISTORY)
        session.recorder.started(session.id, config.get("agent_id"), config)
        if self._drop_pending:
            self._drop_pending = False
            conn.drop_after = self.options.drop_after_events
        await session.attach(conn)
        await session.emit({"type": "session.ready", "session_id": session.id})
        session.start()
        return session

    async def _refuse(self, conn: Connection, code: str, message: str) -> None:
        await conn.send({"type": "session.error", "code": code, "message": message})
        await conn.close(CLOSE_POLICY, code)


def live_routes(state: EmulatorState, options: Any = None) -> tuple[list[Any], LiveService]:
    """The `/v1/ws` route over `state`, and the service behind it (for tests)."""
    from starlette.routing import WebSocketRoute

    service = LiveService(state, options)
    return [WebSocketRoute("/v1/ws", service.endpoint)], service
