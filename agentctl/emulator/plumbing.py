"""Request plumbing every emulator route shares: the state, auth, JSON bodies, the error
envelope and paged lists.

REST (`app.py`), the live session (`live.py`) and any other family of routes import it;
it imports none of them (this breaks the old app <-> live import cycle).

Errors follow the reference §3: the envelope `{code, message, param, request_id, errors,
detail}` with an `X-Request-Id` header equal to `request_id`; `detail` is a string, or the
FastAPI `[{loc, msg, type}]` list on a 422. Lists follow §5: `{"<items>": [...],
"has_more": bool, "response_metadata": {"next_cursor": "..."}}`, `limit` 1-200 (default
50) and opaque cursors. The cursor's content (base64 JSON of the offset, the last id seen
and, in the agents list, that item's position in the list's order) is the emulator's own
choice (inferred).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from agentctl.emulator import tokens as tokens_mod
from agentctl.emulator.store import Store

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_API_KEY_LENGTH = 512
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# The message each code gets when the caller gives none.
_MESSAGES = {
    "missing_authorization": "Missing authorization header",
    "unauthorized": "Unauthorized",
    "validation_error": "Request validation failed",
    "method_not_allowed": "Method not allowed",
    "not_found": "Not found",
}
# Status -> the code an error without one gets.
_CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "invalid_request",
          422: "validation_error", 500: "internal_error"}


def new_id(prefix: str) -> str:
    """`<prefix>_<32 hex>` (§4)."""
    return f"{prefix}_{secrets.token_hex(16)}"


class ApiError(Exception):
    """An error answer in the envelope (§3).

    `detail` is what older clients read: a string, or the FastAPI list on a 422 (then
    `errors` is derived from it, one `{message, param}` per entry).
    """

    def __init__(
        self, status: int, detail: Any, *, code: str | None = None,
        message: str | None = None, param: str | None = None,
    ) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.code = code or _CODES.get(status, "invalid_request")
        if message is None:
            message = detail if isinstance(detail, str) else _MESSAGES.get(self.code, "Error")
        self.message = message
        self.param = param

    def body(self, request_id: str) -> dict[str, Any]:
        errors = None
        param = self.param
        if isinstance(self.detail, list):
            errors = [
                {"message": str(e.get("msg")), "param": loc_param(e.get("loc") or [])}
                for e in self.detail if isinstance(e, dict)
            ]
            if param is None and errors:
                param = errors[0]["param"]
        return {"code": self.code, "message": self.message, "param": param,
                "request_id": request_id, "errors": errors, "detail": self.detail}


def loc_param(loc: Iterable[Any]) -> str | None:
    """FastAPI `loc` -> a field path: ['body', 'tools', 0, 'name'] -> 'tools[0].name'."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path") and not out:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def new_request_id() -> str:
    return new_id("req")


