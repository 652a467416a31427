"""How the emulator's HTTP/1.1 answers go on the wire: reason phrases, one write each.

Hypercorn builds h11 responses from a status code alone, so every status line went out as
`HTTP/1.1 401 ` (h11's default reason is empty). Clients need not read the phrase, but
people reading `curl -i` or a proxy's log do, and the real service sends one. There is no
setting for it in Hypercorn, so its one place that hands responses to h11 is wrapped.

The same place writes an answer's head together with its body. Hypercorn writes the head
as soon as the app starts its answer and the body as a second write: two `send` calls and
two TCP segments for every answer. The head now waits for what comes next on the
connection (the body, the end of the message, or the stream's end if the app stops after
the head), which for every answer the emulator gives comes at once.
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

_INSTALLED = False
_HELD = "_agentctl_held_head"  # on an H11Protocol: an answer's head not written yet


@cache
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
    from hypercorn.events import RawData
    from hypercorn.protocol.events import StreamClosed
    from hypercorn.protocol.h11 import H11Protocol

    stream_send = H11Protocol.stream_send

    async def _send_h11_event(self: Any, event: Any) -> None:
        # Hypercorn's own (`H11Protocol._send_h11_event`), with the phrase and the held head.
        if isinstance(event, (h11.Response, h11.InformationalResponse)) and not event.reason:
            # The event was made for this one send: set the phrase on it rather than build
            # and check its headers again (h11's events are frozen, hence object's setattr).
            object.__setattr__(event, "reason", phrase(event.status_code))
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            data = b""
        held = self.__dict__.pop(_HELD, b"")
        if type(event) is h11.Response:
            self.__dict__[_HELD] = held + data
        elif held or data:
            await self.send(RawData(data=held + data))

    async def _stream_send(self: Any, event: Any) -> None:
        if isinstance(event, StreamClosed):  # an app that ended after its head alone
            held = self.__dict__.pop(_HELD, b"")
            if held:
                await self.send(RawData(data=held))
        await stream_send(self, event)

    H11Protocol._send_h11_event = _send_h11_event  # type: ignore[method-assign]
    H11Protocol.stream_send = _stream_send  # type: ignore[method-assign]
    _INSTALLED = True
