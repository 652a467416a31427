"""The one httpx.Client of a run: base URL, auth header, timeouts, redacting debug log.

`--timeout` bounds a whole request, not each read: httpx's timeouts apply per socket
operation, so a server that trickles a byte every half second would hold a command for as
long as it liked. Here every request gets a deadline (now + timeout) and a byte budget
(`MAX_RESPONSE_BYTES`), kept per thread, and the network stream under httpcore checks both
on every read and write: past the deadline a read times out (httpx.ReadTimeout, exit 7);
past the budget it stops with an UnavailableError (exit 7), whatever the server sends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from agentctl import __version__

if TYPE_CHECKING:
    import ssl

    import httpx

Log = Callable[[str], None]

# A response (status line, headers and body) larger than this is refused. The biggest
# legitimate one is a page of agent records; 32 MiB is far beyond it.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

_request = threading.local()  # .deadline (monotonic seconds), .budget (bytes left), .host


def _begin(timeout: float, max_bytes: int, host: str) -> None:
    _request.deadline = time.monotonic() + timeout
    _request.budget = max_bytes
    _request.limit = max_bytes
    _request.host = host


def _bounded(timeout: float | None, *, what: str) -> float | None:
    """`timeout` cut to what is left of the request's deadline; past it, a timeout now."""
    deadline = getattr(_request, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        import httpcore

        error = httpcore.ConnectTimeout if what == "connect" else (
            httpcore.WriteTimeout if what == "write" else httpcore.ReadTimeout)
        raise error("the whole request took longer than --timeout")
    return left if timeout is None else min(timeout, left)


def _deadline_backend(inner: Any) -> Any:
    """A httpcore network backend whose streams keep to the request's deadline and budget."""
    import httpcore

    from agentctl.errors import UnavailableError

    class Stream(httpcore.NetworkStream):
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            data = self._stream.read(max_bytes, _bounded(timeout, what="read"))
            budget = getattr(_request, "budget", None)
            if budget is not None:
                _request.budget = budget - len(data)
                if _request.budget < 0:
                    limit = _request.limit // (1024 * 1024)
                    raise UnavailableError(
                        f"the response from {_request.host} is larger than {limit} MiB; "
                        "stopped reading it",
                        hint="is the base URL right? (agentctl config show)",
                    )
            return data

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _bounded(timeout, what="write"))

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                      timeout: float | None = None) -> httpcore.NetworkStream:
            return Stream(self._stream.start_tls(
                ssl_context, server_hostname, _bounded(timeout, what="connect")))

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None,
                        socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
            return Stream(inner.connect_tcp(host, port, _bounded(timeout, what="connect"),
                                            local_address, socket_options))

        def connect_unix_socket(self, path: str, timeout: float | None = None,
                                socket_options: Iterable[Any] | None = None,
                                ) -> httpcore.NetworkStream:
            return Stream(inner.connect_unix_socket(
                path, _bounded(timeout, what="connect"), socket_options))

        def sleep(self, seconds: float) -> None:
            inner.sleep(seconds)

    return Backend()


def _bounded_transport(
    verify: bool | ssl.SSLContext, limits: httpx.Limits, timeout: float, max_bytes: int
) -> httpx.BaseTransport:
    """httpx's own transport, its requests each given a deadline and a byte budget."""
    import httpx

    inner = httpx.HTTPTransport(verify=verify, limits=limits)
    # httpx has no option for httpcore's network backend; the pool takes it as an attribute
    # (tests/unit/test_transport.py holds a trickling server to this).
    pool = inner._pool
    pool._network_backend = _deadline_backend(pool._network_backend)

    class Bounded(httpx.BaseTransport):
        _inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            _begin(timeout, max_bytes, request.url.host)
            with _explained_certificates(request):
                return inner.handle_request(request)

        def close(self) -> None:
            inner.close()

    return Bounded()


