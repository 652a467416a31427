"""The emulator's HTTP API: a Starlette app that answers like the Voice Agent service.

The shapes follow `voice-agent-api.md` (the project's reference page) exactly: bare JSON
array for the list, FastAPI-style `{"detail": ...}` errors, write-only values masked, and
the same validation rules as `agentctl validate` (`agentctl.spec.rules`).

Layout of this module:
- request plumbing: auth, JSON bodies, errors (`ApiError`), the request log;
- agent records: defaults, create, the PUT merge (with "***" = keep), the public view;
- handlers and `create_app`, which is where the live-session routes (`/v1/ws`) plug in.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentctl.emulator import tokens as tokens_mod
from agentctl.emulator.limits import MAX_REQUEST_LOG, append_bounded
from agentctl.emulator.openapi import openapi_json
from agentctl.emulator.store import Store
from agentctl.spec.rules import MASK, Problem, check_agent

log = logging.getLogger("agentctl.emulator")

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_API_KEY_LENGTH = 512

DEFAULT_FORMAT = {"encoding": "audio/pcm", "sample_rate": 24000}
DEFAULT_INPUT: dict[str, Any] = {
    "type": "audio",
    "format": DEFAULT_FORMAT,
    "keyterms": [],
    "turn_detection": {
        "vad_threshold": 0.5,
        "min_silence": 1000,
        "max_silence": 3000,
        "interrupt_response": True,
    },
}
DEFAULT_OUTPUT: dict[str, Any] = {"type": "audio", "format": DEFAULT_FORMAT, "volume": 100}

# The order keys appear in a record, as in the reference's example.
RECORD_ORDER = (
    "id",
    "name",
    "system_prompt",
    "greeting",
    "voice",
    "input",
    "output",
    "tools",
    "llm",
    "created_at",
    "updated_at",
)
READ_ONLY = ("id", "created_at", "updated_at")
# Sections whose objects a PUT deep-merges; everything else (lists included) is replaced.
MERGED_SECTIONS = ("voice", "input", "output")

# rules.Problem.kind -> the FastAPI-style `type` of a 422 detail entry.
_DETAIL_TYPES = {
    "missing": "missing",
    "type": "type_error",
    "enum": "enum",
    "range": "value_error",
    "url": "value_error",
    "extra": "extra_forbidden",
    "value": "value_error",
}


# -- plumbing ----------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: `{"detail": detail}` with `status`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


def detail_entry(loc: Iterable[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": type_}


def invalid(entries: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, entries)


def problems_error(problems: list[Problem]) -> ApiError:
    return invalid(
        [
            detail_entry(("body", *p.path), p.message, _DETAIL_TYPES.get(p.kind, "value_error"))
            for p in problems
        ]
    )


@dataclass
class EmulatorState:
    """Everything the handlers share; on `app.state.emulator`."""

    store: Store
    api_keys: frozenset[str] | None = None
    allow_loopback_tools: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    tokens: tokens_mod.TokenRegistry = field(default_factory=tokens_mod.TokenRegistry)
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
        or any(ch.isspace() for ch in value)
    ):
        return None, "Unauthorized"
    return value, None


def authenticate(state: EmulatorState, header: str | None) -> str:
    """The caller's API key, or ApiError(401). Shared by REST and the WebSocket upgrade."""
    key, problem = key_from_authorization(header)
    if key is None:
        raise ApiError(401, problem)
    if state.api_keys is not None and key not in state.api_keys:
        raise ApiError(401, "Unauthorized")
    return key


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
        raise invalid(
            [
                detail_entry(
                    ["body"],
                    f"JSON decode error: nested deeper than {MAX_JSON_DEPTH} levels",
                    "json_invalid",
                )
            ]
        )
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
        raise invalid(
            [
                detail_entry(
                    ["body"],
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                )
            ]
        )
    return value


