"""`get --export`: a server record -> a spec that create -f / apply -f accept unchanged.

Read-only fields go (`id`, timestamps, tool ids, header `last_set_at`); every write-only
value (`agentctl.record.WRITE_ONLY_PATHS`: tool and pre-connect header values, the LLM
key) becomes a `${VAR}` placeholder, since reads never return them.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from agentctl.record import (
    HEADER_READ_ONLY,
    READ_ONLY_FIELDS,
    headers_of,
    is_default,
    write_only_values,
)


def variable_name(*parts: str) -> str:
    """Stable placeholder names: ('get_weather', 'Authorization') -> GET_WEATHER_AUTHORIZATION."""
    text = "_".join(parts)
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return name if name and not name[0].isdigit() else f"V_{name}"


def export_spec(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The spec and the variables its secrets need (in order of appearance)."""
    spec = {k: copy.deepcopy(v) for k, v in record.items() if k not in READ_ONLY_FIELDS}
    # What the service fills in when nothing is said (null, [], ...) is left unsaid.
    spec = {k: v for k, v in spec.items() if v is not None and not is_default((k,), v)}
    variables: list[str] = []

    def claim(name: str) -> str:
        candidate, n = name, 2
        while candidate in variables:
            candidate, n = f"{name}_{n}", n + 1
        variables.append(candidate)
        return "${" + candidate + "}"

    voice = spec.get("voice")
    output = spec.get("output")
    # The service echoes voice.voice_id into output.voice: keep one source of truth.
    echoed = isinstance(output, dict) and isinstance(voice, dict) and (
        output.get("voice") == voice.get("voice_id")
    )
    if echoed:
        output.pop("voice")
    for tool in spec.get("tools") or []:
        if isinstance(tool, dict):
            tool.pop("id", None)
    for path, headers in headers_of(spec):
        owner = _owner(spec, path)
        for header in headers:
            if isinstance(header, dict):
                for key in HEADER_READ_ONLY:
                    header.pop(key, None)
                header["value"] = claim(variable_name(owner, str(header.get("name", "header"))))
    for index, entry in enumerate(spec.get("llm") or []):
        if isinstance(entry, dict):  # reads never return the key: it is always needed
            entry["api_key"] = claim(variable_name("llm", str(index), "api_key")
                                     if index else "LLM_API_KEY")
    return spec, variables


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def secret_placeholders(spec: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    """Where `export_spec` put a `${VAR}` for a write-only value: path -> variable name."""
    found: dict[tuple[str | int, ...], str] = {}

    def note(path: tuple[str | int, ...], value: Any) -> None:
        match = _PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
        if match:
            found[path] = match.group(1)

    for path, value in write_only_values(spec):
        note(path, value)
    return found


def _owner(spec: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """A placeholder's prefix: the tool's name, or `pre_connect_<i>`."""
    if path[0] == "tools":
        return str(spec["tools"][path[1]].get("name", "tool"))
    return f"{path[0]}_{path[1]}".replace("_requests", "")
