"""Webhook subscriptions and deliveries (§13) in the emulator.

Deliveries are POSTed for real, signed `X-AAI-Signature: t=<unix>,v1=<hex HMAC-SHA256(
secret, "<t>." + body)>`, but only to loopback receivers, and only when the switch that
lets HTTP tools call loopback URLs is on (`--allow-loopback-tools`); any other URL gets a
delivery recorded as `failed` with the reason, and nothing leaves the machine. Attempts:
at most `DELIVERY_ATTEMPTS`, `RETRY_DELAYS` apart, each with a `DELIVERY_TIMEOUT`; a 2xx
answer is delivered. The payload beyond `event` and the retry schedule are the
emulator's own choice (inferred: the reference lists both as open questions).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agentctl.emulator.resources import (
    api_error,
    body_object,
    endpoint,
    invalid,
    new_id,
    not_found,
    now_iso,
    page,
)

if TYPE_CHECKING:
    from agentctl.emulator.platform import Platform

log = logging.getLogger("agentctl.emulator.webhooks")

EVENTS = ("session.started", "session.completed", "call.connected", "call.ended",
          "call.failed")
MIN_SECRET = 32
MAX_URL = 2048
DELIVERY_ATTEMPTS = 3
RETRY_DELAYS = (0.2, 1.0)
DELIVERY_TIMEOUT = 5.0
SUBSCRIPTION = "subscription"
DELIVERY = "delivery"
PUBLIC = ("id", "agent_id", "url", "events", "enabled", "secret_version", "created_at",
          "updated_at")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-AAI-Signature` header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in PUBLIC}


def _url(platform: Platform, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise invalid("url", f"required: an https URL of at most {MAX_URL} characters")
    parts = urlsplit(value)
    loopback_http = (parts.scheme == "http" and platform.state.allow_loopback_tools
                     and is_loopback_url(value))
    if not (parts.scheme == "https" or loopback_http) or not parts.hostname:
        raise invalid("url", "must be an https URL (http://127.0.0.1 only with the emulator's"
                      " --allow-loopback-tools)")
    return value


def _events(value: Any) -> list[str]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(e, str) for e in value)):
        raise invalid("events", f"required: a non-empty list of {', '.join(EVENTS)}")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise invalid("events", f"unknown event {unknown[0]!r} (known: {', '.join(EVENTS)})")
    if len(set(value)) != len(value):
        raise invalid("events", "each event once")
    return list(value)


def _secret(value: Any) -> str:
    if not isinstance(value, str) or len(value) < MIN_SECRET:
        raise invalid("secret", f"required: at least {MIN_SECRET} characters")
    return value


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid("enabled", "must be true or false")
    return value


_TRUE = ("1", "on", "t", "true", "y", "yes")
_FALSE = ("0", "off", "f", "false", "n", "no")


def _bool_param(request: Request, name: str) -> bool:
    """A boolean query parameter as FastAPI reads one (`1`, `yes`, `True` ... are true);
    anything else is a 422 in its wording, not a quiet `false` (inferred)."""
    raw = request.query_params.get(name)
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise invalid(name, "Input should be a valid boolean, unable to interpret input",
                  where="query", kind="bool_parsing")


class Dispatcher:
    """Sends the deliveries of events to the subscriptions that want them."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.tasks: set[asyncio.Task[None]] = set()

    def subscribers(self, event: str, agent_id: str | None) -> list[dict[str, Any]]:
        return [
            record for _, record in self.platform.resources.items(SUBSCRIPTION)
            if record.get("enabled") and event in record.get("events", [])
            and record.get("agent_id") in (None, agent_id)
        ]

    def emit(self, event: str, session_id: str | None, agent_id: str | None,
             data: dict[str, Any]) -> None:
        """Deliver `event` to every subscriber, in the background (call on the event loop)."""
        for subscription in self.subscribers(event, agent_id):
            payload = {"event": event, "created_at": now_iso(), **data}
            now = now_iso()
            delivery = {"id": new_id("whd"), "subscription_id": subscription["id"],
                        "session_id": session_id, "attempt_count": 0, "status": "pending",
                        "http_status_code": None, "error": None, "delivered_at": None,
                        "next_retry_at": None, "created_at": now}
            self.platform.resources.put(DELIVERY, delivery, parent=session_id or "")
            task = asyncio.get_running_loop().create_task(
                self._deliver(subscription, delivery["id"], payload))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, subscription: dict[str, Any], delivery_id: str,
                       payload: dict[str, Any]) -> None:
        import httpx

        body = json.dumps(payload, separators=(",", ":")).encode()
        url = subscription["url"]
        allowed = self.platform.state.allow_loopback_tools and is_loopback_url(url)
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            status_code: int | None = None
            error: str | None = None
            if not allowed:
                error = ("not sent: the emulator delivers only to loopback receivers, with"
                         " --allow-loopback-tools")
            else:
                stamp = int(time.time())
                headers = {"Content-Type": "application/json",
                           "X-AAI-Signature": sign(subscription["secret"], stamp, body)}
                try:
                    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, trust_env=False,
                                                 follow_redirects=False) as client:
                        response = await client.post(url, content=body, headers=headers)
                    status_code = response.status_code
                    if not 200 <= status_code < 300:
                        error = f"the receiver answered HTTP {status_code}"
                except httpx.HTTPError as exc:
                    error = f"the request failed ({type(exc).__name__})"
            done = error is None
            final = done or attempt == DELIVERY_ATTEMPTS or not allowed
            delay = 0.0 if final else RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]

            def change(current: dict[str, Any], attempt: int = attempt, error: str | None = error,
                       status_code: int | None = status_code, done: bool = done,
                       final: bool = final, delay: float = delay) -> dict[str, Any]:
                retry_at = None
                if not final:
                    retry_at = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                             time.gmtime(time.time() + delay))
                return {**current, "attempt_count": attempt, "http_status_code": status_code,
                        "error": error, "status": "delivered" if done else (
                            "failed" if final else "pending"),
                        "delivered_at": now_iso() if done else None, "next_retry_at": retry_at}

            self.platform.resources.update(DELIVERY, delivery_id, change)
            if final:
                return
            await asyncio.sleep(delay)


