"""The session's vocabulary: the protocol's names (`agentctl.protocol`, re-exported) and
decoding an audio event's payload."""

from __future__ import annotations

import base64
import binascii

from agentctl.protocol import (  # noqa: F401  (re-exported: the session's vocabulary)
    AGENT_DELTA,
    AGENT_FINAL,
    AUDIO_FIELDS,
    CLIENT_RESUMED,
    REPLY_AUDIO,
    REPLY_CREATE,
    REPLY_DONE,
    REPLY_ERROR,
    REPLY_STARTED,
    REPORT,
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
    Event,
    audio_field,
    decoded_size,
    summarize,
)


def decode_audio(event: Event) -> bytes:
    """The bytes of an audio event, in the session's encoding (empty when not base64)."""
    name = audio_field(event)
    if name is None:
        return b""
    try:
        return base64.b64decode(event[name], validate=False)
    except (binascii.Error, ValueError):
        return b""
