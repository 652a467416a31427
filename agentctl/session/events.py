"""Events on the wire: names, audio payloads, and the one-line JSON form for `-o jsonl`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

Event = dict[str, Any]

# Server -> client, as the reference lists them.
SESSION_READY = "session.ready"
SESSION_UPDATED = "session.updated"
SESSION_ERROR = "session.error"
SESSION_ENDED = "session.ended"
SPEECH_STARTED = "input.speech.started"
SPEECH_STOPPED = "input.speech.stopped"
USER_DELTA = "transcript.user.delta"
USER_FINAL = "transcript.user"
REPLY_STARTED = "reply.started"
REPLY_AUDIO = "reply.audio"
AGENT_FINAL = "transcript.agent"
REPLY_DONE = "reply.done"
TOOL_CALL = "tool.call"

# Events agentctl adds to the stream it shows (never sent by the service).
CLIENT_RESUMED = "client.resumed"
REPORT = "report"

# Which field of which event carries base64 audio.
AUDIO_FIELDS = {REPLY_AUDIO: "data", "input.audio": "audio"}


def audio_field(event: Event) -> str | None:
    name = AUDIO_FIELDS.get(str(event.get("type")))
    return name if name is not None and isinstance(event.get(name), str) else None


def decoded_size(text: str) -> int:
    """The byte length of base64 `text` without decoding it."""
    text = text.strip()
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def decode_audio(event: Event) -> bytes:
    """The PCM16 bytes of an audio event (empty when the payload is not base64)."""
    name = audio_field(event)
    if name is None:
        return b""
    try:
        return base64.b64decode(event[name], validate=False)
    except (binascii.Error, ValueError):
        return b""


def summarize(event: Event) -> Event:
    """The event with its audio payload replaced by `{"bytes": N}` (for logs and jsonl)."""
    name = audio_field(event)
    if name is None:
        return event
    return {**event, name: {"bytes": decoded_size(event[name])}}


def json_line(event: Event) -> str:
    return json.dumps(summarize(event), ensure_ascii=False, separators=(", ", ": "))
