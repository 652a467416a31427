"""Write-only values never leave agentctl: mask them in anything shown or printed."""

from __future__ import annotations

import copy
from typing import Any

MASK = "***"


def mask_record(record: Any) -> Any:
    """A copy with tool header values and LLM API keys replaced by ***."""
    if not isinstance(record, dict):
        return record
    masked = copy.deepcopy(record)
    for tool in masked.get("tools") or []:
        http = tool.get("http") if isinstance(tool, dict) else None
        if isinstance(http, dict):
            for header in http.get("headers") or []:
                if isinstance(header, dict) and "value" in header:
                    header["value"] = MASK
    for entry in masked.get("llm") or []:
        if isinstance(entry, dict) and entry.get("api_key"):
            entry["api_key"] = MASK
    return masked


def scrub(text: str, secrets: list[str]) -> str:
    """Remove known secrets (the API key) from free text such as an error message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
