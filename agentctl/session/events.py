"""Events on the wire: names (from `agentctl.protocol`), audio payloads, and the one-line
JSON form for `-o jsonl`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from agentctl.protocol import (  # noqa: F401  (re-exported: the session's vocabulary)
    AGENT_DELTA,
    AGENT_FINAL,
    AUDIO_FIELDS,
    REPLY_AUDIO,
    REPLY_CREATE,
    REPLY_DONE,
    REPLY_ERROR,
    REPLY_STARTED,
    SESSION_END,
    SESSION_ENDED,
    SESSION_ERROR,
    SESSION_READY,
    SESSION_RESUME,
    SESSION_UPDATE,
    SESSION_UPDATED,
    SPEECH_STARTED,
    SPEECH_STOPPED,
    TOOL_CALL,
    TOOL_RESULT,
    USER_DELTA,
    USER_FINAL,
)

Event = dict[str, Any]

# Events agentctl adds to the stream it shows (never sent by the service).
CLIENT_RESUMED = "client.resumed"
REPORT = "report"


def audio_field(event: Event) -> str | None:
    name = AUDIO_FIELDS.get(str(event.get("type")))
    return name if name is not None and isinstance(event.get(name), str) else None


def decoded_size(text: str) -> int:
    """The byte length of base64 `text` without decoding it."""
    text = text.strip()
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def decode_audio(event: Event) -> bytes:
    """The bytes of an audio event, in the session's encoding (empty when not base64)."""
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
