"""The platform's built-in tools (reference §14) and its reserved tool names (§17).

One home: the emulator serves `BUILTIN_TOOLS` at `GET /v1/builtin-tools`, and `validate`
refuses an agent's own tool named like one of `RESERVED_TOOL_NAMES`. The descriptions and
parameter schemas are the emulator's own wording (inferred); the names are the service's.
"""

from __future__ import annotations

from typing import Any

BUILTIN_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "aai_credit_card_luhn_check",
        "description": "Check a card number the caller gave with the Luhn checksum.",
        "parameters": {
            "type": "object",
            "properties": {"card_number": {"type": "string"}},
            "required": ["card_number"],
        },
        "execution_mode": "interactive",
    },
    {
        "name": "aai_pre_connect_context",
        "description": "What the agent's pre-connect requests returned before the call.",
        "parameters": {"type": "object", "properties": {}},
        "execution_mode": "interactive",
    },
)

# Names the platform keeps for itself: the built-in tools and the phone transfer tool.
RESERVED_TOOL_NAMES: frozenset[str] = frozenset(
    {*(tool["name"] for tool in BUILTIN_TOOLS), "aai_transfer_call"}
)
