"""The emulator's REST API: a Starlette app that answers like the Voice Agent service.

It follows the reference's E: rules (`voice-agent-api.md`, newest evidence of the live
service): the paged `agents` envelope (§5), the error envelope with `X-Request-Id` (§3),
`agent_`/`tool_` ids (§4), defaults filled on read, header values write-only and read as
`{name, last_set_at}` (§7.5), PUT per §7.10 (omitted fields kept, a present list or object
replaces, `null` clears an optional field) and tokens (§9); built-in tools and the rest
of the API are `platform.py`. The record's checks are `agentctl.spec.rules` (the same as
`agentctl validate`), and what is read-only or write-only comes from `agentctl.record`.

Where no source settles a point the emulator makes its own choice, marked "inferred" here
and in docs/api.md.

Layout: agent records (create, the PUT merge, the public view), handlers, `create_app`
(where the live-session routes plug in). Shared request plumbing is `plumbing.py`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Collection
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentctl import record as rec
from agentctl.emulator import tokens as tokens_mod
from agentctl.emulator.limits import MAX_REQUEST_LOG, append_bounded
from agentctl.emulator.openapi import openapi_json
from agentctl.emulator.plumbing import (
    ApiError,
    EmulatorState,
    authorized,
    deep_merge,
    detail_entry,
    error_response,
    int_param,
    invalid,
    new_id,
    not_found,
    paged_by_position,
    read_object,
    state_of,
)
from agentctl.emulator.plumbing import (
    authenticate as authenticate,  # the live session's import (kept working)
)
from agentctl.emulator.plumbing import (
    key_from_authorization as key_from_authorization,
)
from agentctl.emulator.store import NOW, Store
from agentctl.spec.rules import Problem, check_agent

log = logging.getLogger("agentctl.emulator")

# Old names the live session imported from here (now in record / plumbing).
DEFAULT_INPUT = rec.DEFAULT_INPUT
DEFAULT_OUTPUT = rec.DEFAULT_OUTPUT
__all__ = [
    "DEFAULT_INPUT",
    "DEFAULT_OUTPUT",
    "ApiError",
    "EmulatorState",
    "authenticate",
    "create_app",
    "deep_merge",
    "key_from_authorization",
]

# rules.Problem.kind -> the FastAPI-style `type` of a 422 detail entry.
_DETAIL_TYPES = {
    "missing": "missing",
    "type": "type_error",
    "enum": "enum",
    "range": "value_error",
    "url": "value_error",
    "extra": "extra_forbidden",
    "unknown": "extra_forbidden",
    "value": "value_error",
}
# Lists a `null` clears to `[]`; scalars it clears to null (inferred, §7.10).
_LISTS = ("tools", "pre_connect_requests", "transfer_targets", "llm")


def problems_error(problems: list[Problem]) -> ApiError:
    return invalid([
        detail_entry(("body", *p.path), p.message, _DETAIL_TYPES.get(p.kind, "value_error"))
        for p in problems
    ])


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
    """An unexpected exception becomes a 500 `internal_error` envelope.

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
                response = error_response(ApiError(500, "Internal Server Error"))
                await response(scope, receive, send)


# -- agent records -----------------------------------------------------------------------


def _header_map_to_list(body: dict[str, Any]) -> None:
    """The docs' header map `{"Authorization": "..."}` -> `[{name, value}]` (§7.5)."""
    for section in ("tools", "pre_connect_requests"):
        items = body.get(section)
        for item in items if isinstance(items, list) else []:
            http = item.get("http") if isinstance(item, dict) else None
            headers = http.get("headers") if isinstance(http, dict) else None
            if isinstance(headers, dict):
                http["headers"] = [{"name": str(k), "value": v} for k, v in headers.items()]


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    """A write body: read-only fields and tool ids ignored, header maps as lists,
    header `last_set_at` ignored (it is read-only)."""
    clean = {k: copy.deepcopy(v) for k, v in body.items() if k not in rec.READ_ONLY_FIELDS}
    _header_map_to_list(clean)
    tools = clean.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict):
            tool.pop("id", None)
    for _, headers in rec.headers_of(clean):
        for header in headers:
            if isinstance(header, dict):
                header.pop("last_set_at", None)
    return clean


def _headers(item: Any) -> list[Any]:
    http = item.get("http") if isinstance(item, dict) else None
    headers = http.get("headers") if isinstance(http, dict) else None
    return headers if isinstance(headers, list) else []


