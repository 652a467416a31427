"""The agent record: the one home of what every layer must agree on.

Field order, read-only fields, write-only paths (and the mask a read may show in their
place), the defaults the service fills in, and what an id may look like. The client,
the spec layer (rules, plan, export, lint), render and the emulator all read it from
here, so a new secret field is one edit to `WRITE_ONLY_PATHS` (and the tests in
`tests/unit/test_record.py` check that every path listed here is masked by the
emulator and never printed).

Stdlib only: the emulator, the spec layer and render import it.
Source: the reference, `voice-agent-api.md` §4 (ids) and §7 (the record).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

# The order keys appear in a record (the reference's field table, §7.1).
RECORD_ORDER = (
    "id", "name", "system_prompt", "greeting", "voice", "input", "output", "tools",
    "pre_connect_requests", "transfer_targets", "outbound_trunk_id", "caller_id", "llm",
    "created_at", "updated_at",
)
READ_ONLY_FIELDS = ("id", "created_at", "updated_at")
WRITABLE_FIELDS = tuple(f for f in RECORD_ORDER if f not in READ_ONLY_FIELDS)
REQUIRED_ON_CREATE = ("name", "system_prompt", "voice")
# Fields of a list item (`GET /v1/agents`), §7.1.
LIST_ITEM_FIELDS = ("id", "name", "created_at", "updated_at")

# Values the service stores and never returns (§7.1): `[]` marks "every item of a list".
# A new secret field is one line here.
WRITE_ONLY_PATHS = (
    "tools[].http.headers[].value",
    "pre_connect_requests[].http.headers[].value",
    "llm[].api_key",
)
# What older reads (and docs examples) show in a write-only value's place. It is never a
# value to send back: a header named alone keeps its stored value (§7.5).
MASK = "***"
# Header entries: read as {name, last_set_at}, written as {name, value?, remove?} (§7.5).
HEADER_READ_ONLY = ("last_set_at",)

# The defaults the service fills in on read (§7.1-§7.4, §7.9). A spec that does not
# state them is never different from a record that has them.
DEFAULT_FORMAT: dict[str, Any] = {"encoding": "audio/pcm", "sample_rate": 24000}
DEFAULT_INPUT: dict[str, Any] = {"type": "audio", "format": DEFAULT_FORMAT}
DEFAULT_OUTPUT: dict[str, Any] = {"type": "audio", "format": DEFAULT_FORMAT}
TOOL_DEFAULTS: dict[str, Any] = {"timeout_seconds": 120, "execution_mode": "interactive"}
HTTP_DEFAULTS: dict[str, Any] = {"http_method": "POST"}
TURN_DETECTION_DEFAULTS: dict[str, Any] = {
    "vad_threshold": 0.5, "min_silence": 1000, "max_silence": 3000, "interrupt_response": True,
}
DEFAULTS: dict[str, Any] = {
    "greeting": None, "tools": [], "pre_connect_requests": [], "transfer_targets": [],
    "outbound_trunk_id": None, "caller_id": None, "llm": [],
}

# -- ids (§4) -------------------------------------------------------------------------------

AGENT_ID = re.compile(r"^agent_[0-9a-f]{32}$")
TOOL_ID = re.compile(r"^tool_[0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAX_ID = 256


def could_be_id(ref: str) -> bool:
    """Ids are opaque (`agent_<32hex>`, UUIDs, anything the service makes): any string
    that can travel as one path segment might be one. Names with spaces or slashes are
    never ids, so they skip the GET by id."""
    return (
        0 < len(ref) <= _MAX_ID
        and ref.isprintable()
        and not any(ch.isspace() or ch in "/?#%\\" for ch in ref)
        and ref not in (".", "..")
    )


# -- write-only paths ----------------------------------------------------------------------


def _pattern(text: str) -> tuple[str, ...]:
    """'tools[].http.headers[].value' -> ('tools', '[]', 'http', 'headers', '[]', 'value')."""
    out: list[str] = []
    for part in text.split("."):
        if part.endswith("[]"):
            out += [part[:-2], "[]"]
        else:
            out.append(part)
    return tuple(out)


_PATTERNS = tuple(_pattern(p) for p in WRITE_ONLY_PATHS)


def is_write_only(path: Path) -> bool:
    """True for a concrete path like ('tools', 0, 'http', 'headers', 1, 'value')."""
    shape = tuple("[]" if isinstance(p, int) else p for p in path)
    return shape in _PATTERNS


def write_only_containers(record: Any) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """(path of the holder, the holder dict, the key) for every place in `record` that can
    hold a write-only value, whether or not a value is there."""
    for pattern in _PATTERNS:
        yield from _walk(record, pattern, ())


def _walk(node: Any, pattern: tuple[str, ...], path: Path) -> Iterator[
    tuple[Path, dict[str, Any], str]
]:
    if len(pattern) == 1:
        if isinstance(node, dict):
            yield path, node, pattern[0]
        return
    head, rest = pattern[0], pattern[1:]
    if head == "[]":
        for i, item in enumerate(node if isinstance(node, list) else []):
            yield from _walk(item, rest, (*path, i))
    elif isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest, (*path, head))


def write_only_values(record: Any) -> Iterator[tuple[Path, Any]]:
    """(path, value) for every write-only value present in `record`."""
    for path, holder, key in write_only_containers(record):
        if key in holder:
            yield (*path, key), holder[key]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


# "No value here" in a difference (a field one side does not have), distinct from null.
MISSING: Any = _Missing()


def mask_value(path: Path, value: Any) -> Any:
    """`value` (found at `path` of a record) as it may be shown: every write-only leaf in
    it replaced by the mask."""
    if value is MISSING:
        return value
    if is_write_only(path):
        return MASK
    if isinstance(value, dict):
        return {k: mask_value((*path, k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value((*path, i), v) for i, v in enumerate(value)]
    return value


def mask(record: Any) -> Any:
    """A copy fit to show: every write-only value present replaced by the mask."""
    shown = copy.deepcopy(record)
    for _, holder, key in write_only_containers(shown):
        if key in holder and holder[key] not in (None, ""):
            holder[key] = MASK
    return shown


def without_write_only(record: Any) -> Any:
    """A copy with every write-only value removed (what a read returns)."""
    shown = copy.deepcopy(record)
    for _, holder, key in write_only_containers(shown):
        holder.pop(key, None)
    return shown


def is_header_path(path: Path) -> bool:
    """A write-only path that is a header value (kept by naming the header alone)."""
    return len(path) >= 2 and path[-1] == "value" and path[-3:-2] == ("headers",)


def _header_lists(record: Any) -> Iterator[tuple[Path, list[Any]]]:
    for pattern in _PATTERNS:
        if pattern[-3:] == ("headers", "[]", "value"):
            for path, holder, _ in _walk(record, (*pattern[:-3], "headers"), ()):
                headers = holder.get("headers")
                if isinstance(headers, list):
                    yield (*path, "headers"), headers


def headers_of(record: Any) -> Iterator[tuple[Path, list[Any]]]:
    """(path, list) of every header list in a record (tools and pre-connect requests)."""
    yield from _header_lists(record)


def for_write(body: dict[str, Any]) -> dict[str, Any]:
    """A body as the client sends it: read-only fields, tool ids and header `last_set_at`
    dropped, and a mask in a header's value dropped too (the name alone keeps the stored
    value; a read mask is never sent as a value, §7.5). An llm key that is the mask is
    dropped as well (the caller checks that `llm` carries its key)."""
    clean = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY_FIELDS}
    tools = clean.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict):
            tool.pop("id", None)
    for _, headers in _header_lists(clean):
        for header in headers:
            if isinstance(header, dict):
                for key in HEADER_READ_ONLY:
                    header.pop(key, None)
                if header.get("value") in (MASK, None) and "value" in header:
                    header.pop("value")
    llm = clean.get("llm")
    for entry in llm if isinstance(llm, list) else []:
        if isinstance(entry, dict) and entry.get("api_key") in (MASK, "", None):
            entry.pop("api_key", None)
    return clean


def llm_missing_keys(body: dict[str, Any]) -> list[Path]:
    """Where an `llm` entry about to be sent lacks its key (the service needs all three
    fields whenever `llm` is written, §7.8, and reads never return the key)."""
    llm = body.get("llm")
    return [
        ("llm", i, "api_key")
        for i, entry in enumerate(llm if isinstance(llm, list) else [])
        if isinstance(entry, dict) and not entry.get("api_key")
    ]


def mask_text(text: str, secrets: list[str]) -> str:
    """Remove known secrets from free text (an error message, a log line)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def ordered(record: Any) -> Any:
    """The record's keys in RECORD_ORDER, then any others sorted (a newer field)."""
    if not isinstance(record, dict):
        return record
    keys = [k for k in RECORD_ORDER if k in record]
    keys += sorted(k for k in record if k not in RECORD_ORDER)
    return {k: record[k] for k in keys}


