"""What must never reach a terminal or a pipe: secrets, and raw control characters.

The one home of both rules. `safe_text` is what every human output primitive of
`render.output` passes its text through; `safe_data` is its counterpart for the plain data
that `-o json|yaml` serialise (JSON and YAML then escape control characters by their own
rules; `escape_json_text` adds the few JSON leaves unescaped).

Secrets: write-only record fields are masked by `mask_record` (by path). Any other place a
secret can surface (a spec field filled from `${ASSEMBLYAI_API_KEY}`, a server echoing a
header value, an error message) is covered by value: the run registers each secret value
(`register_secret`), and every string written is scrubbed of them. Stdlib only: Tab's fast
path uses it too.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
# Shorter values are not scrubbed from free text: "abc" would blank out ordinary words.
# Such a value at a write-only path is still masked there, by path.
MIN_SECRET = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first, so a secret containing another wins


def register_secret(value: str | None) -> None:
    """Never print `value` (nor, for a multi-line value, any of its lines) in this run."""
    global _ordered
    if not value:
        return
    parts = {value, *(line.strip() for line in value.splitlines())}
    new = {p for p in parts if len(p) >= MIN_SECRET} - _secrets
    if not new:
        return
    with _lock:
        _secrets.update(new)
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def register_secrets(values: Iterable[str | None]) -> None:
    for value in values:
        register_secret(value)


def registered_secrets() -> list[str]:
    return list(_ordered)


def forget_secrets() -> None:
    """For tests that run several CLI invocations in one process."""
    global _ordered
    with _lock:
        _secrets.clear()
        _ordered = ()


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every registered secret (and each of `secrets`) replaced by ***."""
    extra = [s for s in secrets if s and len(s) >= MIN_SECRET and s not in _secrets]
    for secret in (*sorted(extra, key=len, reverse=True), *_ordered):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


# C0 controls but \n and \t, DEL, C1 controls, and the bidirectional overrides and isolates
# that make a terminal show text in an order other than its bytes' ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# One-line text (a table cell, a name per line): line breaks and tabs too.
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str, *, keep_newlines: bool = True) -> str:
    """Control characters as Python writes them in a string literal: ESC -> `\\x1b`,
    a line break in a one-line field -> `\\n`, U+202E -> `\\u202e`.

    Newlines and tabs are kept where text is laid out over lines (`keep_newlines`); a
    one-line field (a table cell, a completion candidate) escapes them too.
    """
    pattern = _CONTROL if keep_newlines else _CONTROL_ALL
    return pattern.sub(_escape, text) if pattern.search(text) else text


def safe_text(text: str, *, keep_newlines: bool = True) -> str:
    """Text for a terminal or a pipe: secrets scrubbed, control characters escaped."""
    return escape_controls(scrub(str(text)), keep_newlines=keep_newlines)


def safe_data(value: Any) -> Any:
    """Plain data (records, plans) with every registered secret scrubbed from its strings,
    keys included. Returns `value` itself when there is nothing to scrub."""
    if not _ordered:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {safe_data(k): safe_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_data(v) for v in value]
    return value


# JSON's rules escape U+0000-U+001F; DEL, C1 and the bidi controls pass raw with
# ensure_ascii=False. They are legal as \\u escapes, so serialised JSON gets those too.
_JSON_EXTRA = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def has_bidi_controls(text: str) -> bool:
    return _BIDI.search(text) is not None


def escape_json_text(text: str) -> str:
    """Serialised JSON with the control characters JSON leaves raw written as \\u escapes
    (only ever inside strings, where they can occur at all)."""
    if not _JSON_EXTRA.search(text):
        return text
    return _JSON_EXTRA.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


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
