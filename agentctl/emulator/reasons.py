"""Reason phrases on the emulator's HTTP/1.1 status lines (`HTTP/1.1 401 Unauthorized`).

Hypercorn builds h11 responses from a status code alone, so every status line went out as
`HTTP/1.1 401 ` (h11's default reason is empty). Clients need not read the phrase, but
people reading `curl -i` or a proxy's log do, and the real service sends one. There is no
setting for it in Hypercorn, so its one place that hands responses to h11 is wrapped.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

_INSTALLED = False


def phrase(status_code: int) -> bytes:
    try:
        return HTTPStatus(status_code).phrase.encode("ascii")
    except ValueError:  # a code Python does not name: no phrase, as before
        return b""


def install() -> None:
    """Wrap Hypercorn's h11 protocol once (idempotent; the emulator's start calls it)."""
    global _INSTALLED
    if _INSTALLED:
        return
    import h11
    from hypercorn.protocol.h11 import H11Protocol

    send = H11Protocol._send_h11_event

    async def _send_with_reason(self: Any, event: Any) -> None:
        if isinstance(event, (h11.Response, h11.InformationalResponse)) and not event.reason:
            event = type(event)(status_code=event.status_code,
                                headers=event.headers.raw_items(),
                                http_version=event.http_version,
                                reason=phrase(event.status_code))
        await send(self, event)

    H11Protocol._send_h11_event = _send_with_reason  # type: ignore[method-assign]
    _INSTALLED = True
