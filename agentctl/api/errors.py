"""HTTP statuses and transport failures -> the error tree (and so, exit codes)."""

from __future__ import annotations

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
        detail = body.get("detail", body.get("message", body.get("error")))
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


def error_for_response(response: httpx.Response, what: str) -> AgentctlError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = response.text[:200]
    detail = detail_text(body) or response.reason_phrase
    if status in (401, 403):
        return AuthError(
            f"{what}: authentication failed ({status} {detail})",
            hint="check the key: --api-key, $ASSEMBLYAI_API_KEY or the profile's key",
        )
    if status == 404:
        return NotFoundError(f"{what}: not found ({detail})")
    if status in (400, 409, 422):
        return RejectedError(f"{what}: rejected by the API ({status}): {detail}")
    if status == 429:
        return UnavailableError(
            f"{what}: rate limited (429) and still limited after retries",
            hint="wait a minute, or lower the concurrency",
        )
    if status >= 500:
        return UnavailableError(f"{what}: the service failed ({status} {detail})")
    return RejectedError(f"{what}: unexpected response {status}: {detail}")


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
