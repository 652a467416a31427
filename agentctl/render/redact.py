"""Write-only values never leave agentctl: mask them in anything shown or printed."""

from __future__ import annotations

from typing import Any

from agentctl.record import MASK, mask

__all__ = ["MASK", "mask_record", "scrub"]


def mask_record(record: Any) -> Any:
    """A copy with every write-only value (`agentctl.record.WRITE_ONLY_PATHS`) replaced
    by ***: tool and pre-connect header values, LLM keys."""
    return mask(record) if isinstance(record, dict) else record


def scrub(text: str, secrets: list[str]) -> str:
    """Remove known secrets (the API key) from free text such as an error message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
