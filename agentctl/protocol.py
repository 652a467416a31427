"""The Voice Agent live protocol, spelled once (voice-agent-api.md §15).

Event names, the fields that matter, the `session.error` catalogue (§15.5), close codes,
audio encodings (§7.9) and id prefixes (§4). The client (`agentctl.session`) and the
emulator (`agentctl.emulator.live`) both import this module, so the two cannot drift
apart. Stdlib only, no behaviour beyond small pure helpers.
"""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

# -- client -> server (§15.2) -----------------------------------------------------------
SESSION_UPDATE = "session.update"
SESSION_RESUME = "session.resume"
INPUT_AUDIO = "input.audio"
TOOL_RESULT = "tool.result"
REPLY_CREATE = "reply.create"
REPLY_CANCEL = "reply.cancel"
CONVERSATION_MESSAGE = "conversation.message"
SESSION_END = "session.end"
CLIENT_EVENTS = (SESSION_UPDATE, SESSION_RESUME, INPUT_AUDIO, TOOL_RESULT, REPLY_CREATE,
                 REPLY_CANCEL, CONVERSATION_MESSAGE, SESSION_END)

# -- server -> client (§15.3); each carries `timestamp`, float Unix seconds -------------
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
AGENT_DELTA = "transcript.agent.delta"
AGENT_FINAL = "transcript.agent"
REPLY_DONE = "reply.done"
REPLY_ERROR = "reply.error"
TOOL_CALL = "tool.call"
SERVER_EVENTS = (SESSION_READY, SESSION_UPDATED, SESSION_ERROR, SESSION_ENDED, SPEECH_STARTED,
                 SPEECH_STOPPED, USER_DELTA, USER_FINAL, REPLY_STARTED, REPLY_AUDIO,
                 AGENT_DELTA, AGENT_FINAL, REPLY_DONE, REPLY_ERROR, TOOL_CALL)

# Which field of which event carries base64 audio (in the session's encoding).
AUDIO_FIELDS = {REPLY_AUDIO: "data", INPUT_AUDIO: "audio"}

# Events agentctl adds to the stream it shows (never sent by the service).
CLIENT_RESUMED = "client.resumed"
REPORT = "report"

# `reply.done` statuses: the schema's two, and the two the SDK's prose adds.
REPLY_COMPLETED = "completed"
REPLY_INTERRUPTED = "interrupted"
REPLY_CANCELLED = "cancelled"
REPLY_FAILED = "failed"

# -- session.update (§15.2) ---------------------------------------------------------------
# `session` holds `agent_id` alone, or any of these (no other keys).
INLINE_FIELDS = ("system_prompt", "greeting", "input", "output", "tools", "llm",
                 "pre_connect_requests", "webhook")
WEBHOOK_FIELDS = ("url", "events", "secret")
# Fixed once the session is ready (§15.6); `output.volume` may change.
IMMUTABLE_FIELDS = ("greeting", "output.voice", "output.format", "output.type")
CONVERSATION_ROLES = ("user", "system")

# -- session.error codes (§15.5), the whole catalogue -------------------------------------
AGENT_ID_NOT_FIRST = "agent_id_not_first"
AGENT_NOT_FOUND = "agent_not_found"
AT_CAPACITY = "at_capacity"
CONCURRENCY_EXCEEDED = "concurrency_exceeded"
AUDIO_RATE_VIOLATION = "audio_rate_violation"
IMMUTABLE_FIELD = "immutable_field"
INVALID_AUDIO = "invalid_audio"
INVALID_CONFIG = "invalid_config"
INVALID_FORMAT = "invalid_format"
INVALID_VALUE = "invalid_value"
INVALID_WEBHOOK = "invalid_webhook"
SESSION_EXPIRED = "session_expired"
SESSION_FORBIDDEN = "session_forbidden"
SESSION_NOT_FOUND = "session_not_found"
UNAUTHORIZED = "unauthorized"
INTERNAL_ERROR = "internal_error"
ERROR_CODES = frozenset({
    AGENT_ID_NOT_FIRST, AGENT_NOT_FOUND, AT_CAPACITY, CONCURRENCY_EXCEEDED,
    AUDIO_RATE_VIOLATION, IMMUTABLE_FIELD, INVALID_AUDIO, INVALID_CONFIG, INVALID_FORMAT,
    INVALID_VALUE, INVALID_WEBHOOK, SESSION_EXPIRED, SESSION_FORBIDDEN, SESSION_NOT_FOUND,
    UNAUTHORIZED, INTERNAL_ERROR,
})
# After these the service closes the socket (1008): the session cannot go on.
TERMINAL_CODES = frozenset({
    AGENT_NOT_FOUND, UNAUTHORIZED, SESSION_EXPIRED, SESSION_FORBIDDEN, SESSION_NOT_FOUND,
    AUDIO_RATE_VIOLATION, AT_CAPACITY, CONCURRENCY_EXCEEDED,
})

# -- close codes --------------------------------------------------------------------------
CLOSE_NORMAL = 1000  # after session.ended
CLOSE_POLICY = 1008  # after an auth or policy refusal
CLOSE_ABNORMAL = 1006  # a drop: no close frame (never sent, only seen)

# -- ids (§4) -------------------------------------------------------------------------------
SESSION_PREFIX = "sess_"
REPLY_PREFIX = "resp_"
ITEM_PREFIX = "msg_"

# -- audio (§7.9) ---------------------------------------------------------------------------
PCM = "audio/pcm"
PCMU = "audio/pcmu"  # G.711 μ-law
PCMA = "audio/pcma"  # G.711 A-law
ENCODING_RATES = {PCM: 24000, PCMU: 8000, PCMA: 8000}
BYTES_PER_SAMPLE = {PCM: 2, PCMU: 1, PCMA: 1}
DEFAULT_ENCODING = PCM

RESUME_WINDOW = 30.0  # seconds a session is kept after a disconnect (§15.7)
# How far ahead of real time the emulator lets audio run before `audio_rate_violation`
# (§15.9: the service's threshold is unknown; 2 s is the reference's inferred figure).
RATE_GUARD_AHEAD = 2.0


def audio_format(section: Any) -> tuple[str, int]:
    """An `input` or `output` section -> (encoding, sample rate); PCM 24 kHz when unset.

    Telephony encodings are 8 kHz whatever `sample_rate` says (the schema has none).
    """
    fmt = section.get("format") if isinstance(section, dict) else None
    encoding = fmt.get("encoding") if isinstance(fmt, dict) else None
    if encoding not in ENCODING_RATES:
        encoding = DEFAULT_ENCODING
    return encoding, ENCODING_RATES[encoding]


def audio_field(event: Event) -> str | None:
    """The name of the field that carries the event's base64 audio, if it has one."""
    name = AUDIO_FIELDS.get(str(event.get("type")))
    return name if name is not None and isinstance(event.get(name), str) else None


def decoded_size(text: str) -> int:
    """The byte length of base64 `text` without decoding it."""
    text = text.strip()
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def summarize(event: Event) -> Event:
    """The event with its audio payload replaced by `{"bytes": N}` (for logs and jsonl)."""
    name = audio_field(event)
    if name is None:
        return event
    return {**event, name: {"bytes": decoded_size(event[name])}}
