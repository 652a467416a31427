"""Diagnostics: the agent record's rules applied to loaded spec documents, offline.

The rules themselves live in `rules.py` (shared with the emulator, so `validate` and the
service agree); this module places each problem at `file:line: field path` and decides
what is an error and what is a warning. `read.py` runs it fail-first or collect-all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentctl.errors import SpecError
from agentctl.record import (
    MASK,
    READ_ONLY_FIELDS,
    format_path,
    headers_of,
    write_only_values,
)
from agentctl.spec.rules import check_agent

if TYPE_CHECKING:
    from agentctl.spec.load import Path, SpecDocument

Severity = Literal["error", "warning"]
# `$schema` points an editor at schema.json; it is no field of the agent, so it is dropped
# silently before anything is checked or sent.
EDITOR_KEYS = ("$schema",)


@dataclass(frozen=True)
class Diagnostic:
    """One finding, placed in a spec file."""

    source: str
    line: int
    path: str  # "tools[0].http.url", or "" for the document as a whole
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        if self.path:
            return f"{self.source}:{self.line}: {self.path}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"


def diagnostic(
    doc: SpecDocument, path: Path, message: str, severity: Severity = "error"
) -> Diagnostic:
    """A Diagnostic for a field path of `doc` (the line of its nearest present ancestor)."""
    from agentctl.spec.load import one_line

    shown = one_line(format_path(path)) if path else ""
    return Diagnostic(one_line(doc.source), doc.line_of(path), shown, one_line(message), severity)


def strip_read_only(doc: SpecDocument) -> list[Diagnostic]:
    """Remove read-only fields from `doc.data`, in place; one warning for each.

    `id`, `created_at`, `updated_at` and `tools[].id` appear in `get -o yaml` output; they
    are dropped so that output can be fed back to `create -f` / `apply -f`.
    """
    warnings: list[Diagnostic] = []
    data = doc.data
    for key in EDITOR_KEYS:
        data.pop(key, None)
    for key in READ_ONLY_FIELDS:
        if key in data:
            warnings.append(diagnostic(doc, (key,), "read-only field ignored", "warning"))
            del data[key]
    tools = data.get("tools")
    if isinstance(tools, list):
        for i, tool in enumerate(tools):
            if isinstance(tool, dict) and "id" in tool:
                warnings.append(
                    diagnostic(doc, ("tools", i, "id"), "read-only field ignored", "warning")
                )
                del tool["id"]
    for path, headers in headers_of(data):
        for j, header in enumerate(headers):
            if isinstance(header, dict) and "last_set_at" in header:
                warnings.append(diagnostic(doc, (*path, j, "last_set_at"),
                                           "read-only field ignored", "warning"))
                del header["last_set_at"]
    return sorted(warnings, key=lambda d: d.line)


def collect_problems(
    doc: SpecDocument, partial: bool = False, *, allow_loopback_urls: bool = False
) -> list[Diagnostic]:
    """Every schema error in `doc`, in file order. Does not modify the document.

    `partial` is for an update: nothing is required, only what is present is checked.
    `allow_loopback_urls` admits http://localhost tool URLs (for the local emulator).
    """
    body: Any = {k: v for k, v in doc.data.items() if k not in EDITOR_KEYS}
    problems = check_agent(body, partial=partial, allow_loopback_urls=allow_loopback_urls)
    # An unknown field with no close known one may be newer than agentctl: a warning,
    # and it is sent as is. A near miss ("did you mean") is an error.
    found = [diagnostic(doc, p.path, p.message, "warning" if p.kind == "unknown" else "error")
             for p in problems]
    for path, value in write_only_values(body):
        if value == MASK:
            found.append(diagnostic(
                doc, path, f'"{MASK}" is the mask a read shows, not a value; leave `value` '
                "out to keep the stored one, or give the secret as ${VAR}"))
    return sorted(found, key=lambda d: d.line)  # stable: same line keeps the rules' order


def validate_documents(
    docs: list[SpecDocument], *, partial: bool = False, allow_loopback_urls: bool = False
) -> list[str]:
    """Strip read-only fields and check every document; return the warnings.

    Raises SpecError for the first error (`file:line: field: message`); the hint counts
    the rest, which `agentctl validate` lists in full (it uses `collect_problems`).
    """
    warnings: list[str] = []
    errors: list[Diagnostic] = []
    warnings_found: list[Diagnostic] = []
    for doc in docs:
        warnings.extend(str(w) for w in strip_read_only(doc))
        for found in collect_problems(doc, partial=partial,
                                      allow_loopback_urls=allow_loopback_urls):
            (errors if found.severity == "error" else warnings_found).append(found)
    warnings.extend(str(w) for w in warnings_found)
    if errors:
        rest = len(errors) - 1
        hint = None
        if rest:
            noun = "problem" if rest == 1 else "problems"
            hint = f"and {rest} more {noun}; run agentctl validate for all"
        raise SpecError(str(errors[0]), hint=hint)
    return warnings


def load_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (`agentctl schema`), shipped as package data."""
    from importlib import resources

    text = resources.files("agentctl.spec").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