def build_client(
    base_url: str,
    api_key: str | None,
    timeout: float,
    *,
    transport: httpx.BaseTransport | None = None,
    log: Log | None = None,
    max_connections: int = 16,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    ca_cert: str | None = None,
) -> httpx.Client:
    """`timeout` bounds each whole request (connect, send, every byte of the answer);
    `ca_cert`: a PEM file of certificates to trust for https instead of the default."""
    _import_httpcore_without_h2()
    import httpx

    headers = {"User-Agent": f"agentctl/{__version__}", "Accept": "application/json"}
    if api_key is not None:
        headers["Authorization"] = api_key
    hooks: dict[str, list[Callable]] = {}
    if log is not None:
        # Logs method, URL and status only: never headers, so never the key.
        hooks = {
            "request": [lambda req: log(f"> {req.method} {req.url}")],
            "response": [lambda resp: log(
                f"< {resp.status_code} {resp.request.method} {resp.request.url}"
            )],
        }
    # Plain http is only allowed to loopback (an emulator): no TLS there, so skip loading
    # the CA bundle, ~19 ms of every command. https always verifies.
    verify = _verify(ca_cert) if base_url.startswith("https://") else False
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    if transport is None:
        transport = _bounded_transport(verify, limits, timeout, max_response_bytes)
    return _client_class()(
        base_url=base_url,
        verify=verify,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
        event_hooks=hooks,
        limits=limits,
        follow_redirects=False,
    )


_client_cls: type[httpx.Client] | None = None


def _client_class() -> type[httpx.Client]:
    """httpx.Client without cookies. The API authenticates every request by its header and
    sets no cookie; httpx would still parse every answer for them, ~12% of the CPU a
    request costs (a bulk `apply` is CPU-bound on loopback). A cookie a server sets is
    neither kept nor sent back. Built on first use: importing this module stays cheap."""
    global _client_cls
    if _client_cls is None:
        from http.cookiejar import CookieJar

        import httpx

        class NoJar(CookieJar):
            def set_cookie(self, cookie: Any) -> None:
                pass

        class NoCookies(httpx.Cookies):
            def __init__(self) -> None:
                self.jar = NoJar()

            def extract_cookies(self, response: httpx.Response) -> None:
                pass

        class Client(httpx.Client):
            _none = NoCookies()  # keeps nothing, so one serves every client

            @property  # type: ignore[override]
            def cookies(self) -> httpx.Cookies:
                return self._none

            @cookies.setter
            def cookies(self, cookies: Any) -> None:
                pass  # whatever is given: none kept, none sent

        _client_cls = Client
    return _client_cls


def _verify(ca_cert: str | None) -> bool | ssl.SSLContext:
    """True (the default CA bundle), or a context trusting only `ca_cert`'s certificates."""
    if not ca_cert:
        return True
    import ssl

    from agentctl.errors import UsageError

    try:
        return ssl.create_default_context(cafile=ca_cert)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot read certificates from {ca_cert}: {exc}",
                         hint="--ca-cert takes a PEM file") from None


@contextlib.contextmanager
def _explained_certificates(request: httpx.Request) -> Iterator[None]:
    """A certificate that fails verification is one clear error at once (exit 7), not a
    connection error retried five times."""
    import httpx

    try:
        yield
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" not in str(exc):
            raise
        from agentctl.errors import UnavailableError

        reason = str(exc).rsplit("certificate verify failed:", 1)[-1]
        reason = reason.split("(_ssl.c", 1)[0].strip(" )") or "not trusted"
        raise UnavailableError(
            f"the certificate of {request.url.host} is not trusted ({reason})",
            hint="for a server with its own certificate (emulator serve --tls): "
            "--ca-cert PEM or $AGENTCTL_CA_BUNDLE",
        ) from None


def _import_httpcore_without_h2() -> None:
    """Import httpcore with `h2` hidden: it imports h2 (~20 ms) whenever it is installed
    (the emulator's server brings it), for HTTP/2 that this client never asks for. Only
    the first import hides it; h2 stays importable for anything else afterwards."""
    import sys

    if "httpcore" in sys.modules or "h2" in sys.modules:
        return
    sys.modules["h2"] = None  # type: ignore[assignment]  # `import h2` -> ImportError
    try:
        import httpcore  # noqa: F401
    finally:
        del sys.modules["h2"]