def routes(platform: Platform) -> list[BaseRoute]:
    store = platform.resources

    def lookup(request: Request) -> dict[str, Any]:
        found = store.get(SUBSCRIPTION, request.path_params["subscription_id"])
        if found is None:
            raise not_found("webhook_subscription_not_found", "webhook subscription")
        return found

    def agent(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or platform.state.store.get_agent(value) is None:
            raise api_error(404, "agent_not_found", f"no agent with id {value!r}",
                                param="agent_id")
        return value

    def refuse_duplicate(url: str, agent_id: str | None, self_id: str | None = None) -> None:
        """One subscription per URL and agent (or account-wide): 409 (inferred status)."""
        for _, other in store.items(SUBSCRIPTION):
            if (other["url"] == url and other.get("agent_id") == agent_id
                    and other["id"] != self_id):
                raise api_error(409, "webhook_subscription_already_exists",
                                f"a subscription for {url} exists: {other['id']}")

    @endpoint
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            include_disabled = _bool_param(request, "include_disabled")
            rows = [(seq, r) for seq, r in store.items(SUBSCRIPTION)
                    if include_disabled or r.get("enabled")]
            return page(request, "subscriptions", rows, public)
        body = await body_object(request)
        unknown = [k for k in body if k not in ("url", "events", "secret", "agent_id", "enabled")]
        if unknown:
            raise invalid(unknown[0], "unknown field")
        url, events = _url(platform, body.get("url")), _events(body.get("events"))
        secret, agent_id = _secret(body.get("secret")), agent(body.get("agent_id"))
        enabled = _enabled(body.get("enabled", True))
        refuse_duplicate(url, agent_id)
        now = now_iso()
        record = {"id": new_id("whs"), "agent_id": agent_id, "url": url, "events": events,
                  "enabled": enabled, "secret_version": 1, "secret": secret,
                  "created_at": now, "updated_at": now}
        store.put(SUBSCRIPTION, record)
        return JSONResponse(public(record), status_code=201)

    @endpoint
    async def item(request: Request) -> Response:
        current = lookup(request)
        if request.method == "GET":
            return JSONResponse(public(current))
        if request.method == "DELETE":
            store.delete(SUBSCRIPTION, current["id"])
            return Response(status_code=204)
        body = await body_object(request)
        unknown = [k for k in body if k not in ("url", "events", "secret", "enabled")]
        if unknown:
            raise invalid(unknown[0], "unknown field (a PATCH takes url, events, secret,"
                          " enabled)")
        changes: dict[str, Any] = {}
        if "url" in body:
            changes["url"] = _url(platform, body["url"])
            # a PATCH must not make the pair a create refuses
            refuse_duplicate(changes["url"], current.get("agent_id"), current["id"])
        if "events" in body:
            changes["events"] = _events(body["events"])
        if "enabled" in body:
            changes["enabled"] = _enabled(body["enabled"])
        if "secret" in body:
            changes["secret"] = _secret(body["secret"])

        def change(record: dict[str, Any]) -> dict[str, Any]:
            version = record["secret_version"] + (1 if "secret" in changes else 0)
            return {**record, **changes, "secret_version": version, "updated_at": now_iso()}

        changed = store.update(SUBSCRIPTION, current["id"], change)
        if changed is None:  # deleted meanwhile (between the lookup and the change)
            raise not_found("webhook_subscription_not_found", "webhook subscription")
        return JSONResponse(public(changed))

    @endpoint
    async def deliveries(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if store.get("session", session_id) is None:
            raise not_found("session_not_found", f"session {session_id}")
        rows = store.items(DELIVERY, parent=session_id)
        if request.url.path.endswith("/latest"):
            seen: set[str] = set()
            latest = []
            for seq, record in rows:
                if record["subscription_id"] not in seen:
                    seen.add(record["subscription_id"])
                    latest.append((seq, record))
            rows = latest
        return page(request, "deliveries", rows)

    return [
        Route("/v1/webhook-subscriptions", collection, methods=["GET", "POST"]),
        Route("/v1/webhook-subscriptions/{subscription_id}", item,
              methods=["GET", "PATCH", "DELETE"]),
        Route("/v1/sessions/{session_id}/webhook-deliveries", deliveries, methods=["GET"]),
        Route("/v1/sessions/{session_id}/webhook-deliveries/latest", deliveries,
              methods=["GET"]),
    ]
