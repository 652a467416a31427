"""The Voice Agent WebSocket: its URL, the authenticated upgrade, JSON events both ways.

`websockets.sync.client` is imported when a socket is opened, never at import time. A
`Socket` may be used from two threads at once (one receiving, others sending): the sync
client supports that, and sends are serialised here as well.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agentctl import __version__
from agentctl.errors import AuthError, RejectedError, UnavailableError, UsageError

WS_PATH = "/v1/ws"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class Closed(Exception):
    """The socket is gone (dropped, or closed by either side)."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


def ws_url(base_url: str) -> str:
    """The REST base URL -> the WebSocket URL: https -> wss, http -> ws, path /v1/ws."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise UsageError(f"invalid base URL {base_url!r}",
                         hint="expected e.g. https://agents.assemblyai.com")
    path = parts.path.rstrip("/")
    if not path.endswith(WS_PATH):
        path = (path[:-3] if path.endswith("/v1") else path) + WS_PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def is_loopback_url(url: str) -> bool:
    from agentctl.hosts import is_loopback_host

    return is_loopback_host(urlsplit(url).hostname or "")


class Socket:
    """One open WebSocket to the service, speaking JSON events."""

    def __init__(self, connection: Any) -> None:
        self._ws = connection
        self._send_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, api_key: str, *, timeout: float = 10.0,
             ca_cert: str | None = None) -> Socket:
        """Connect with `Authorization: Bearer <key>`; failures become agentctl errors.
        `ca_cert`: a PEM file of certificates to trust for wss instead of the default (the
        REST client's --ca-cert, e.g. for `emulator serve --tls`)."""
        import ssl

        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        tls: dict[str, Any] = {}
        if ca_cert and url.startswith("wss://"):
            try:
                tls["ssl"] = ssl.create_default_context(cafile=ca_cert)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"cannot read certificates from {ca_cert}: {exc}",
                                 hint="--ca-cert takes a PEM file") from None
        try:
            connection = connect(
                url,
                **tls,
                additional_headers={"Authorization": f"Bearer {api_key}"},
                user_agent_header=f"agentctl/{__version__}",
                open_timeout=timeout,
                close_timeout=2,
                max_size=MAX_MESSAGE_BYTES,
                # Loopback (the emulator) never goes through a proxy.
                proxy=None if is_loopback_url(url) else True,
                logger=_library_log(),
            )
            connection = connection.__enter__()  # the sync client wants a context manager
        except InvalidStatus as exc:
            status = exc.response.status_code
            detail = _detail(exc.response.body)
            if status in (401, 403):
                raise AuthError(
                    f"connect: authentication failed ({status} {detail})".rstrip(),
                    hint="check the key: --api-key, $ASSEMBLYAI_API_KEY or the profile's key",
                ) from None
            if status == 404:
                raise UnavailableError(f"connect: {url} has no live-session endpoint (404)",
                                       hint="is the base URL right?") from None
            if status in (400, 409, 422):
                raise RejectedError(f"connect: refused by the service ({status} {detail})"
                                    ) from None
            raise UnavailableError(f"connect: the service answered {status} {detail}".rstrip()
                                   ) from None
        except InvalidURI:
            raise UsageError(f"invalid WebSocket URL {url!r}") from None
        except TimeoutError:
            raise UnavailableError(f"connect: timed out opening {url}",
                                   hint="raise --timeout, or retry later") from None
        except InvalidHandshake as exc:
            raise UnavailableError(f"connect: WebSocket handshake with {url} failed ({exc})"
                                   ) from None
        except ssl.SSLCertVerificationError as exc:
            raise UnavailableError(
                f"connect: the certificate of {urlsplit(url).hostname} is not trusted "
                f"({exc.verify_message or 'verification failed'})",
                hint="for a server with its own certificate (emulator serve --tls): "
                "--ca-cert PEM or $AGENTCTL_CA_BUNDLE",
            ) from None
        except OSError as exc:
            raise UnavailableError(
                f"connect: cannot connect to {url} ({exc.strerror or type(exc).__name__})",
                hint="is the host right and reachable? (for the emulator: agentctl emulator "
                "serve, or --local)",
            ) from None
        return cls(connection)

    def send(self, event: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        text = json.dumps(event, separators=(",", ":"))
        try:
            with self._send_lock:
                self._ws.send(text)
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        except OSError as exc:
            raise Closed(None, str(exc)) from None

    def recv(self, timeout: float | None) -> dict[str, Any] | None:
        """The next event; None after `timeout` seconds without one; Closed when gone.

        A message that is not a JSON object is returned as `{"type": "invalid", "raw": ...}`
        so a confused server cannot crash the client.
        """
        from websockets.exceptions import ConnectionClosed

        try:
            message = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        except OSError as exc:
            raise Closed(None, str(exc)) from None
        if isinstance(message, bytes):
            return {"type": "invalid", "raw": f"<{len(message)} bytes of binary>"}
        try:
            event = json.loads(message)
        except ValueError:
            return {"type": "invalid", "raw": message[:200]}
        if not isinstance(event, dict):
            return {"type": "invalid", "raw": message[:200]}
        return event

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken socket: nothing left to do
            self._ws.close()


def _library_log() -> Any:
    """The websockets library's log: its own reports (e.g. a traceback when the peer's
    TCP reset races its close frame) must not reach our stderr; every failure reaches us
    as an exception. A NullHandler keeps Python's last-resort handler quiet, and a logging
    setup of the caller's (--debug) still sees the records."""
    import logging

    log = logging.getLogger("agentctl.session.websockets")
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    return log


def _closed(exc: Any) -> Closed:
    frame = getattr(exc, "rcvd", None)
    if frame is None:
        return Closed(None, "no close frame")
    return Closed(frame.code, frame.reason)


def _detail(body: bytes | None) -> str:
    if not body:
        return ""
    try:
        value = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(value, dict) and "detail" in value:
        return str(value["detail"])
    return str(value)[:200]