def format_path(path: Path) -> str:
    """('tools', 0, 'http', 'url') -> 'tools[0].http.url'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def is_default(path: Path, value: Any) -> bool:
    """True when `value` at `path` is what the service fills in when nothing is said:
    a record holding it is not different from a spec that leaves it out."""
    names = tuple(p for p in path if isinstance(p, str))
    if len(path) == 1 and path[0] in DEFAULTS:
        return value == DEFAULTS[path[0]]
    if names in (("input", "format"), ("output", "format")):
        return value == DEFAULT_FORMAT
    if names in (("input", "type"), ("output", "type")):
        return value == "audio"
    if names[:1] == ("tools",) and len(names) == 2 and names[1] in TOOL_DEFAULTS:
        return value == TOOL_DEFAULTS[names[1]]
    if names[-2:] == ("http", "http_method") and len(names) == 3:
        return value == HTTP_DEFAULTS["http_method"]
    if names == ("input", "turn_detection") and isinstance(value, dict):
        return all(TURN_DETECTION_DEFAULTS.get(k) == v for k, v in value.items())
    if names[:2] == ("input", "turn_detection") and len(names) == 3:
        return TURN_DETECTION_DEFAULTS.get(names[2], object()) == value
    if names == ("input", "keyterms"):
        return value == []
    if names == ("output", "volume"):
        return value == 100
    return False