class RequestLogMiddleware:
    """Appends `{"method", "path", "status"}` for every request, before the client sees it.

    `/_emulator/...` (the log itself) is not logged. A WebSocket upgrade is logged as
    `GET` with 101 once accepted, or with the status it was refused with.
    """

    def __init__(self, app: ASGIApp, log: list[dict[str, Any]]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        logged = False

        async def send_and_log(message: Message) -> None:
            nonlocal logged
            status = None
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and not logged:
                status = 403
            if status is not None and not logged:
                logged = True
                append_bounded(self.log, {"method": method, "path": scope["path"],
                                          "status": status}, MAX_REQUEST_LOG)
            await send(message)

        await self.app(scope, receive, send_and_log)


class CatchAllMiddleware:
    """An unexpected exception becomes `500 {"detail": "Internal Server Error"}`.

    The exception is logged and kept in `EmulatorState.errors` (tests assert it stays
    empty); it is not re-raised, so the server's own logging stays quiet.
    """

    def __init__(self, app: ASGIApp, errors: list[BaseException]) -> None:
        self.app = app
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except ClientDisconnect:
            # The client hung up before its body arrived: no one to answer, no fault of ours.
            log.debug("emulator: client left during %s %s", scope["method"], scope["path"])
        except Exception as exc:
            self.errors.append(exc)
            log.exception("emulator: unexpected error on %s %s", scope["method"], scope["path"])
            if not started:
                response = JSONResponse({"detail": "Internal Server Error"}, status_code=500)
                await response(scope, receive, send)


# -- agent records -----------------------------------------------------------------------


def deep_merge(base: Any, change: Any) -> Any:
    """`change` over `base`: objects merge key by key, anything else (lists too) replaces."""
    if not (isinstance(base, dict) and isinstance(change, dict)):
        return copy.deepcopy(change)
    merged = copy.deepcopy(base)
    for key, value in change.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


def strip_read_only(body: dict[str, Any]) -> dict[str, Any]:
    """A copy without `id`, `created_at`, `updated_at` and tool ids (they are ignored)."""
    clean = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY}
    tools = clean.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict):
                tool.pop("id", None)
    return clean


def _output_voice(body: dict[str, Any]) -> str | None:
    output = body.get("output")
    if isinstance(output, dict) and isinstance(output.get("voice"), str):
        return output["voice"]
    return None


def echo_voice(record: dict[str, Any]) -> None:
    """The service echoes `voice.voice_id` into `output.voice`."""
    voice, output = record.get("voice"), record.get("output")
    voice_id = voice.get("voice_id") if isinstance(voice, dict) else None
    if isinstance(voice_id, str) and isinstance(output, dict):
        output["voice"] = voice_id


def _headers_of(tool: Any) -> list[Any]:
    http = tool.get("http") if isinstance(tool, dict) else None
    headers = http.get("headers") if isinstance(http, dict) else None
    return headers if isinstance(headers, list) else []


def _masks_on_create(record: dict[str, Any]) -> list[dict[str, Any]]:
    """'***' means "keep the stored value", and on create nothing is stored."""
    entries = []
    msg = "'***' keeps a stored value, and a new agent has none: send the value itself"
    for i, tool in enumerate(record.get("tools") or []):
        for j, header in enumerate(_headers_of(tool)):
            if isinstance(header, dict) and header.get("value") == MASK:
                loc = ("body", "tools", i, "http", "headers", j, "value")
                entries.append(detail_entry(loc, msg, "value_error"))
    llm = record.get("llm")
    for i, entry in enumerate(llm if isinstance(llm, list) else []):
        if isinstance(entry, dict) and entry.get("api_key") == MASK:
            entries.append(detail_entry(("body", "llm", i, "api_key"), msg, "value_error"))
    return entries


def new_agent_fields(body: dict[str, Any], *, allow_loopback_tools: bool) -> dict[str, Any]:
    """A create body -> the stored fields (defaults filled, tool ids), or ApiError(422)."""
    body = strip_read_only(body)
    problems = check_agent(body, partial=False, allow_loopback_urls=allow_loopback_tools)
    if problems:
        raise problems_error(problems)
    masked = _masks_on_create(body)
    if masked:
        raise invalid(masked)

    record: dict[str, Any] = {"name": body["name"], "system_prompt": body["system_prompt"]}
    if body.get("greeting") is not None:
        record["greeting"] = body["greeting"]
    if "voice" in body:
        record["voice"] = body["voice"]
    else:
        record["voice"] = {"voice_id": _output_voice(body)}
    record["input"] = deep_merge(DEFAULT_INPUT, body.get("input", {}))
    record["output"] = deep_merge(DEFAULT_OUTPUT, body.get("output", {}))
    echo_voice(record)
    record["tools"] = [{"id": str(uuid.uuid4()), **tool} for tool in body.get("tools", [])]
    if "llm" in body:
        record["llm"] = body["llm"]
    # Again on the result: a rule may span a sent value and a default (min/max_silence).
    problems = check_agent(record, partial=False, allow_loopback_urls=allow_loopback_tools)
    if problems:
        raise problems_error(problems)
    return record


