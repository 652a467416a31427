"""The Sessions API (§10) in the emulator: a record per live session, and its artifacts.

The live session (`live.py`) reports to a `SessionRecorder` at four points, and knows
nothing else of this module:

    recorder.started(session_id, agent_id, config)   # bound: status `created`
    recorder.client_event(session_id, event)          # each event the client sent
    recorder.server_event(session_id, event)          # each event the session emitted
    recorder.ended(session_id, reason, config)        # over: status `completed`

From those it keeps the record (`created` while connected, `completed` after, duration,
`public_close_reason`, the configuration as it ran) and, at the end, three artifacts:

- the recording, stereo, user on the left and agent on the right, 24 kHz. The service
  serves Ogg/Opus; the emulator serves WAV (PCM16) instead, because writing Opus needs a
  native codec that no well-kept pure-Python package provides (PyAV would, at the price
  of a ~60 MB FFmpeg build for an emulator). The channel layout is the service's.
  The user's audio is laid down as it arrives; an agent reply starts no earlier than the
  user audio received so far (the agent answers what it heard), so the two channels line
  up by audio time, whatever pace client and emulator run at (inferred).
- the timeline (JSON): turns with a `trigger` (`greeting`, `user`, `reply_create`,
  `tool_result`), the user's transcript and confidence, the agent's words, tool calls,
  configuration changes and an `ended` block; empty lists omitted.
- the metadata (JSON): §10's fields, with `format` "wav/pcm16" and the file's name.

Artifact URLs are presigned (HMAC over path and expiry, no key needed; a request that
also carries `Authorization` is refused, as S3 refuses two auth mechanisms) and expire
after `ARTIFACT_TTL` seconds; a fresh `GET /v1/sessions/{id}` gives fresh ones.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import io
import time
import wave
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agentctl.emulator.resources import endpoint, envelope_response, not_found, now_iso, page

if TYPE_CHECKING:
    from agentctl.emulator.platform import Platform

KIND = "session"
RECORDING_RATE = 24000
MAX_RECORDED_SECONDS = 600  # per channel: a longer session's recording stops there
_MAX_SAMPLES = MAX_RECORDED_SECONDS * RECORDING_RATE
ARTIFACT_TTL = 300.0
CONFIG_KEYS = ("system_prompt", "greeting", "input", "output", "tools", "llm",
               "pre_connect_requests")
LIST_KEYS = ("id", "agent_id", "status", "public_close_reason", "duration_seconds",
             "created_at", "ended_at")
ARTIFACTS = (
    ("audio", "recording/audio.wav", "audio/wav"),
    ("timeline", "timeline.json", "application/json"),
    ("metadata", "metadata.json", "application/json"),
)
# live.py's end reasons -> (public_close_reason, the timeline's reason). Only `client_end`
# and "user initiated" are the service's words; the others are inferred.
CLOSE_REASONS = {
    "client": ("client_end", "user initiated"),
    "client_end": ("client_end", "user initiated"),
    "expired": ("connection_lost", "client disconnected and did not resume"),
    "call_ended": ("call_ended", "the call ended"),
}


def _mulaw_table() -> list[int]:
    table = []
    for byte in range(256):
        value = ~byte & 0xFF
        sign, exponent, mantissa = value & 0x80, (value >> 4) & 0x07, value & 0x0F
        sample = ((mantissa << 3) + 0x84) << exponent
        sample -= 0x84
        table.append(-sample if sign else sample)
    return table


def _alaw_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte ^ 0x55
        sign, exponent, mantissa = value & 0x80, (value >> 4) & 0x07, value & 0x0F
        sample = (mantissa << 4) + 8
        if exponent:
            sample = (sample + 0x100) << (exponent - 1)
        table.append(sample if sign else -sample)
    return table


_TABLES: dict[str, list[int]] = {}


def decode_audio(data: bytes, encoding: str) -> array:
    """PCM16 samples of one chunk in the session's encoding (PCM16, μ-law or A-law)."""
    if encoding in ("audio/pcmu", "audio/pcma"):
        if encoding not in _TABLES:
            _TABLES[encoding] = _mulaw_table() if encoding == "audio/pcmu" else _alaw_table()
        table = _TABLES[encoding]
        return array("h", (table[b] for b in data))
    samples = array("h")
    samples.frombytes(data[: len(data) // 2 * 2])
    return samples


def resample(samples: array, rate: int) -> array:
    """To the recording's rate (nearest sample: enough for a recording to listen to)."""
    if rate == RECORDING_RATE or not samples:
        return samples
    count = len(samples) * RECORDING_RATE // rate
    return array("h", (samples[i * rate // RECORDING_RATE] for i in range(count)))


def _format(config: dict[str, Any], section: str) -> tuple[str, int]:
    fmt = (config.get(section) or {}).get("format") or {}
    encoding = fmt.get("encoding") if isinstance(fmt.get("encoding"), str) else "audio/pcm"
    rate = fmt.get("sample_rate")
    if not isinstance(rate, int) or rate <= 0:
        rate = 8000 if encoding in ("audio/pcmu", "audio/pcma") else 24000
    return encoding, rate


def config_as_run(session_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the session ran it, without secrets (header values, LLM keys)."""
    shown: dict[str, Any] = {"id": session_id}
    for key in CONFIG_KEYS:
        shown[key] = copy.deepcopy(config.get(key))
    shown["tools"] = shown["tools"] or []
    shown["pre_connect_requests"] = shown["pre_connect_requests"] or []
    for tool in shown["tools"]:
        http = tool.get("http") if isinstance(tool, dict) else None
        for header in (http or {}).get("headers") or []:
            if isinstance(header, dict):
                header.pop("value", None)
    if isinstance(shown.get("llm"), list):
        for entry in shown["llm"]:
            if isinstance(entry, dict):
                entry.pop("api_key", None)
    return shown


@dataclass
class Recording:
    """What one live session said and heard, while it runs."""

    session_id: str
    agent_id: str | None
    started: float
    in_format: tuple[str, int]
    out_format: tuple[str, int]
    left: array = field(default_factory=lambda: array("h"))
    right: array = field(default_factory=lambda: array("h"))
    turns: list[dict[str, Any]] = field(default_factory=list)
    config_changes: list[dict[str, Any]] = field(default_factory=list)
    next_trigger: str | None = None
    uploaded_chunks: int = 0

    def at(self) -> float:
        return round(time.time() - self.started, 3)

    def current(self) -> dict[str, Any] | None:
        return self.turns[-1] if self.turns else None


class SessionRecorder:
    """Session records from what a live session reports (see the module's docstring)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.live: dict[str, Recording] = {}

    # -- the four hooks ---------------------------------------------------------------------
    def started(self, session_id: str, agent_id: str | None, config: dict[str, Any]) -> None:
        self.live[session_id] = Recording(
            session_id, agent_id, time.time(), _format(config, "input"),
            _format(config, "output"))
        record = {"id": session_id, "agent_id": agent_id, "status": "created",
                  "public_close_reason": None, "duration_seconds": None,
                  "created_at": now_iso(), "ended_at": None,
                  "config": config_as_run(session_id, config), "artifacts": []}
        self.platform.resources.put(KIND, record)
        self.platform.webhook_event("session.started", session_id, agent_id,
                                    {"session_id": session_id, "agent_id": agent_id})

    def client_event(self, session_id: str, event: dict[str, Any]) -> None:
        rec = self.live.get(session_id)
        if rec is None:
            return
        kind = event.get("type")
        if kind == "input.audio":
            if len(rec.left) < _MAX_SAMPLES:
                rec.left.extend(self._decode(event.get("audio"), rec.in_format))
            rec.uploaded_chunks += 1
        elif kind == "reply.create":
            rec.next_trigger = "reply_create"
        elif kind == "tool.result":
            rec.next_trigger = "tool_result"
            for turn in reversed(rec.turns):
                for call in turn.get("tool_calls", []):
                    if call.get("call_id") == event.get("call_id"):
                        call["result"] = event.get("result")
                        call["is_error"] = bool(event.get("is_error", False))
        elif kind == "session.update":
            changed = sorted(k for k in (event.get("session") or {}) if k in CONFIG_KEYS)
            if changed:
                rec.config_changes.append({"at_seconds": rec.at(), "fields": changed})

    def server_event(self, session_id: str, event: dict[str, Any]) -> None:
        rec = self.live.get(session_id)
        if rec is None:
            return
        kind = event.get("type")
        if kind == "reply.audio":
            if len(rec.right) < _MAX_SAMPLES:
                rec.right.extend(self._decode(event.get("data"), rec.out_format))
        elif kind == "transcript.user":
            rec.turns.append({"trigger": "user", "started_at_seconds": rec.at(),
                              "user_transcript": event.get("text"), "user_confidence": 1.0,
                              "agent_transcript": None, "tool_calls": []})
            rec.next_trigger = None
        elif kind == "reply.started":
            turn = rec.current()
            if turn is None or turn.get("agent_transcript") is not None or turn.get("replying"):
                trigger = rec.next_trigger or ("greeting" if not rec.turns else "reply_create")
                turn = {"trigger": trigger, "started_at_seconds": rec.at(),
                        "user_transcript": None, "user_confidence": None,
                        "agent_transcript": None, "tool_calls": []}
                rec.turns.append(turn)
            turn["replying"] = True
            turn["reply_id"] = event.get("reply_id")
            rec.next_trigger = None
            # The agent answers what it heard: no earlier than the user audio so far.
            if len(rec.right) < min(len(rec.left), _MAX_SAMPLES):
                rec.right.extend(array("h", bytes(2 * (len(rec.left) - len(rec.right)))))
        elif kind == "transcript.agent":
            turn = rec.current()
            if turn is not None:
                turn["agent_transcript"] = event.get("text")
                turn["interrupted"] = bool(event.get("interrupted"))
        elif kind == "reply.done":
            turn = rec.current()
            if turn is not None:
                turn.pop("replying", None)
                turn["reply_status"] = event.get("status")
        elif kind == "tool.call":
            turn = rec.current()
            if turn is None:
                turn = {"trigger": rec.next_trigger or "reply_create",
                        "started_at_seconds": rec.at(), "user_transcript": None,
                        "user_confidence": None, "agent_transcript": None, "tool_calls": []}
                rec.turns.append(turn)
            arguments = event.get("arguments", event.get("args"))
            turn["tool_calls"].append({"call_id": event.get("call_id"),
                                       "name": event.get("name"), "arguments": arguments})
        elif kind == "session.updated":
            pass

    def ended(self, session_id: str, reason: str, config: dict[str, Any] | None = None) -> None:
        rec = self.live.pop(session_id, None)
        if rec is None:
            return
        duration = round(time.time() - rec.started, 2)
        public_reason, timeline_reason = CLOSE_REASONS.get(reason, (reason, reason))
        self._finish(rec, duration, public_reason, timeline_reason, config)

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _decode(data: Any, fmt: tuple[str, int]) -> array:
        if not isinstance(data, str):
            return array("h")
        try:
            raw = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            return array("h")
        return resample(decode_audio(raw, fmt[0]), fmt[1])

    def _finish(self, rec: Recording, duration: float, public_reason: str,
                timeline_reason: str, config: dict[str, Any] | None) -> None:
        store = self.platform.resources
        length = max(len(rec.left), len(rec.right))
        for channel in (rec.left, rec.right):
            channel.extend(array("h", bytes(2 * (length - len(channel)))))
        stereo = array("h", bytes(4 * length))
        stereo[0::2] = rec.left
        stereo[1::2] = rec.right
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(RECORDING_RATE)
            wav.writeframes(stereo.tobytes())
        turns = []
        for turn in rec.turns:
            turn = {k: v for k, v in turn.items() if k not in ("replying",)}
            if not turn.get("tool_calls"):
                turn.pop("tool_calls", None)
            turns.append(turn)
        timeline: dict[str, Any] = {"session_id": rec.session_id}
        if turns:
            timeline["turns"] = turns
        if rec.config_changes:
            timeline["config_changes"] = rec.config_changes
        timeline["ended"] = {"at_seconds": duration, "reason": timeline_reason,
                             "public_reason": public_reason}
        metadata = {"session_id": rec.session_id, "format": "wav/pcm16", "channels": 2,
                    "channel_layout": "stereo", "sample_rate": RECORDING_RATE,
                    "file": f"{rec.session_id}/recording/audio.wav",
                    "uploaded_chunks": rec.uploaded_chunks, "dropped_chunks": 0}
        import json

        store.put_blob(f"{rec.session_id}/recording/audio.wav", buffer.getvalue())
        store.put_blob(f"{rec.session_id}/timeline.json", json.dumps(timeline, indent=2).encode())
        store.put_blob(f"{rec.session_id}/metadata.json", json.dumps(metadata, indent=2).encode())

        def complete(record: dict[str, Any]) -> dict[str, Any]:
            done = {**record, "status": "completed", "public_close_reason": public_reason,
                    "duration_seconds": duration, "ended_at": now_iso()}
            if config is not None:
                done["config"] = config_as_run(rec.session_id, config)
            return done

        record = store.update(KIND, rec.session_id, complete)
        if record is not None:
            self.platform.webhook_event(
                "session.completed", rec.session_id, rec.agent_id,
                {"session_id": rec.session_id, "agent_id": rec.agent_id,
                 "duration_seconds": duration, "public_close_reason": public_reason})


# -- presigned artifact links --------------------------------------------------------------


def _signature(secret: bytes, path: str, expires: int) -> str:
    return hmac.new(secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def presign(platform: Platform, base_url: str, path: str) -> str:
    expires = int(time.time() + platform.options.artifact_ttl)
    if platform.options.expired_links > 0:  # test hook: links issued already expired
        platform.options.expired_links -= 1
        expires = int(time.time()) - 1
    query = urlencode({"expires": expires, "signature": _signature(platform.secret, path,
                                                                    expires)})
    return f"{base_url.rstrip('/')}{path}?{query}"


def list_item(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in LIST_KEYS}


def routes(platform: Platform) -> list[BaseRoute]:
    store = platform.resources

    def lookup(request: Request) -> dict[str, Any]:
        session_id = request.path_params["session_id"]
        found = store.get(KIND, session_id)
        if found is None:
            raise not_found("session_not_found", f"session {session_id}")
        return found

    @endpoint
    async def collection(request: Request) -> Response:
        status = request.query_params.get("status")
        agent_id = request.query_params.get("agent_id")
        rows = [(seq, r) for seq, r in store.items(KIND)
                if (status is None or r.get("status") == status)
                and (agent_id is None or r.get("agent_id") == agent_id)]
        return page(request, "sessions", rows, list_item)

    @endpoint
    async def item(request: Request) -> Response:
        record = lookup(request)
        if request.method == "DELETE":
            store.delete(KIND, record["id"])
            store.delete_blobs(f"{record['id']}/")
            store.delete_children("delivery", record["id"])
            platform.recorder.live.pop(record["id"], None)
            return Response(status_code=204)
        shown = {**list_item(record), "config": record.get("config"), "artifacts": []}
        if record.get("status") == "completed":
            base = str(request.base_url)
            shown["artifacts"] = [
                {"type": kind, "url": presign(platform, base, f"/artifacts/{record['id']}/{name}"),
                 "content_type": content_type}
                for kind, name, content_type in ARTIFACTS
            ]
        return JSONResponse(shown)

    async def artifact(request: Request) -> Response:
        """GET a presigned artifact: no key; the signature and expiry in the query."""
        path = request.url.path
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            expires = 0
        given = request.query_params.get("signature", "")
        if "authorization" in request.headers:
            return envelope_response(400, "invalid_request", "a presigned URL takes no"
                                     " Authorization header: send one auth mechanism only")
        if not hmac.compare_digest(given, _signature(platform.secret, path, expires)):
            return envelope_response(403, "forbidden", "the signature does not match")
        if time.time() > expires:
            return envelope_response(403, "expired", "the link has expired: get the session"
                                     " again for a fresh one")
        name = path.removeprefix("/artifacts/")
        data = store.get_blob(name)
        if data is None:
            return envelope_response(404, "not_found", "no such artifact")
        content_type = next((c for _, n, c in ARTIFACTS if name.endswith(n)),
                            "application/octet-stream")
        return Response(data, media_type=content_type)

    return [
        Route("/v1/sessions", collection, methods=["GET"]),
        Route("/v1/sessions/{session_id}", item, methods=["GET", "DELETE"]),
        Route("/artifacts/{session_id}/{name:path}", artifact, methods=["GET"]),
    ]
