"""What must never reach a terminal or a pipe: secrets, and raw control characters.

The one home of both rules. `safe_text` is what every human output primitive of
`render.output` passes its text through; `safe_data` is its counterpart for the plain data
that `-o json|yaml` serialise (JSON and YAML then escape control characters by their own
rules; `escape_json_text` adds the few JSON leaves unescaped).

Secrets: write-only record fields are masked by `mask_record` (by path). Any other place a
secret can surface (a spec field filled from `${ASSEMBLYAI_API_KEY}`, a server echoing a
header value, an error message) is covered by value: the run adds each secret value to its
`SecretSet` (on the Environment, handed to the `Output`), and every string written is
scrubbed of them. Stdlib only: Tab's fast path uses it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from agentctl.record import MASK  # the one home of the mask
from agentctl.secretset import MIN_SECRET, SecretSet


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets` (the run's `SecretSet`, or any values) replaced by ***."""
    ordered = secrets.ordered if isinstance(secrets, SecretSet) else sorted(
        (s for s in secrets if s and len(s) >= MIN_SECRET), key=len, reverse=True)
    for secret in ordered:
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


def safe_text(text: str, secrets: Iterable[str] = (), *, keep_newlines: bool = True) -> str:
    """Text for a terminal or a pipe: `secrets` scrubbed, control characters escaped."""
    return escape_controls(scrub(str(text), secrets), keep_newlines=keep_newlines)


def safe_data(value: Any, secrets: SecretSet | None) -> Any:
    """Plain data (records, plans) with each of `secrets` scrubbed from its strings, keys
    included. Returns `value` itself when there is nothing to scrub."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {safe_data(k, secrets): safe_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_data(v, secrets) for v in value]
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
    """A copy with every write-only value (`agentctl.record.WRITE_ONLY_PATHS`: tool and
    pre-connect header values, LLM keys) replaced by ***."""
    from agentctl.record import mask

    return mask(record) if isinstance(record, dict) else record
