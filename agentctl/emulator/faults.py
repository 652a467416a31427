"""Fault injection for the emulator: a flaky network and a struggling server, on demand.

`emulator serve --faults SPEC` and `server.start(faults=SPEC)` wrap the app in
`FaultMiddleware`, which decides for every API request (one seeded random draw each, so a
run is reproducible) whether to answer normally or to misbehave:

    SPEC  := ITEM ("," ITEM)*
    ITEM  := KIND "=" RATE [":" ARG]  |  "seed=" INT  |  "methods=" METHOD ("+" METHOD)*
    RATE  := a probability 0..1, or a percentage ("5%")

| kind           | what the client sees                                                   |
|----------------|------------------------------------------------------------------------|
| `429[:S]`      | 429 with `Retry-After: S` (default 1); nothing done                    |
| `500` `502` `503` `504` | that status with a JSON `detail`; nothing done                |
| `reset-before` | the request is read, then the connection dies; nothing done            |
| `reset-after`  | the request is done (a create is stored), then the connection dies     |
| `slow[:D]`     | the request is done, the answer held back D (default 5s; `500ms`, `2s`) |
|                | or until the client gives up: a write lands although the client timed out |
| `ws-drop`      | per message the server sends on a WebSocket: the connection dies instead |

e.g. `429=0.1:0,503=0.05,reset-before=0.05,reset-after=0.05,slow=0.02:2s,seed=7`.
A `ws-drop` ends the TCP connection (FIN, no WebSocket close frame: an abnormal closure,
1006) after the events sent before it: those arrive, the one that drew the fault and any
later one do not, and the app's send of them fails. The HTTP
kinds are exclusive (one draw picks at most one), so their rates add up to at most 1.
`methods=POST+PUT` limits the HTTP faults to those methods (other requests draw nothing).
"The connection dies" is an abort of the TCP connection without any response byte, which
httpx reports as `RemoteProtocolError` ("Server disconnected without sending a response").

`/_emulator/...` and `/openapi.json` are never faulted. Each injected fault is counted in
`FaultConfig.counts`, and the request-log entry of an affected request carries
`"fault": KIND`. The live session's code can consult `faults_of(app)` (or
`app.state.faults`); `ws-drop` needs no help from it: the app's `receive` simply reports a
1006 disconnect, as for a real network drop, and the send that drew the fault (and any
later send on that socket) fails, so the app knows which event never left.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentctl.errors import UsageError

HTTP_STATUS_KINDS = ("429", "500", "502", "503", "504")
HTTP_KINDS = (*HTTP_STATUS_KINDS, "reset-before", "reset-after", "slow")
KINDS = (*HTTP_KINDS, "ws-drop")
EXEMPT_PREFIXES = ("/_emulator/", "/openapi.json")
DEFAULT_RETRY_AFTER = 1.0
DEFAULT_SLOW = 5.0
DISCONNECT_WAIT = 2.0  # how long an aborted request waits for the server to notice
SYNTAX_HINT = (
    "e.g. --faults '429=0.1:0,503=0.05,reset-before=0.05,reset-after=0.05,slow=0.02:2s,seed=7'"
    f" (kinds: {', '.join(KINDS)})"
)

_DETAILS = {
    "429": "Too Many Requests",
    "500": "Internal Server Error",
    "502": "Bad Gateway",
    "503": "Service Unavailable",
    "504": "Gateway Timeout",
}


@dataclass
class FaultConfig:
    """Rates per kind, their arguments, and the seeded random source."""

    rates: dict[str, float] = field(default_factory=dict)
    retry_after: float = DEFAULT_RETRY_AFTER
    slow_seconds: float = DEFAULT_SLOW
    seed: int | None = None
    methods: frozenset[str] | None = None  # None: every method
    counts: Counter[str] = field(default_factory=Counter)
    requests_seen: int = 0

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = random.SystemRandom().randrange(2**31)
        self._rng = random.Random(self.seed)
        self._ws_rng = random.Random(self.seed + 1)  # WS draws do not shift the HTTP ones

    @property
    def ws_drop_rate(self) -> float:
        return self.rates.get("ws-drop", 0.0)

    @property
    def active(self) -> bool:
        return any(rate > 0 for rate in self.rates.values())

    def draw(self, method: str = "GET") -> str | None:
        """The fault for the next HTTP request, or None: exactly one random draw."""
        if self.methods is not None and method.upper() not in self.methods:
            return None
        self.requests_seen += 1
        roll = self._rng.random()
        for kind in HTTP_KINDS:
            rate = self.rates.get(kind, 0.0)
            if roll < rate:
                self.counts[kind] += 1
                return kind
            roll -= rate
        return None

    def should_drop_ws(self) -> bool:
        """Whether to drop a WebSocket instead of sending its next message."""
        rate = self.ws_drop_rate
        if rate > 0 and self._ws_rng.random() < rate:
            self.counts["ws-drop"] += 1
            return True
        return False

    def describe(self) -> str:
        """The SPEC back, normalised and with the seed (to reproduce a run)."""
        parts = []
        for kind in KINDS:
            rate = self.rates.get(kind)
            if not rate:
                continue
            text = f"{kind}={rate:g}"
            if kind == "429":
                text += f":{self.retry_after:g}"
            elif kind == "slow":
                text += f":{self.slow_seconds:g}s"
            parts.append(text)
        if self.methods is not None:
            parts.append("methods=" + "+".join(sorted(self.methods)))
        parts.append(f"seed={self.seed}")
        return ",".join(parts)


def _bad(message: str) -> UsageError:
    return UsageError(f"invalid fault spec: {message}", hint=SYNTAX_HINT)


def _rate(kind: str, text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise _bad(f"{kind}: rate {text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise _bad(f"{kind}: rate {text!r} is not between 0 and 1")
    return value


def _seconds(kind: str, text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*", text)
    if not match:
        raise _bad(f"{kind}: duration {text!r} is not like 2s, 500ms or 1.5")
    value = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    if value > 3600:
        raise _bad(f"{kind}: duration {text!r} is longer than an hour")
    return value


def parse_faults(spec: str) -> FaultConfig:
    """`429=0.1:0,503=0.05,seed=7` -> FaultConfig; a bad spec is a UsageError (exit 2)."""
    rates: dict[str, float] = {}
    retry_after, slow, seed = DEFAULT_RETRY_AFTER, DEFAULT_SLOW, None
    methods: frozenset[str] | None = None
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep:
            raise _bad(f"{item!r} is not KIND=RATE")
        if key == "seed":
            try:
                seed = int(value)
            except ValueError:
                raise _bad(f"seed {value!r} is not an integer") from None
            continue
        if key == "methods":
            methods = frozenset(m.strip().upper() for m in value.split("+") if m.strip())
            unknown = methods - {"GET", "POST", "PUT", "DELETE"}
            if not methods or unknown:
                raise _bad(f"methods {value!r}: expected e.g. POST+PUT (GET, POST, PUT, DELETE)")
            continue
        if key not in KINDS:
            raise _bad(f"unknown kind {key!r}")
        if key in rates:
            raise _bad(f"{key} is given twice")
        rate_text, colon, arg = value.partition(":")
        rates[key] = _rate(key, rate_text)
        if colon and key == "429":
            retry_after = _seconds(key, arg)
        elif colon and key == "slow":
            slow = _seconds(key, arg)
        elif colon:
            raise _bad(f"{key} takes no argument (got {arg!r})")
    total = sum(rate for kind, rate in rates.items() if kind in HTTP_KINDS)
    if total > 1.0 + 1e-9:
        raise _bad(f"the HTTP fault rates add up to {total:g}, more than 1")
    return FaultConfig(
        rates=rates, retry_after=retry_after, slow_seconds=slow, seed=seed, methods=methods
    )


def as_config(faults: str | FaultConfig | None) -> FaultConfig | None:
    if faults is None or isinstance(faults, FaultConfig):
        return faults
    return parse_faults(faults)


def faults_of(app: Any) -> FaultConfig | None:
    """The fault config installed on an emulator app (None when there is none)."""
    return getattr(getattr(app, "state", None), "faults", None)


def install(app: Any, faults: str | FaultConfig | None) -> FaultConfig | None:
    """Wrap a Starlette emulator app in FaultMiddleware, outermost (before it first runs).

    Outermost inside Starlette, so the middleware receives the server's own `send` (which
    leads to the connection it must be able to abort) and sees every request first.
    """
    config = as_config(faults)
    app.state.faults = config
    if config is None:
        return None
    state = getattr(app.state, "emulator", None)
    log = state.requests if state is not None else None
    app.middleware_stack = FaultMiddleware(app.build_middleware_stack(), config, log)
    return config


class FaultMiddleware:
    def __init__(self, app: Any, config: FaultConfig, log: list[dict[str, Any]] | None) -> None:
        self.app = app
        self.config = config
        self.log = log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind_of_scope = scope["type"]
        if kind_of_scope == "websocket" and self.config.ws_drop_rate > 0:
            await self.app(scope, receive, self._ws_send(send))
            return
        if kind_of_scope != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        kind = self.config.draw(scope["method"])
        if kind is None:
            await self.app(scope, receive, send)
        elif kind in HTTP_STATUS_KINDS:
            await self._status(kind, scope, receive, send)
        elif kind == "reset-before":
            self._log(scope, None, kind)
            await _drain_body(receive)
            await _abort(send, receive)
        else:  # reset-after, slow: do the work, then withhold the answer
            held: list[dict[str, Any]] = []

            async def hold(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    self._tag(scope, kind)
                held.append(message)

            await self.app(scope, receive, hold)
            if kind == "reset-after":
                await _abort(send, receive)
                return
            if await _disconnected_within(receive, self.config.slow_seconds):
                return  # the client gave up; the server lets go too
            for message in held:
                await send(message)

    async def _status(self, kind: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _drain_body(receive)
        status = int(kind)
        body = json.dumps({"detail": _DETAILS[kind]}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if status == 429:
            headers.append((b"retry-after", f"{self.config.retry_after:g}".encode()))
        self._log(scope, status, kind)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _ws_send(self, send: Any) -> Any:
        dropped = False

        async def maybe_drop(message: dict[str, Any]) -> None:
            # The message that draws the fault is not sent: the connection dies instead, and
            # the app's send fails (OSError, which Starlette turns into a 1006 disconnect),
            # as does every later send on it. So the app knows that message never left and
            # can keep it for a resume, as it would after a real write failure.
            nonlocal dropped
            if dropped:
                if message["type"] == "websocket.send":
                    raise ConnectionResetError("connection dropped (ws-drop fault)")
                return  # a close after the drop: nothing left to close
            if message["type"] == "websocket.send" and self.config.should_drop_ws():
                dropped = True
                transport = _transport_of(send)
                if transport is not None:
                    _cut(transport)
                raise ConnectionResetError("connection dropped (ws-drop fault)")
            await send(message)

        return maybe_drop

    def _log(self, scope: dict[str, Any], status: int | None, kind: str) -> None:
        if self.log is not None:
            self.log.append(
                {"method": scope["method"], "path": scope["path"], "status": status,
                 "fault": kind}
            )

    def _tag(self, scope: dict[str, Any], kind: str) -> None:
        # The request log appends its entry right before passing `http.response.start` on
        # (same task, no await in between), so the last entry is this request's.
        if self.log and self.log[-1].get("path") == scope["path"]:
            self.log[-1]["fault"] = kind


async def _drain_body(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _disconnected_within(receive: Any, seconds: float) -> bool:
    """Wait up to `seconds` for the client to hang up; True if it did."""

    async def until_disconnect() -> None:
        while (await receive())["type"] not in ("http.disconnect", "websocket.disconnect"):
            pass

    try:
        await asyncio.wait_for(until_disconnect(), seconds)
    except TimeoutError:
        return False
    return True


async def _abort(send: Any, receive: Any) -> None:
    """Kill the connection without a response byte (a TCP abort), then let the server see it.

    ASGI has no "abort": a server sends its own 500 for an app that ends without answering.
    So we reach the connection's transport through the server's `send` (Hypercorn: stream
    -> protocol -> TCP server -> writer). Should that ever fail, the fallback promises a body
    it never sends, which a client reports as a broken connection too.
    """
    transport = _transport_of(send)
    if transport is None:
        await send({"type": "http.response.start", "status": 502,
                    "headers": [(b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        return
    transport.abort()
    # Wait for the server's read loop to notice, so it does not answer for us (a 500).
    await _disconnected_within(receive, DISCONNECT_WAIT)


def _cut(transport: Any) -> None:
    """End a WebSocket's TCP connection with no close frame, after what was sent before.

    A FIN once the buffered bytes are out (`write_eof`), not a reset: a reset would also
    destroy events the app had already sent (the peer's kernel drops unread data on a
    RST), so no client could ever see them, resume or not. The peer reads those, then
    an abnormal closure (1006) and nothing more.
    """
    if transport.can_write_eof():
        transport.write_eof()
    else:
        transport.abort()


def _transport_of(send: Any) -> Any:
    """The asyncio transport behind a Hypercorn `send` callable, or None."""
    obj = send
    for _ in range(8):
        owner = getattr(obj, "__self__", None)
        if owner is None:
            return None
        writer = getattr(owner, "writer", None)
        transport = getattr(writer, "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            return transport
        obj = getattr(owner, "send", None)
    return None