def _resolve_tools(new_tools: Any, old_tools: Any, problems: list[dict[str, Any]]) -> Any:
    """Tools replace the old list; a tool keeps its id by name; header '***' keeps."""
    if not isinstance(new_tools, list):
        return new_tools
    old_by_name = {t["name"]: t for t in (old_tools or []) if isinstance(t, dict) and "name" in t}
    resolved = []
    for i, tool in enumerate(new_tools):
        if not isinstance(tool, dict):
            resolved.append(tool)
            continue
        old = old_by_name.get(tool.get("name"))
        old_id = old.get("id") if old else None
        tool = {"id": old_id if isinstance(old_id, str) else str(uuid.uuid4()), **tool}
        old_values = {
            h["name"].lower(): h.get("value")
            for h in _headers_of(old)
            if isinstance(h, dict) and isinstance(h.get("name"), str)
        }
        for j, header in enumerate(_headers_of(tool)):
            if not (isinstance(header, dict) and header.get("value") == MASK):
                continue
            name = header.get("name")
            kept = old_values.get(name.lower()) if isinstance(name, str) else None
            if isinstance(kept, str):
                header["value"] = kept
            else:
                problems.append(
                    detail_entry(
                        ("body", "tools", i, "http", "headers", j, "value"),
                        f"'***' keeps the stored value, but tool {tool.get('name')!r} has no"
                        f" stored header {name!r}: send the value itself",
                        "value_error",
                    )
                )
        resolved.append(tool)
    return resolved


def _resolve_llm(new_llm: Any, old_llm: Any, problems: list[dict[str, Any]]) -> Any:
    """`api_key` omitted or '***' keeps the stored key of the entry at the same index."""
    if not isinstance(new_llm, list):
        return new_llm
    old_entries = old_llm if isinstance(old_llm, list) else []
    for i, entry in enumerate(new_llm):
        if not isinstance(entry, dict) or entry.get("api_key", MASK) != MASK:
            continue
        old = old_entries[i] if i < len(old_entries) else None
        kept = old.get("api_key") if isinstance(old, dict) else None
        if isinstance(kept, str):
            entry["api_key"] = kept
        elif "api_key" in entry:
            problems.append(
                detail_entry(
                    ("body", "llm", i, "api_key"),
                    "'***' keeps the stored key, but there is none: send the key itself",
                    "value_error",
                )
            )
    return new_llm


