"""The one httpx.Client of a run: base URL, auth header, timeouts, redacting debug log."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agentctl import __version__

if TYPE_CHECKING:
    import ssl

    import httpx

Log = Callable[[str], None]


def build_client(
    base_url: str,
    api_key: str | None,
    timeout: float,
    *,
    transport: httpx.BaseTransport | None = None,
    log: Log | None = None,
    max_connections: int = 16,
    ca_cert: str | None = None,
) -> httpx.Client:
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
    verify: bool | ssl.SSLContext = base_url.startswith("https://")
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    if verify and transport is None:
        transport = _https_transport(ca_cert, limits)
    return httpx.Client(
        base_url=base_url,
        verify=verify,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
        event_hooks=hooks,
        limits=limits,
        follow_redirects=False,
    )


def _https_transport(ca_cert: str | None, limits: httpx.Limits) -> httpx.BaseTransport:
    """Verifying against `ca_cert` (else the default bundle); a certificate that fails is
    one clear error at once (exit 7), not a connection error retried five times."""
    import ssl

    import httpx

    from agentctl.errors import UnavailableError, UsageError

    verify: bool | ssl.SSLContext = True
    if ca_cert:
        try:
            verify = ssl.create_default_context(cafile=ca_cert)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot read certificates from {ca_cert}: {exc}",
                             hint="--ca-cert takes a PEM file") from None

    class Verifying(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return super().handle_request(request)
            except httpx.ConnectError as exc:
                if "CERTIFICATE_VERIFY_FAILED" not in str(exc):
                    raise
                reason = str(exc).rsplit("certificate verify failed:", 1)[-1]
                reason = reason.split("(_ssl.c", 1)[0].strip(" )") or "not trusted"
                raise UnavailableError(
                    f"the certificate of {request.url.host} is not trusted ({reason})",
                    hint="for a server with its own certificate (emulator serve --tls): "
                    "--ca-cert PEM or $AGENTCTL_CA_BUNDLE",
                ) from None

    return Verifying(verify=verify, limits=limits)


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
