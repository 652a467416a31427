"""HTTP statuses and transport failures -> the error tree (and so, exit codes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentctl.errors import (
    AgentctlError,
    AuthError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)

if TYPE_CHECKING:
    import httpx


def detail_text(body: Any) -> str:
    """The service's `detail`: a string, or a FastAPI-style list of {loc, msg}."""
    if isinstance(body, dict):
        detail = body.get("message") or body.get("detail", body.get("error"))
    else:
        detail = body
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [p for p in item.get("loc", []) if p != "body"]
                where = _format_loc(loc)
                msg = str(item.get("msg", "invalid"))
                parts.append(f"{where}: {msg}" if where else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if detail is None:
        return ""
    return str(detail)


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


MAX_DETAIL_LINES = 10


def _one_line(text: str, limit: int = 160) -> str:
    """Free text from a server as one bounded line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _non_json(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml") or response.text.lstrip()[:1] == "<":
        return "an HTML page, not the API's JSON"
    text = _one_line(response.text, 80)
    return repr(text) if text else response.reason_phrase or "an empty body"


@dataclass(frozen=True)
class ServiceError:
    """What an error answer says, in either shape (§3): the envelope `{code, message,
    param, request_id, errors, detail}` or the older `{"detail": ...}`."""

    message: str
    code: str | None = None
    param: str | None = None
    request_id: str | None = None
    fields: tuple[str, ...] = ()  # one "param: message" per errors[] entry


def read_error(response: httpx.Response) -> ServiceError:
    request_id = response.headers.get("x-request-id") or None
    try:
        body = response.json()
    except ValueError:
        return ServiceError(_non_json(response), request_id=request_id)
    if not isinstance(body, dict):
        return ServiceError(_one_line(detail_text(body)) or response.reason_phrase,
                            request_id=request_id)
    fields: list[str] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, dict):
                where, msg = entry.get("param"), _one_line(str(entry.get("message", "")))
                fields.append(f"{where}: {msg}" if where else msg)
    detail = body.get("detail")
    if not fields and isinstance(detail, list):
        fields = [_one_line(part) for part in detail_text(detail).split("; ") if part]
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        message = detail_text(body) or response.reason_phrase
        if len(fields) > 1:
            message = "invalid request"
    code = body.get("code") if isinstance(body.get("code"), str) else None
    param = body.get("param") if isinstance(body.get("param"), str) else None
    rid = body.get("request_id") if isinstance(body.get("request_id"), str) else None
    return ServiceError(_one_line(message), code, param, rid or request_id, tuple(fields))


def _details(found: ServiceError) -> tuple[str, ...]:
    """Each field the service names, one line each (bounded)."""
    lines = [f"- {f}" for f in found.fields[:MAX_DETAIL_LINES]]
    if len(found.fields) > MAX_DETAIL_LINES:
        lines.append(f"and {len(found.fields) - MAX_DETAIL_LINES} more")
    return tuple(lines)


def _summary(found: ServiceError) -> str:
    """The error line's own text: the message, and the field when there is one."""
    if len(found.fields) == 1:
        return found.fields[0] if found.fields[0].endswith(found.message) else (
            f"{found.message}: {found.fields[0]}")
    if found.param and found.param not in found.message and not found.fields:
        return f"{found.param}: {found.message}"
    return found.message


def _hint(hint: str | None, found: ServiceError) -> str | None:
    if not found.request_id:
        return hint
    quoted = f"request id {found.request_id} (quote it to support)"
    return f"{hint}; {quoted}" if hint else quoted


def error_for_response(response: httpx.Response, what: str) -> AgentctlError:
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("location")
        return UnavailableError(
            f"{what}: the service answered with a redirect ({status})"
            + (f" to {_one_line(where, 120)}" if where else ""),
            hint="agentctl does not follow redirects: set the base URL to the API's own "
            "address (--base-url)")
    found = read_error(response)
    text = _summary(found)
    details = _details(found) if len(found.fields) > 1 else ()
    if status in (401, 403):
        return AuthError(
            f"{what}: authentication failed ({status} {text})",
            hint=_hint("check the key: --api-key, $ASSEMBLYAI_API_KEY or the profile's key",
                       found), details=details)
    if status == 404:
        return NotFoundError(f"{what}: not found ({text})", hint=_hint(None, found),
                             details=details)
    if status in (400, 405, 409, 422):
        return RejectedError(f"{what}: rejected by the API ({status}): {text}",
                             hint=_hint(None, found), details=details)
    if status == 429:
        return UnavailableError(
            f"{what}: rate limited (429) and still limited after retries",
            hint=_hint("wait a minute, or lower the concurrency", found),
        )
    if status >= 500:
        return UnavailableError(f"{what}: the service failed ({status} {text})",
                                hint=_hint(None, found), details=details)
    return RejectedError(f"{what}: unexpected response {status}: {text}",
                         hint=_hint(None, found), details=details)


def error_for_transport(exc: Exception, what: str, base_url: str) -> AgentctlError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return UnavailableError(
            f"{what}: timed out talking to {base_url}", hint="raise --timeout, or retry later"
        )
    if isinstance(exc, httpx.ConnectError):
        return UnavailableError(
            f"{what}: cannot connect to {base_url}",
            hint="is the host right and reachable? (for the emulator: agentctl emulator serve)",
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return UnavailableError(
            f"{what}: the connection to {base_url} was dropped before an answer came",
            hint="retry later; --verbose shows each try",
        )
    return UnavailableError(f"{what}: the connection to {base_url} failed")