def merge_update(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Apply a PUT body (already stripped of read-only fields) to a stored record."""
    record = copy.deepcopy(current)
    problems: list[dict[str, Any]] = []
    for key, value in body.items():
        if key in MERGED_SECTIONS:
            record[key] = deep_merge(record.get(key), value)
        elif key == "tools":
            record["tools"] = _resolve_tools(copy.deepcopy(value), current.get("tools"), problems)
        elif key == "llm":
            record["llm"] = _resolve_llm(copy.deepcopy(value), current.get("llm"), problems)
        elif key == "greeting" and value is None:
            record.pop("greeting", None)
        else:
            record[key] = copy.deepcopy(value)
    if problems:
        raise invalid(problems)
    voice_alias = _output_voice(body)
    if "voice" not in body and voice_alias is not None:
        record["voice"] = {"voice_id": voice_alias}
    echo_voice(record)
    return record


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the service shows it: header values '***', no `llm[].api_key`."""
    shown = {key: copy.deepcopy(record[key]) for key in RECORD_ORDER if key in record}
    shown.update({k: copy.deepcopy(v) for k, v in record.items() if k not in shown})
    for tool in shown.get("tools") or []:
        for header in _headers_of(tool):
            if isinstance(header, dict) and "value" in header:
                header["value"] = MASK
    llm = shown.get("llm")
    for entry in llm if isinstance(llm, list) else []:
        if isinstance(entry, dict):
            entry.pop("api_key", None)
    return shown


def _is_agent_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# -- handlers ----------------------------------------------------------------------------


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator


def _authorized(request: Request) -> EmulatorState:
    state = _state(request)
    authenticate(state, request.headers.get("authorization"))
    return state


def _not_found() -> ApiError:
    return ApiError(404, "Agent not found")


async def agents_collection(request: Request) -> Response:
    state = _authorized(request)
    if request.method == "GET":
        return JSONResponse(state.store.list_agents())
    body = await read_object(request)
    fields = new_agent_fields(body, allow_loopback_tools=state.allow_loopback_tools)
    record = state.store.create_agent(fields)
    return JSONResponse(public_view(record), status_code=201)


async def agent_item(request: Request) -> Response:
    state = _authorized(request)
    agent_id = request.path_params["agent_id"]
    if request.method == "GET":
        record = state.store.get_agent(agent_id) if _is_agent_id(agent_id) else None
        if record is None:
            raise _not_found()
        return JSONResponse(public_view(record))
    if request.method == "DELETE":
        if not (_is_agent_id(agent_id) and state.store.delete_agent(agent_id)):
            raise _not_found()
        return Response(status_code=204)

    body = strip_read_only(await read_object(request))
    problems = check_agent(body, partial=True, allow_loopback_urls=state.allow_loopback_tools)
    if problems:
        raise problems_error(problems)
    if not _is_agent_id(agent_id):
        raise _not_found()

    def change(current: dict[str, Any]) -> dict[str, Any]:
        merged = merge_update(current, body)
        stored = {k: v for k, v in merged.items() if k not in READ_ONLY}
        found = check_agent(stored, partial=False, allow_loopback_urls=state.allow_loopback_tools)
        if found:
            raise problems_error(found)
        return merged

    record = state.store.update_agent(agent_id, change)
    if record is None:
        raise _not_found()
    return JSONResponse(public_view(record))


async def token(request: Request) -> Response:
    """`GET /v1/token?expires_in_seconds=N` -> `{"token": ...}`, a one-time token."""
    state = _authorized(request)
    raw = request.query_params.get("expires_in_seconds")
    seconds = tokens_mod.DEFAULT_EXPIRES_IN_SECONDS
    loc = ["query", "expires_in_seconds"]
    if raw is not None:
        try:
            seconds = int(raw)
        except ValueError:
            msg = "Input should be a valid integer, unable to parse string as an integer"
            raise invalid([detail_entry(loc, msg, "int_parsing")]) from None
    lo, hi = tokens_mod.MIN_EXPIRES_IN_SECONDS, tokens_mod.MAX_EXPIRES_IN_SECONDS
    if not lo <= seconds <= hi:
        raise invalid([detail_entry(loc, f"must be between {lo} and {hi}", "value_error")])
    return JSONResponse({"token": state.tokens.issue(seconds)})


async def emulator_requests(request: Request) -> Response:
    """The request log: GET reads it, DELETE clears it. No auth: loopback clients only
    (`emulator serve --host 0.0.0.0` must not hand it to the network)."""
    if not is_loopback(request.client.host if request.client else ""):
        raise ApiError(404, "Not Found")
    entries = _state(request).requests
    if request.method == "DELETE":
        del entries[:]
        return Response(status_code=204)
    return JSONResponse(list(entries))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (and ::ffff:127.x.y.z): this machine."""
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _closing(request: Request) -> dict[str, str]:
    """An error may answer before the request's body was read (a 401 checks the header
    first); the unread bytes would then be taken for the next request on a keep-alive
    connection, so such a connection is closed, as HTTP servers do."""
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    return {"Connection": "close"} if has_body else {}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status, headers=_closing(request)
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = {**(exc.headers or {}), **_closing(request)}
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


RouteFactory = Callable[[EmulatorState], list[BaseRoute]]


def create_app(
    store: Store,
    *,
    api_keys: Collection[str] | None = None,
    allow_loopback_tools: bool = False,
    requests: list[dict[str, Any]] | None = None,
    extra_routes: RouteFactory | None = None,
    live: Any = None,
    platform: Any = None,
) -> Starlette:
    """The emulator as an ASGI app over `store`.

    `api_keys`: the accepted keys (None: any well-formed key). `allow_loopback_tools`:
    accept http://127.0.0.1 tool URLs (for live-session tests). `requests`: the list the
    request log appends to (a new one if None; also `app.state.emulator.requests`).
    `extra_routes`: builds more routes from the shared state; this is where the live
    session's `WebSocketRoute("/v1/ws", ...)` plugs in (auth via `authenticate()` or
    `state.tokens.redeem()`). `live`: the live session's options (`live.LiveOptions` or
    a dict of them: script, speed, resume_window, drop_after_events).
    """
    state = EmulatorState(
        store=store,
        api_keys=None if api_keys is None else frozenset(api_keys),
        allow_loopback_tools=allow_loopback_tools,
        requests=[] if requests is None else requests,
    )
    routes: list[BaseRoute] = [
        Route("/v1/agents", agents_collection, methods=["GET", "POST"]),
        Route("/v1/agents/{agent_id}", agent_item, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/token", token, methods=["GET"]),
        # The live session: WebSocket `/v1/ws` comes from `live.py` (below).
        Route("/_emulator/requests", emulator_requests, methods=["GET", "DELETE"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    from agentctl.emulator.live import live_routes

    live_route_list, live_service = live_routes(state, live)
    routes.extend(live_route_list)
    from agentctl.emulator.platform import platform_routes

    routes.extend(platform_routes(state, live_service.options, platform))
    if extra_routes is not None:
        routes.extend(extra_routes(state))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLogMiddleware, log=state.requests),
            Middleware(CatchAllMiddleware, errors=state.errors),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.emulator = state
    app.state.live = live_service
    return app