def error_response(exc: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = new_request_id()
    return JSONResponse(
        exc.body(request_id), status_code=exc.status,
        headers={**(headers or {}), "X-Request-Id": request_id},
    )


def detail_entry(loc: Iterable[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": type_}


def invalid(entries: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, entries, code="validation_error")


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, message, code=code)


@dataclass
class EmulatorState:
    """Everything the handlers share; on `app.state.emulator`."""

    store: Store
    api_keys: frozenset[str] | None = None
    allow_loopback_tools: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    tokens: tokens_mod.TokenRegistry = field(default_factory=tokens_mod.TokenRegistry)
    page_size: int = DEFAULT_PAGE_SIZE  # a list's default `limit`
    # The most one page holds: the service's 200, or a smaller page size the emulator was
    # started with (so a client asking for 200 still meets several pages in tests).
    max_page_size: int = MAX_PAGE_SIZE
    platform: Any = None  # numbers, calls, sessions, webhooks: `platform.Platform`


def key_from_authorization(header: str | None) -> tuple[str | None, str | None]:
    """(key, None) for a well-formed header, (None, the 401 detail) otherwise."""
    if header is None:
        return None, "Missing authorization header"
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    elif value.lower() == "bearer":
        value = ""
    if (
        not value
        or len(value) > MAX_API_KEY_LENGTH
        or not value.isascii()
        or not value.isprintable()
        or " " in value  # the one printable ASCII space (cheaper than testing each char)
    ):
        return None, "Unauthorized"
    return value, None


def _auth_error(detail: str) -> ApiError:
    code = "missing_authorization" if detail.startswith("Missing") else "unauthorized"
    return ApiError(401, detail, code=code)


def authenticate(state: EmulatorState, header: str | None) -> str:
    """The caller's API key, or ApiError(401). Shared by REST and the WebSocket upgrade."""
    key, problem = key_from_authorization(header)
    if key is None:
        raise _auth_error(problem or "Unauthorized")
    if state.api_keys is not None and key not in state.api_keys:
        raise _auth_error("Unauthorized")
    return key


def state_of(request: Request) -> EmulatorState:
    return request.app.state.emulator


def authorized(request: Request) -> EmulatorState:
    state = state_of(request)
    authenticate(state, request.headers.get("authorization"))
    return state


# -- JSON bodies ------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(body: bytes) -> Any:
    """The body as JSON, or ApiError(422) shaped like FastAPI's."""
    if not body.strip():
        raise invalid([detail_entry(["body"], "Field required", "missing")])
    try:
        value = json.loads(body, parse_constant=_reject_constant)
        # Lone surrogates parse but cannot be stored or sent back as UTF-8.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:
        reason = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        if isinstance(exc, RecursionError) or "surrogate" in reason:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else "invalid text"
        raise invalid(
            [detail_entry(["body"], f"JSON decode error: {reason}", "json_invalid")]
        ) from None
    if _too_deep(value, MAX_JSON_DEPTH):
        raise invalid([detail_entry(
            ["body"], f"JSON decode error: nested deeper than {MAX_JSON_DEPTH} levels",
            "json_invalid")])
    return value


async def read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "Request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request) -> dict[str, Any]:
    value = parse_json(await read_body(request))
    if not isinstance(value, dict):
        raise invalid([detail_entry(
            ["body"], "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type")])
    return value


def deep_merge(base: Any, change: Any) -> Any:
    """`change` over `base`: objects merge key by key, anything else (lists too) replaces."""
    if not (isinstance(base, dict) and isinstance(change, dict)):
        return copy.deepcopy(change)
    merged = copy.deepcopy(base)
    for key, value in change.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


# -- query parameters and paged lists ------------------------------------------------------


def int_param(
    request: Request, name: str, *, default: int | None, lo: int, hi: int,
) -> int | None:
    """A bounded integer query parameter, or ApiError(422) in FastAPI's wording."""
    raw = request.query_params.get(name)
    loc = ["query", name]
    if raw is None:
        if default is None:
            raise invalid([detail_entry(loc, "Field required", "missing")])
        return default
    try:
        value = int(raw)
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise invalid([detail_entry(loc, msg, "int_parsing")]) from None
    if value < lo:
        raise invalid([detail_entry(loc, f"Input should be greater than or equal to {lo}",
                                    "greater_than_equal")])
    if value > hi:
        raise invalid([detail_entry(loc, f"Input should be less than or equal to {hi}",
                                    "less_than_equal")])
    return value


def page_limit(request: Request) -> int:
    """A list's `limit`: 1-200 (422 otherwise), the emulator's page size when absent, and
    never more than its largest page."""
    state = state_of(request)
    limit = int_param(request, "limit", default=state.page_size, lo=1, hi=MAX_PAGE_SIZE)
    assert limit is not None
    return min(limit, state.max_page_size)


# Where an item stands in a list's order, as its store says (agents: created_at, seq).
Position = tuple[str, int]


@dataclass(frozen=True)
class Cursor:
    """What a cursor holds: how many items came before the next page, the id last seen and,
    in the agents list's cursors, that item's position (older cursors have none)."""

    offset: int
    last_id: str
    position: Position | None = None


def _encode_cursor(offset: int, last_id: str, position: Position | None = None) -> str:
    fields: list[Any] = [offset, last_id]
    if position is not None:
        fields += list(position)
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        if not isinstance(fields, list) or len(fields) not in (2, 4):
            raise ValueError
        offset, last_id = fields[:2]
        if not (isinstance(offset, int) and offset >= 0 and isinstance(last_id, str)):
            raise ValueError
        position = None
        if len(fields) == 4:
            created_at, seq = fields[2:]
            if not (isinstance(created_at, str) and isinstance(seq, int)
                    and not isinstance(seq, bool)):
                raise ValueError
            position = (created_at, seq)
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError):
        raise invalid([detail_entry(["query", "cursor"], "Invalid cursor", "value_error")]
                      ) from None
    return Cursor(offset, last_id, position)


def page_response(key: str, page: list[dict[str, Any]], has_more: bool,
                  next_cursor: str) -> JSONResponse:
    """The §5 envelope; `next_cursor` is "" on the last page."""
    return JSONResponse({key: page, "has_more": has_more,
                         "response_metadata": {"next_cursor": next_cursor if has_more else ""}})


def paged(request: Request, key: str, items: Sequence[dict[str, Any]]) -> JSONResponse:
    """One page of `items` (newest first, each with an `id`) in the §5 envelope under `key`.

    A cursor names the id last seen and its offset: when items were deleted meanwhile the
    page starts after that id if it is still there, else at the offset (no item is shown
    twice; one created meanwhile shows up on a new listing, as newest-first lists do).
    Lists the store can page itself use `paged_by_position` instead.
    """
    limit = page_limit(request)
    start = 0
    cursor = request.query_params.get("cursor")
    if cursor:
        decoded = _decode_cursor(cursor)
        offset, last_id = decoded.offset, decoded.last_id
        if 0 < offset <= len(items) and items[offset - 1].get("id") == last_id:
            start = offset  # nothing moved since the last page: no search (a long list's pages)
        else:
            ids = [item.get("id") for item in items]
            start = ids.index(last_id) + 1 if last_id in ids else min(offset, len(items))
    page = list(items[start:start + limit])
    has_more = start + limit < len(items)
    next_cursor = _encode_cursor(start + len(page), str(page[-1]["id"])) if has_more else ""
    return page_response(key, page, has_more, next_cursor)


# (limit, after, skip) -> up to `limit` items, newest first, each with its position.
PageFetch = Callable[..., list[tuple[dict[str, Any], Position]]]


def paged_by_position(
    request: Request, key: str, fetch: PageFetch,
    position_of: Callable[[str], Position | None],
) -> JSONResponse:
    """One page in the §5 envelope under `key`, read from a store that pages itself
    (`Store.agent_page`): the cost is the page's, not the list's (keyset paging).

    The cursor carries the position of the item last seen, so the next page starts right
    after it whatever was created or deleted meanwhile, that item included: no item is
    shown twice or skipped; one created meanwhile shows up on a new listing, as
    newest-first lists do. A cursor without a position (an older emulator's, or made by
    hand) is read as before: after its id if that is still there, else at its offset.
    """
    limit = page_limit(request)
    after: Position | None = None
    skip = 0
    cursor_text = request.query_params.get("cursor")
    if cursor_text:
        cursor = _decode_cursor(cursor_text)
        after = cursor.position or position_of(cursor.last_id)
        skip = cursor.offset
    rows = fetch(limit + 1, after=after, skip=0 if after is not None else skip)
    has_more = len(rows) > limit
    rows = rows[:limit]
    page = [item for item, _ in rows]
    next_cursor = ""
    if has_more:
        last, position = rows[-1]
        next_cursor = _encode_cursor(skip + len(page), str(last["id"]), position)
    return page_response(key, page, has_more, next_cursor)
