"""Warnings for likely mistakes in valid specs (offline): `agentctl validate` shows them,
`--strict` fails on them. Run after `diagnostics.strip_read_only` / `validate_documents`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentctl.record import MASK
from agentctl.spec.builtins import RESERVED_TOOL_NAMES
from agentctl.spec.diagnostics import Diagnostic, diagnostic
from agentctl.spec.rules import KNOWN_VOICES

if TYPE_CHECKING:
    from agentctl.spec.load import Path, SpecDocument

__all__ = ["Diagnostic", "lint_documents"]

Warn = Callable[["Path", str], None]

# A header is taken as a credential by its name (Authorization, X-Api-Key, *token*,
# *secret*, ...) or by a value that starts like one (`Bearer ...`); anything else
# (`cal-api-version: 2024-09-04`, `Content-Type`, `Accept`) is configuration that may sit
# in git as a literal.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
SECRET_HEADER_WORDS = ("token", "secret", "key", "password", "passwd", "credential",
                       "signature", "session", "auth")
SECRET_VALUE_SCHEMES = ("bearer ", "basic ", "token ", "digest ")


def is_secret_header(name: str, value: str = "") -> bool:
    """Whether a tool header's value is a credential that belongs in `${VAR}`."""
    lowered = name.strip().lower()
    if lowered in SECRET_HEADERS or any(word in lowered for word in SECRET_HEADER_WORDS):
        return True
    return value.strip().lower().startswith(SECRET_VALUE_SCHEMES)


def lint_documents(docs: list[SpecDocument], *, partial: bool = False) -> list[Diagnostic]:
    """Warnings for every document, in order; duplicate names are checked across all.

    `partial` (specs for an update) skips what only matters for a whole agent.
    """
    found: list[Diagnostic] = []
    names: dict[str, SpecDocument] = {}
    for doc in docs:
        found.extend(_lint(doc, partial))
        name = doc.data.get("name")
        if isinstance(name, str):
            first = names.setdefault(name, doc)
            if first is not doc:
                found.append(diagnostic(
                    doc, ("name",),
                    f"{name!r} is also the name of the agent at {first.where(('name',))}; "
                    "agents are matched by name",
                    "warning",
                ))
    return found


def _lint(doc: SpecDocument, partial: bool) -> list[Diagnostic]:
    data = doc.data
    out: list[Diagnostic] = []

    def warn(path: Path, message: str) -> None:
        out.append(diagnostic(doc, path, message, "warning"))

    voice = data.get("voice")
    if isinstance(voice, dict) and isinstance(voice.get("voice_id"), str):
        _check_voice(("voice", "voice_id"), voice["voice_id"], warn)
    output = data.get("output")
    if isinstance(output, dict) and isinstance(output.get("voice"), str):
        _check_voice(("output", "voice"), output["voice"], warn)
    if not partial and not data.get("greeting"):
        warn(("greeting",), "none set, so the agent waits for the caller to speak first")

    tools = data.get("tools")
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, dict):
            _lint_tool(doc, ("tools", i), tool, partial, warn)

    llm = data.get("llm")
    for i, entry in enumerate(llm if isinstance(llm, list) else []):
        if isinstance(entry, dict):
            _check_secret(doc, ("llm", i, "api_key"), entry.get("api_key"), partial, warn)
    return sorted(out, key=lambda d: d.line)  # file order; stable within a line


def _check_voice(path: Path, voice_id: str, warn: Warn) -> None:
    if voice_id not in KNOWN_VOICES:
        warn(path, f"unknown voice {voice_id!r}: the service refuses voices it does not "
                   "know (the known ones: docs/specs.md)")


def _lint_tool(doc: SpecDocument, path: Path, tool: dict[str, Any], partial: bool,
               warn: Warn) -> None:
    label = f"{tool['name']!r}" if isinstance(tool.get("name"), str) else "this tool"
    own = any(key in tool for key in ("description", "parameters", "http"))
    # (a name that is not a string, which validate reports, may be a list: unhashable)
    reserved = isinstance(tool.get("name"), str) and tool["name"] in RESERVED_TOOL_NAMES
    if reserved and not own:
        return  # a platform tool attached by name (§7.4)
    if reserved:
        warn((*path, "name"), f"{label} is the name of a platform tool (reserved; see "
                              "agentctl builtin-tools): give the agent's own tool another name")
    http = tool.get("http")
    if not isinstance(http, dict):
        if http is None:
            warn(path, f"no http block, so {label} is a client-side tool: nobody answers it "
                       "on a phone call")
        return
    method = http.get("http_method")
    if isinstance(method, str) and method.upper() == "GET":
        nested = _body_shaped(tool.get("parameters"))
        if nested:
            listed = ", ".join(repr(n) for n in nested)
            warn((*path, "http", "http_method"),
                 f"GET sends arguments in the query string, but {listed} "
                 f"{'is' if len(nested) == 1 else 'are'} nested (object or array); "
                 "use POST to send them as a JSON body")
    headers = http.get("headers")
    for j, header in enumerate(headers if isinstance(headers, list) else []):
        if not isinstance(header, dict):
            continue
        name, value = header.get("name"), header.get("value")
        if isinstance(name, str) and not is_secret_header(
                name, value if isinstance(value, str) else ""):
            continue
        hpath = (*path, "http", "headers", j, "value")
        _check_secret(doc, hpath, header.get("value"), partial, warn)


def _check_secret(doc: SpecDocument, path: Path, value: Any, partial: bool, warn: Warn) -> None:
    """A write-only value should come from `${VAR}`, never sit in the file (and in git)."""
    if not isinstance(value, str) or not value or path in doc.variables:
        return
    if value == MASK:
        return  # validate refuses it (the mask is never a value to send)
    warn(path, "looks like a literal secret; use ${VAR}")


def _body_shaped(parameters: Any) -> list[str]:
    """Names of properties that cannot travel flat in a query string."""
    if not isinstance(parameters, dict) or not isinstance(parameters.get("properties"), dict):
        return []
    nested = []
    for name, prop in parameters["properties"].items():
        if not isinstance(prop, dict):
            continue
        types = prop.get("type")
        types = types if isinstance(types, list) else [types]
        if {"object", "array"} & set(t for t in types if isinstance(t, str)) or (
            "properties" in prop or "items" in prop
        ):
            nested.append(name)
    return nested