def _resolve_headers(
    item: dict[str, Any], old: Any, loc: tuple[str | int, ...], problems: list[dict[str, Any]],
) -> None:
    """Per header (§7.5): `value` sets, the name alone keeps, `remove: true` deletes."""
    http = item.get("http")
    if not isinstance(http, dict) or not isinstance(http.get("headers"), list):
        return
    stored = {
        h["name"].lower(): h.get("value")
        for h in _headers(old) if isinstance(h, dict) and isinstance(h.get("name"), str)
    }
    kept = []
    for j, header in enumerate(http["headers"]):
        if not isinstance(header, dict):
            kept.append(header)
            continue
        if header.get("remove") is True:
            continue
        header.pop("remove", None)
        name = header.get("name")
        if "value" in header:
            header["last_set_at"] = NOW  # this write's time (the store stamps it)
        else:
            value = stored.get(name.lower()) if isinstance(name, str) else None
            if not isinstance(value, str):
                problems.append(detail_entry(
                    ("body", *loc, "http", "headers", j, "value"),
                    f"header {name!r} has no stored value to keep: send its value",
                    "missing"))
                continue
            header["value"] = value
            # The service rewrites every header's last_set_at when the list is replaced.
            header["last_set_at"] = NOW
        kept.append(header)
    http["headers"] = kept


def _resolve_tools(new: Any, old: Any, problems: list[dict[str, Any]]) -> Any:
    """The list sent replaces the stored one; a tool keeps its id (and its header secrets)
    while its name is unchanged (§7.4, §7.10)."""
    if not isinstance(new, list):
        return new
    old_by_name = {t["name"]: t for t in (old or []) if isinstance(t, dict) and "name" in t}
    resolved = []
    for i, tool in enumerate(new):
        if not isinstance(tool, dict):
            resolved.append(tool)
            continue
        before = old_by_name.get(tool.get("name"))
        old_id = before.get("id") if before else None
        tool = {"id": old_id if isinstance(old_id, str) else new_id("tool"), **tool}
        _resolve_headers(tool, before, ("tools", i), problems)
        resolved.append(tool)
    return resolved


def _resolve_pre_connect(new: Any, old: Any, problems: list[dict[str, Any]]) -> Any:
    """Pre-connect header secrets are kept by list position (§7.10)."""
    if not isinstance(new, list):
        return new
    old_list = old if isinstance(old, list) else []
    for i, entry in enumerate(new):
        if isinstance(entry, dict):
            before = old_list[i] if i < len(old_list) else None
            _resolve_headers(entry, before, ("pre_connect_requests", i), problems)
    return new


def _check_llm_keys(body: dict[str, Any]) -> None:
    """`llm` entries need all three fields on write; reads never return the key (§7.8)."""
    llm = body.get("llm")
    missing = [
        detail_entry(("body", "llm", i, "api_key"), "Field required", "missing")
        for i, entry in enumerate(llm if isinstance(llm, list) else [])
        if isinstance(entry, dict) and "api_key" not in entry
    ]
    if missing:
        raise invalid(missing)


_UNKNOWN = ("extra", "unknown")


def _checked(body: dict[str, Any], *, partial: bool, allow_loopback: bool) -> None:
    """422 for every problem but unknown fields: those are dropped, never stored or
    echoed (the emulator's choice, inferred: a field newer than the reference must not
    block a client, and no field a source does not name is ever sent back)."""
    problems = check_agent(body, partial=partial, allow_loopback_urls=allow_loopback,
                           known_voices_only=True)
    for problem in sorted((p for p in problems if p.kind in _UNKNOWN),
                          key=lambda p: len(p.path), reverse=True):
        _drop_path(body, problem.path)
    problems = [p for p in problems if p.kind not in _UNKNOWN]
    if problems:
        raise problems_error(problems)


def _drop_path(body: Any, path: tuple[str | int, ...]) -> None:
    node = body
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def new_agent_fields(body: dict[str, Any], *, allow_loopback_tools: bool) -> dict[str, Any]:
    """A create body -> the stored fields (tool ids, header secrets), or ApiError(422)."""
    body = _clean(body)
    _checked(body, partial=False, allow_loopback=allow_loopback_tools)
    _check_llm_keys(body)
    found: list[dict[str, Any]] = []
    fields = {k: v for k, v in body.items() if v is not None or k not in rec.DEFAULTS}
    fields["tools"] = _resolve_tools(body.get("tools", []), [], found)
    if "pre_connect_requests" in body:
        fields["pre_connect_requests"] = _resolve_pre_connect(
            body["pre_connect_requests"], [], found)
    if found:
        raise invalid(found)
    _voice_from_output(fields)
    return fields


def _voice_from_output(record: dict[str, Any]) -> None:
    """`output.voice` alone names the voice too; kept as sent (§7.3)."""
    output = record.get("output")
    alias = output.get("voice") if isinstance(output, dict) else None
    if "voice" not in record and isinstance(alias, str):
        record["voice"] = {"voice_id": alias}


