"""`get --export`: a server record -> a spec that create -f / apply -f accept unchanged."""

from __future__ import annotations

import copy
import re
from typing import Any

from agentctl.spec.rules import MASK, READ_ONLY_FIELDS


def variable_name(*parts: str) -> str:
    """Stable placeholder names: ('get_weather', 'Authorization') -> GET_WEATHER_AUTHORIZATION."""
    text = "_".join(parts)
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return name if name and not name[0].isdigit() else f"V_{name}"


def export_spec(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The spec and the variables its secrets need (in order of appearance)."""
    spec = {k: copy.deepcopy(v) for k, v in record.items() if k not in READ_ONLY_FIELDS}
    spec = {k: v for k, v in spec.items() if v is not None}
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
        if not isinstance(tool, dict):
            continue
        tool.pop("id", None)
        http = tool.get("http")
        if isinstance(http, dict):
            for header in http.get("headers") or []:
                if isinstance(header, dict) and "value" in header:
                    header["value"] = claim(variable_name(str(tool.get("name", "tool")),
                                                          str(header.get("name", "header"))))
                    for extra in [k for k in header if k not in ("name", "value")]:
                        header.pop(extra)
    for index, entry in enumerate(spec.get("llm") or []):
        if isinstance(entry, dict) and entry.get("api_key") in (MASK, ""):
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

    for i, tool in enumerate(spec.get("tools") or []):
        http = tool.get("http") if isinstance(tool, dict) else None
        headers = http.get("headers") if isinstance(http, dict) else None
        for j, header in enumerate(headers if isinstance(headers, list) else []):
            if isinstance(header, dict):
                note(("tools", i, "http", "headers", j, "value"), header.get("value"))
    for i, entry in enumerate(spec.get("llm") or []):
        if isinstance(entry, dict):
            note(("llm", i, "api_key"), entry.get("api_key"))
    return found
