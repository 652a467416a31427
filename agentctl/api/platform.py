"""The rest of the API as plain calls: sessions (§10), calls (§11), phone numbers (§12),
webhooks (§13) and built-in tools (§14). Records in, records out; no rendering.

Artifact URLs are presigned: they are fetched with a client of their own that sends no
API key, and a link that has expired (403) is replaced by a fresh one from the session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from agentctl.api.requests import get_record, pages, post_retrying, send_billed, write
from agentctl.errors import NotFoundError, RejectedError, UnavailableError, UsageError

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI

Record = dict[str, Any]
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SIGNATURE_TOLERANCE = 300  # seconds, as the SDK's verifier
WEBHOOK_EVENTS = ("session.started", "session.completed", "call.connected", "call.ended",
                  "call.failed")
MIN_WEBHOOK_SECRET = 32


# -- phone numbers -----------------------------------------------------------------------------

def check_e164(number: str, what: str = "phone number") -> str:
    """The number, or a usage error (exit 2) saying what E.164 looks like."""
    cleaned = number.strip()
    if not E164.match(cleaned):
        hint = "E.164: +, country code, number, no spaces or dashes (e.g. +14155550100)"
        compact = re.sub(r"[\s().-]", "", cleaned)
        if compact != cleaned and E164.match(compact):
            hint = f"write it as {compact}"
        raise UsageError(f"{what} {number!r} is not an E.164 number", hint=hint)
    return cleaned


def _number_path(number: str) -> str:
    return "/v1/phone-numbers/" + quote(number, safe="")


def list_numbers(api: AgentsAPI, limit: int | None = None) -> Iterator[Record]:
    return pages(api, "/v1/phone-numbers", "phone_numbers", what="list phone numbers",
                 limit=limit)


def get_number(api: AgentsAPI, number: str) -> Record:
    return get_record(api, _number_path(number), what=f"get phone number {number}")


def buy_number(api: AgentsAPI, body: Record) -> Record:
    """Buy by search (`country_code`, `number_type`, ...) or a specific `phone_number`."""
    if set(body) == {"phone_number"}:
        number = body["phone_number"]
        return send_billed(api, "/v1/phone-numbers/purchase", body,
                           what=f"buy phone number {number}")
    return send_billed(api, "/v1/phone-numbers", body, what="buy a phone number")


def import_number(api: AgentsAPI, number: str, termination_uri: str | None,
                  label: str | None = None) -> Record:
    body: Record = {"phone_number": number}
    if termination_uri is not None:
        body["termination_uri"] = termination_uri
    if label is not None:
        body["label"] = label
    return send_billed(api, "/v1/phone-numbers/import", body,
                       what=f"import phone number {number}")


def assign_number(api: AgentsAPI, number: str, agent_id: str) -> Record:
    return write(api, "PUT", _number_path(number) + "/agent", json={"agent_id": agent_id},
                 what=f"assign phone number {number}")


def unassign_number(api: AgentsAPI, number: str) -> None:
    write(api, "DELETE", _number_path(number) + "/agent", what=f"unassign phone number {number}")


def release_number(api: AgentsAPI, number: str) -> None:
    write(api, "DELETE", _number_path(number), what=f"release phone number {number}",
          gone_ok=True)


# -- calls -------------------------------------------------------------------------------------

def create_call(api: AgentsAPI, from_number: str, to_number: str) -> Record:
    return send_billed(api, "/v1/calls", {"from_number": from_number, "to_number": to_number},
                       what=f"call {to_number} from {from_number}")


def list_calls(api: AgentsAPI, *, status: str | None = None, direction: str | None = None,
               limit: int | None = None) -> Iterator[Record]:
    params = {k: v for k, v in (("status", status), ("direction", direction)) if v}
    return pages(api, "/v1/calls", "calls", what="list calls", params=params, limit=limit)


def get_call(api: AgentsAPI, call_id: str) -> Record:
    return get_record(api, f"/v1/calls/{quote(call_id, safe='')}", what=f"get call {call_id}")


CALL_OVER = ("ended", "failed", "refused")


def wait_for_call(api: AgentsAPI, call_id: str, *, timeout: float,
                  on_status: Callable[[Record], None] | None = None,
                  interval: float = 0.25, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> Record:
    """Poll the call until it is over; `on_status` hears each new status."""
    deadline = clock() + timeout
    last = None
    while True:
        call = get_call(api, call_id)
        if call.get("status") != last:
            last = call.get("status")
            if on_status is not None:
                on_status(call)
        if last in CALL_OVER:
            return call
        if clock() >= deadline:
            raise UnavailableError(f"call {call_id} still {last} after {timeout:g} s",
                                   hint=f"see it later: agentctl calls get {call_id}")
        sleep(interval)


# -- sessions ----------------------------------------------------------------------------------

def list_sessions(api: AgentsAPI, *, agent_id: str | None = None, status: str | None = None,
                  limit: int | None = None) -> Iterator[Record]:
    params = {k: v for k, v in (("agent_id", agent_id), ("status", status)) if v}
    return pages(api, "/v1/sessions", "sessions", what="list sessions", params=params,
                 limit=limit)


def get_session(api: AgentsAPI, session_id: str) -> Record:
    return get_record(api, f"/v1/sessions/{quote(session_id, safe='')}",
                      what=f"get session {session_id}")


def delete_session(api: AgentsAPI, session_id: str) -> None:
    write(api, "DELETE", f"/v1/sessions/{quote(session_id, safe='')}",
          what=f"delete session {session_id}", gone_ok=True)


def artifact_of(session: Record, kind: str) -> Record | None:
    for artifact in session.get("artifacts") or []:
        if isinstance(artifact, dict) and artifact.get("type") == kind and isinstance(
                artifact.get("url"), str):
            return artifact
    return None


def fetch_artifact(api: AgentsAPI, session: Record, kind: str, sink: IO[bytes], *,
                   on_progress: Callable[[int, int | None], None] | None = None) -> Record:
    """Stream the session's `kind` artifact into `sink`; returns the artifact entry used.

    No API key goes to the presigned URL. A 403 (an expired link) gets the session again
    for a fresh link, once.
    """
    import httpx

    session_id = str(session.get("id"))
    what = f"download the {kind} of session {session_id}"
    for attempt in range(2):
        artifact = artifact_of(session, kind)
        if artifact is None:
            status = session.get("status")
            raise NotFoundError(
                f"session {session_id} has no {kind} artifact"
                + (f" (status {status}: artifacts come when it is completed)"
                   if status != "completed" else ""))
        url = str(artifact["url"])
        timeout = api.http.timeout
        try:
            with httpx.Client(timeout=timeout, follow_redirects=True,
                              verify=url.startswith("https://")) as plain, plain.stream(
                    "GET", url) as response:
                if response.status_code == 403 and attempt == 0:
                    session = get_session(api, session_id)  # the link expired: a fresh one
                    continue
                if response.status_code >= 400:
                    response.read()
                    from agentctl.api.errors import error_for_response

                    raise error_for_response(response, what)
                total = response.headers.get("content-length")
                size = int(total) if total and total.isdigit() else None
                done = 0
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, size)
                return artifact
        except httpx.TransportError as exc:
            from agentctl.api.errors import error_for_transport

            raise error_for_transport(exc, what, url.split("?")[0]) from None
    raise AssertionError("unreachable")  # pragma: no cover


def read_artifact_json(api: AgentsAPI, session: Record, kind: str) -> Any:
    import io
    import json

    buffer = io.BytesIO()
    fetch_artifact(api, session, kind, buffer)
    try:
        return json.loads(buffer.getvalue())
    except ValueError:
        raise UnavailableError(f"the {kind} of session {session.get('id')} is not JSON") \
            from None


# -- webhooks ----------------------------------------------------------------------------------

def list_webhooks(api: AgentsAPI, *, include_disabled: bool = True,
                  limit: int | None = None) -> Iterator[Record]:
    params = {"include_disabled": "true" if include_disabled else "false"}
    return pages(api, "/v1/webhook-subscriptions", "subscriptions",
                 what="list webhook subscriptions", params=params, limit=limit)


def get_webhook(api: AgentsAPI, subscription_id: str) -> Record:
    return get_record(api, f"/v1/webhook-subscriptions/{quote(subscription_id, safe='')}",
                      what=f"get webhook subscription {subscription_id}")


def create_webhook(api: AgentsAPI, body: Record) -> Record:
    """POST a subscription. Webhook creates take no Idempotency-Key (§3): when a retry is
    refused as `webhook_subscription_already_exists` after a try whose answer was lost,
    the subscription that try made is looked up (same URL and agent) and returned."""
    what = f"create webhook subscription for {body.get('url')}"
    try:
        response, _ = post_retrying(api, "/v1/webhook-subscriptions", body, what=what)
    except RejectedError as exc:
        if not (getattr(exc, "maybe_landed", False) and getattr(exc, "response_code", None)
                == "webhook_subscription_already_exists"):
            raise
        for existing in list_webhooks(api):
            if existing.get("url") == body.get("url") and (
                    existing.get("agent_id") == body.get("agent_id")):
                return existing
        raise
    record = api._json(response, what)
    return record if isinstance(record, dict) else {}


def update_webhook(api: AgentsAPI, subscription_id: str, changes: Record) -> Record:
    return write(api, "PATCH", f"/v1/webhook-subscriptions/{quote(subscription_id, safe='')}",
                 json=changes, what=f"update webhook subscription {subscription_id}")


def delete_webhook(api: AgentsAPI, subscription_id: str) -> None:
    write(api, "DELETE", f"/v1/webhook-subscriptions/{quote(subscription_id, safe='')}",
          what=f"delete webhook subscription {subscription_id}", gone_ok=True)


def list_deliveries(api: AgentsAPI, session_id: str, *, latest: bool = False,
                    limit: int | None = None) -> Iterator[Record]:
    path = f"/v1/sessions/{quote(session_id, safe='')}/webhook-deliveries"
    return pages(api, path + ("/latest" if latest else ""), "deliveries",
                 what=f"list webhook deliveries of session {session_id}", limit=limit)


def check_webhook_secret(secret: str) -> str:
    secret = secret.strip("\r\n")
    if len(secret) < MIN_WEBHOOK_SECRET:
        raise UsageError(f"the webhook secret is {len(secret)} characters long; the service"
                         f" needs at least {MIN_WEBHOOK_SECRET}",
                         hint="make one with: python3 -c 'import secrets;"
                         " print(secrets.token_hex(32))'")
    return secret


def verify_signature(header: str, body: bytes, secret: str, *, now: float | None = None,
                     tolerance: int = SIGNATURE_TOLERANCE) -> int:
    """Check `X-AAI-Signature: t=<unix>,v1=<hex>` against the raw body; returns `t`.

    Raises RejectedError (exit 6) naming what is wrong: malformed, too old or in the
    future beyond `tolerance` seconds, or no `v1` that matches.
    """
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value.strip())
    stamps, signatures = parts.get("t", []), parts.get("v1", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise RejectedError("the signature header is malformed",
                            hint="expected t=<unix seconds>,v1=<hex HMAC-SHA256>")
    stamp = int(stamps[0])
    moment = time.time() if now is None else now
    if abs(moment - stamp) > tolerance:
        raise RejectedError(f"the signature's timestamp is {abs(moment - stamp):.0f} s"
                            f" {'old' if moment > stamp else 'in the future'} (tolerance"
                            f" {tolerance} s)", hint="a replayed or delayed delivery")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    if not any(hmac.compare_digest(expected.hexdigest(), s) for s in signatures):
        raise RejectedError("the signature does not match the payload",
                            hint="check the secret, and that the body is byte for byte"
                            " what was received")
    return stamp


# -- built-in tools ----------------------------------------------------------------------------

def list_builtin_tools(api: AgentsAPI) -> list[Record]:
    body = get_record(api, "/v1/builtin-tools", what="list built-in tools")
    tools = body.get("builtin_tools")
    if not isinstance(tools, list):
        raise UnavailableError("list built-in tools: the answer has no 'builtin_tools' list")
    return [tool for tool in tools if isinstance(tool, dict)]