def merge_update(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A PUT body (cleaned) over a stored record, per §7.10: an omitted field is kept, a
    present list or object replaces, `null` clears an optional field (inferred)."""
    record = copy.deepcopy(current)
    problems: list[dict[str, Any]] = []
    for key, value in body.items():
        if value is None:
            if key in _LISTS:
                record[key] = []
            else:
                record.pop(key, None)
        elif key == "tools":
            record[key] = _resolve_tools(copy.deepcopy(value), current.get("tools"), problems)
        elif key == "pre_connect_requests":
            record[key] = _resolve_pre_connect(
                copy.deepcopy(value), current.get("pre_connect_requests"), problems)
        else:
            record[key] = copy.deepcopy(value)
    if problems:
        raise invalid(problems)
    _voice_from_output(record)
    return record


def with_defaults(record: dict[str, Any]) -> dict[str, Any]:
    """The record with what the service fills in on read (§7.1-§7.4, §7.9)."""
    return _fill_defaults(copy.deepcopy(record))


def _fill_defaults(filled: dict[str, Any]) -> dict[str, Any]:
    """`with_defaults`, in place: `filled` is changed and returned (no copy of it is made)."""
    for key, value in rec.DEFAULTS.items():
        if key not in filled:
            filled[key] = _copied(value)
    filled["input"] = _merged_into(rec.DEFAULT_INPUT, filled.get("input") or {})
    filled["output"] = _merged_into(rec.DEFAULT_OUTPUT, filled.get("output") or {})
    for tool in filled.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        for key, value in rec.TOOL_DEFAULTS.items():
            tool.setdefault(key, value)
        if isinstance(tool.get("http"), dict):
            for key, value in rec.HTTP_DEFAULTS.items():
                tool["http"].setdefault(key, value)
    for entry in filled.get("pre_connect_requests") or []:
        if isinstance(entry, dict) and isinstance(entry.get("http"), dict):
            for key, value in rec.HTTP_DEFAULTS.items():
                entry["http"].setdefault(key, value)
    return filled


def _merged_into(base: Any, change: Any) -> Any:
    """`deep_merge(base, change)` (the same value, keys in the same order) that takes
    `change` over instead of copying it: only what comes from `base` is copied."""
    if not (isinstance(base, dict) and isinstance(change, dict)):
        return change
    merged = {key: _merged_into(value, change.pop(key)) if key in change
              else _copied(value) for key, value in base.items()}
    merged.update(change)
    return merged


def _copied(value: Any) -> Any:
    """A copy of a default (JSON values only: cheaper than `copy.deepcopy`)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the service shows it: defaults filled, in the record's order, every
    write-only value gone (`agentctl.record.WRITE_ONLY_PATHS`) and headers read as
    `{name, last_set_at}`: the time of the write that last sent the header list (§7.5;
    a header stored by an older agentctl shows the agent's `updated_at`).

    `record` is used up (changed in place, not copied: that was most of a GET's cost):
    pass the store's answer, which is every caller's own (parsed anew on each read).
    """
    updated_at = record.get("updated_at")
    shown = _fill_defaults(record)
    for _, holder, key in rec.write_only_containers(shown):
        holder.pop(key, None)
    for _, headers in rec.headers_of(shown):
        for header in headers:
            if isinstance(header, dict):
                header["last_set_at"] = header.get("last_set_at") or updated_at
    return rec.ordered(shown)


def list_item(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in rec.LIST_ITEM_FIELDS}


# -- handlers ----------------------------------------------------------------------------


def _agent_not_found() -> ApiError:
    return not_found("agent_not_found", "Agent not found")


async def agents_collection(request: Request) -> Response:
    state = authorized(request)
    if request.method == "GET":
        return paged_by_position(request, "agents", state.store.agent_page,
                                 state.store.agent_position)
    body = await read_object(request)
    fields = new_agent_fields(body, allow_loopback_tools=state.allow_loopback_tools)
    record = state.store.create_agent(fields)
    return JSONResponse(public_view(record), status_code=201)


async def agent_item(request: Request) -> Response:
    state = authorized(request)
    agent_id = request.path_params["agent_id"]
    if request.method == "GET":
        record = state.store.get_agent(agent_id)
        if record is None:
            raise _agent_not_found()
        return JSONResponse(public_view(record))
    if request.method == "DELETE":
        if not state.store.delete_agent(agent_id):
            raise _agent_not_found()
        return Response(status_code=204)

    body = _clean(await read_object(request))
    sent = {k: v for k, v in body.items() if v is not None}
    _checked(sent, partial=True, allow_loopback=state.allow_loopback_tools)
    body = {k: v for k, v in body.items() if k in sent or v is None}  # unknown ones dropped
    _check_llm_keys(body)

    def change(current: dict[str, Any]) -> dict[str, Any]:
        merged = merge_update(current, body)
        stored = {k: v for k, v in merged.items() if k not in rec.READ_ONLY_FIELDS}
        _checked(stored, partial=False, allow_loopback=state.allow_loopback_tools)
        return merged

    record = state.store.update_agent(agent_id, change)
    if record is None:
        raise _agent_not_found()
    return JSONResponse(public_view(record))


async def token(request: Request) -> Response:
    """`GET /v1/token?expires_in_seconds=N[&max_session_duration_seconds=M]` (§9):
    `{token, expires_in_seconds}`; `expires_in_seconds` is required, 1-600."""
    state = authorized(request)
    seconds = int_param(request, "expires_in_seconds", default=None,
                        lo=tokens_mod.MIN_EXPIRES_IN_SECONDS,
                        hi=tokens_mod.MAX_EXPIRES_IN_SECONDS)
    int_param(request, "max_session_duration_seconds", default=10800, lo=60, hi=10800)
    assert seconds is not None
    return JSONResponse({"token": state.tokens.issue(seconds), "expires_in_seconds": seconds})


async def tokens_post(request: Request) -> Response:
    """`POST /v1/tokens {expires_in_seconds}` (1-600, default 60) -> `{token, expires_at}`
    (the SDK's variant, §9; `expires_at` as ISO 8601 UTC is inferred)."""
    from datetime import datetime, timedelta, timezone

    state = authorized(request)
    body = await read_object(request)
    seconds = body.get("expires_in_seconds", tokens_mod.DEFAULT_EXPIRES_IN_SECONDS)
    lo, hi = tokens_mod.MIN_EXPIRES_IN_SECONDS, tokens_mod.MAX_EXPIRES_IN_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not lo <= seconds <= hi:
        raise invalid([detail_entry(("body", "expires_in_seconds"),
                                    f"must be an integer between {lo} and {hi}",
                                    "value_error")])
    expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)  # noqa: UP017
    return JSONResponse({"token": state.tokens.issue(seconds),
                         "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")})


async def emulator_requests(request: Request) -> Response:
    """The request log: GET reads it, DELETE clears it. No auth: loopback clients only
    (`emulator serve --host 0.0.0.0` must not hand it to the network)."""
    if not is_loopback(request.client.host if request.client else ""):
        raise ApiError(404, "Not Found")
    entries = state_of(request).requests
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
    return error_response(exc, _closing(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = {**(exc.headers or {}), **_closing(request)}
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return error_response(ApiError(exc.status_code, str(exc.detail), code=code), headers)


RouteFactory = Callable[[EmulatorState], list[BaseRoute]]


def create_app(
    store: Store,
    *,
    api_keys: Collection[str] | None = None,
    allow_loopback_tools: bool = False,
    requests: list[dict[str, Any]] | None = None,
    extra_routes: RouteFactory | None = None,
    live: Any = None,
    page_size: int | None = None,
    platform: Any = None,
) -> Starlette:
    """The emulator as an ASGI app over `store`.

    `api_keys`: the accepted keys (None: any well-formed key). `allow_loopback_tools`:
    accept http://127.0.0.1 tool URLs (for live-session tests). `requests`: the list the
    request log appends to (a new one if None; also `app.state.emulator.requests`).
    `extra_routes`: builds more routes from the shared state. `live`: the live session's
    options (`live.LiveOptions` or a dict of them). `page_size`: a list's default `limit`
    and the most a page holds (None: the service's 50 and 200; tests use small pages).
    """
    from agentctl.emulator.plumbing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

    state = EmulatorState(
        store=store,
        api_keys=None if api_keys is None else frozenset(api_keys),
        allow_loopback_tools=allow_loopback_tools,
        requests=[] if requests is None else requests,
        page_size=page_size or DEFAULT_PAGE_SIZE,
        max_page_size=page_size or MAX_PAGE_SIZE,
    )
    routes: list[BaseRoute] = [
        Route("/v1/agents", agents_collection, methods=["GET", "POST"]),
        Route("/v1/agents/{agent_id}", agent_item, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/token", token, methods=["GET"]),
        Route("/v1/tokens", tokens_post, methods=["POST"]),
        Route("/_emulator/requests", emulator_requests, methods=["GET", "DELETE"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    # The live session (WebSocket `/v1/ws`) imports plumbing, not this module.
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
