"""The one httpx client: TLS verification where TLS is used, plain error text."""

from __future__ import annotations

import ssl

import httpx

from agentctl.api.errors import error_for_transport
from agentctl.api.transport import build_client


def _verify_mode(client: httpx.Client) -> ssl.VerifyMode:
    return client._transport._inner._pool._ssl_context.verify_mode  # type: ignore[attr-defined]


def test_https_always_verifies_certificates():
    with build_client("https://agents.assemblyai.com", "k", 5) as client:
        assert _verify_mode(client) == ssl.CERT_REQUIRED


def test_plain_http_to_an_emulator_skips_the_ca_bundle():
    with build_client("http://127.0.0.1:8765", "k", 5) as client:
        assert _verify_mode(client) == ssl.CERT_NONE


def test_a_dropped_connection_reads_as_plain_words():
    request = httpx.Request("GET", "http://127.0.0.1:1/v1/agents")
    exc = httpx.RemoteProtocolError("Server disconnected", request=request)
    error = error_for_transport(exc, "list agents", "http://127.0.0.1:1")
    assert error.message == (
        "list agents: the connection to http://127.0.0.1:1 was dropped before an answer came"
    )
    assert "RemoteProtocolError" not in error.message


def test_the_client_keeps_no_cookies():
    # The API authenticates by header and sets no cookie (the emulator never does, hence
    # the fake transport): one a server sets is neither kept nor sent back.
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("Cookie"))
        return httpx.Response(200, json={}, headers={"Set-Cookie": "sid=abc; Path=/"})

    with build_client("http://127.0.0.1:9", "k", 5,
                      transport=httpx.MockTransport(answer)) as client:
        client.get("/v1/agents")
        client.cookies.set("sid", "set-by-hand")
        client.get("/v1/agents")
        assert not client.cookies
    assert sent == [None, None]
