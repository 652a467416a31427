"""An agent's configuration as a live session needs it: the inline `session.update` of a
spec document, and the audio settings (rates, trailing silence) read from a config."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from agentctl import protocol as P

if TYPE_CHECKING:
    from agentctl.spec.load import SpecDocument

# What a spec may hold that an inline session.update takes (the protocol's inline fields;
# `webhook` has no place in an agent spec).
INLINE_FIELDS = tuple(k for k in P.INLINE_FIELDS if k != "webhook")
IGNORED_QUIETLY = ("name", "voice", "id", "created_at", "updated_at")


def inline_session(doc: SpecDocument) -> tuple[dict[str, Any], list[str]]:
    """One spec document -> (the inline `session` to send, warnings about ignored fields).
    A document without `system_prompt` is a SpecError (an inline session needs one)."""
    data = doc.data
    if "system_prompt" not in data:
        raise doc.error(("system_prompt",), "field required (an inline session needs one)")
    session = {k: copy.deepcopy(data[k]) for k in INLINE_FIELDS if k in data}
    for tool in session.get("tools") or []:
        if isinstance(tool, dict):
            tool.pop("id", None)
    voice = data.get("voice")
    if isinstance(voice, dict) and isinstance(voice.get("voice_id"), str):
        output = dict(session.get("output") or {})
        output.setdefault("voice", voice["voice_id"])
        session["output"] = output
    warnings = [f"{doc.where((key,))}: {key}: not part of an inline session; ignored"
                for key in data if key not in INLINE_FIELDS and key not in IGNORED_QUIETLY]
    return session, warnings


def audio_rate(config: dict[str, Any], section: str) -> int:
    """The sample rate of `input` or `output`: 24000 for PCM, 8000 for μ-law/A-law."""
    return P.audio_format(config.get(section))[1]


def audio_encoding(config: dict[str, Any], section: str) -> str:
    """The encoding of `input` or `output` (`audio/pcm` unless the format says otherwise);
    the session runner converts to and from it (`SessionPlan.input_encoding`)."""
    return P.audio_format(config.get(section))[0]


def trailing_silence_ms(config: dict[str, Any]) -> int:
    """Silence after a recording so the turn surely ends: past min_silence and max_silence."""
    part = config.get("input")
    td = part.get("turn_detection") if isinstance(part, dict) else None
    td = td if isinstance(td, dict) else {}
    low = td.get("min_silence") if isinstance(td.get("min_silence"), int) else 1000
    high = td.get("max_silence") if isinstance(td.get("max_silence"), int) else 3000
    return max(low + 500, high)


def client_tools(config: dict[str, Any]) -> list[str]:
    """The names of the tools the client must answer (those without `http`)."""
    return [str(t["name"]) for t in config.get("tools") or []
            if isinstance(t, dict) and isinstance(t.get("name"), str) and not t.get("http")]
