"""Requests shared by the non-agent resources: paged lists, and creates that the service
bills, sent with an `Idempotency-Key` that every retry reuses (§3), so a retried purchase
or call never happens twice.

Paging itself is `paging.iter_items`; `pages` only binds it to a path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from agentctl.api.client import _after_tries, _is_transport_error, _request_never_sent
from agentctl.api.errors import error_for_response, error_for_transport
from agentctl.api.retry import NOT_PROCESSED_STATUSES, RETRY_STATUSES
from agentctl.errors import UnavailableError

if TYPE_CHECKING:
    import httpx

    from agentctl.api.client import AgentsAPI

Record = dict[str, Any]
IDEMPOTENCY_HEADER = "Idempotency-Key"


def new_idempotency_key() -> str:
    return uuid.uuid4().hex  # as the SDK: UUID4 hex


def _in_progress(response: httpx.Response) -> bool:
    return response.status_code == 409 and error_code(response) == "idempotency_in_progress"


def send_billed(api: AgentsAPI, path: str, body: Record, *, what: str,
                key: str | None = None) -> Record:
    """POST `body` with one `Idempotency-Key` for every try: connection errors, 408, 429,
    5xx and 409 `idempotency_in_progress` are retried with the same key, so the service
    acts once and a retry gets the first answer back."""
    headers = {IDEMPOTENCY_HEADER: key or new_idempotency_key()}
    response, _ = post_retrying(api, path, body, what=what, headers=headers)
    return _record(response, what)


def post_retrying(api: AgentsAPI, path: str, body: Record, *, what: str,
                  headers: dict[str, str] | None = None) -> tuple[httpx.Response, bool]:
    """POST with retries; (the final answer, whether an earlier try may have landed).

    Without an `Idempotency-Key` the caller must make a landed earlier try harmless (a
    create the service refuses as a duplicate, which the caller then looks up).
    """
    maybe_landed = False
    for attempt in range(api.retry.attempts):
        last = attempt == api.retry.attempts - 1
        try:
            response = api.http.post(path, json=body, headers=headers)
        except Exception as exc:
            if not _is_transport_error(exc):
                raise
            if last:
                raise _after_tries(
                    error_for_transport(exc, what, str(api.http.base_url)), attempt) from None
            maybe_landed = maybe_landed or not _request_never_sent(exc)
            api._wait(attempt, None, f"{what}: {type(exc).__name__}")
            continue
        retry = response.status_code in RETRY_STATUSES or response.status_code == 408 or (
            _in_progress(response))
        if retry and not last:
            maybe_landed = maybe_landed or response.status_code not in NOT_PROCESSED_STATUSES
            api._wait(attempt, response.headers.get("Retry-After"),
                      f"{what}: {response.status_code}")
            continue
        if response.status_code >= 400:
            response.read()
            error = _after_tries(error_for_response(response, what), attempt)
            error.response_code = error_code(response)  # type: ignore[attr-defined]
            error.maybe_landed = maybe_landed  # type: ignore[attr-defined]
            raise error
        return response, maybe_landed
    raise AssertionError("unreachable")  # pragma: no cover


def error_code(response: httpx.Response) -> str | None:
    """The envelope's `code` of an error answer, if it has one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _record(response: httpx.Response, what: str) -> Record:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise UnavailableError(
            f"{what}: the service answered {response.status_code} with a body that is not JSON"
        ) from None
    return body if isinstance(body, dict) else {}


def get_record(api: AgentsAPI, path: str, *, what: str,
               params: dict[str, Any] | None = None) -> Record:
    response = api._send("GET", path, what=what, params=params)
    body = api._json(response, what)
    if not isinstance(body, dict):
        raise UnavailableError(f"{what}: the service answered with an unexpected shape")
    return body


def write(api: AgentsAPI, method: str, path: str, *, what: str, json: Any = None,
          gone_ok: bool = False) -> Record:
    """An idempotent write (PUT, PATCH, DELETE); the answer's record, or {} for none."""
    response = api._send(method, path, what=what, json=json, gone_ok_after_retry=gone_ok)
    if response.status_code == 404:
        return {}
    return _record(response, what)


def pages(api: AgentsAPI, path: str, key: str, *, what: str,
          params: dict[str, Any] | None = None, limit: int | None = None) -> Iterator[Record]:
    """Every item of a paged list (§5), page after page (`paging.iter_items`), at most
    `limit` of them."""
    from itertools import islice

    from agentctl.api.paging import MAX_LIMIT, iter_items

    def fetch(query: dict[str, Any]) -> Any:
        return api._json(api._send("GET", path, what=what, params=query), what)

    size = min(limit, MAX_LIMIT) if limit is not None else MAX_LIMIT
    items = iter_items(fetch, key, what=what, limit=size, params=params)
    return items if limit is None else islice(items, limit)
