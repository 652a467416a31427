"""Helpers for the reliability tests: emulators with faults, a scripted faulty transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentctl.api.client import AgentsAPI
from agentctl.api.retry import RetryPolicy
from agentctl.api.transport import build_client
from agentctl.emulator import server
from tests.conftest import TEST_KEY

BODY = {"name": "alpha", "system_prompt": "You help.", "voice": {"voice_id": "ivy"}}


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep backoff waits tiny (no timing is asserted; this only keeps the suite fast)."""
    monkeypatch.setenv("AGENTCTL_RETRY_BASE_DELAY", "0.001")
    monkeypatch.setenv("AGENTCTL_RETRY_MAX_DELAY", "0.005")


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_retries: None):
    """`faulty(SPEC)` starts an emulator with faults and points the CLI at it."""
    started: list[server.RunningEmulator] = []

    def _start(spec: str, **options: Any) -> server.RunningEmulator:
        running = server.start(
            port=0, db_path=tmp_path / f"faulty{len(started)}.sqlite3", faults=spec, **options
        )
        started.append(running)
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
        return running

    yield _start
    for running in started:
        running.stop()
        assert running.errors == []


class Sleeps(list):
    """A RetryPolicy.sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


Rule = Callable[[httpx.Request, int], str | None]


class ScriptedTransport(httpx.BaseTransport):
    """The real HTTP transport, with faults injected by a rule per request.

    `rule(request, n)` (n counts requests with the same method and path, from 1) returns
    None (pass through), "reset-before" (fail without sending), "reset-after" (send, then
    fail as if the connection died), "refused" (a connect error) or "read-timeout".
    """

    def __init__(self, rule: Rule) -> None:
        self.inner = httpx.HTTPTransport()
        self.rule = rule
        self.seen: dict[tuple[str, str], int] = {}
        self.log: list[tuple[str, str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        self.seen[key] = self.seen.get(key, 0) + 1
        action = self.rule(request, self.seen[key])
        self.log.append((request.method, request.url.path, action))
        if action == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if action == "reset-before":
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        response = self.inner.handle_request(request)
        if action == "reset-after":
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        if action == "read-timeout":
            response.close()
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def scripted(emulator: server.RunningEmulator) -> Iterator[Callable[..., tuple[AgentsAPI, Any]]]:
    """`scripted(rule, attempts=5)` -> (AgentsAPI over a ScriptedTransport, its Sleeps)."""
    clients: list[httpx.Client] = []

    def _make(rule: Rule, attempts: int = 5) -> tuple[AgentsAPI, Sleeps, ScriptedTransport]:
        transport = ScriptedTransport(rule)
        http = build_client(emulator.base_url, TEST_KEY, 5.0, transport=transport)
        clients.append(http)
        sleeps = Sleeps()
        api = AgentsAPI(http, RetryPolicy(attempts=attempts, sleep=sleeps))
        return api, sleeps, transport

    yield _make
    for http in clients:
        http.close()


def writes(emulator: server.RunningEmulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PUT", "DELETE")]
