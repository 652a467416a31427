"""Fixtures for the emulator's conformance tests: a real emulator on loopback, httpx."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from agentctl.emulator import server

KEY = "emulator-test-key"

BASE_BODY: dict[str, Any] = {
    "name": "Support Assistant",
    "system_prompt": "You are a friendly support agent.",
    "voice": {"voice_id": "ivy"},
}

WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Get current weather for a location.",
    "parameters": {
        "type": "object",
        "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
        "required": ["latitude", "longitude"],
    },
    "execution_mode": "hold",
    "timeout_seconds": 15,
    "http": {
        "url": "https://api.example.com/weather",
        "http_method": "GET",
        "headers": [
            {"name": "Authorization", "value": "Bearer weather-secret"},
            {"name": "X-Team", "value": "team-secret"},
        ],
    },
}


def make_body(**fields: Any) -> dict[str, Any]:
    """A valid create body; keyword arguments replace (or, with None, drop) fields."""
    body = copy.deepcopy(BASE_BODY)
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = copy.deepcopy(value)
    return body


@pytest.fixture(name="make_body")
def make_body_fixture() -> Callable[..., dict[str, Any]]:
    return make_body


@pytest.fixture
def tool() -> Callable[..., dict[str, Any]]:
    """A copy of WEATHER_TOOL with `changes` applied (None drops a field)."""

    def _tool(**changes: Any) -> dict[str, Any]:
        made = copy.deepcopy(WEATHER_TOOL)
        for key, value in changes.items():
            if value is None:
                made.pop(key, None)
            else:
                made[key] = copy.deepcopy(value)
        return made

    return _tool


def connect(emulator: server.RunningEmulator, **options: Any) -> httpx.Client:
    """An httpx client for `emulator`: loopback HTTP, so no CA bundle and no proxies
    from the environment (loading the CA bundle alone takes ~25 ms per client)."""
    return httpx.Client(
        base_url=emulator.base_url, verify=False, trust_env=False, timeout=10, **options
    )


@pytest.fixture(name="connect", scope="session")
def connect_fixture() -> Callable[..., httpx.Client]:
    return connect


@pytest.fixture
def client(emulator: server.RunningEmulator) -> Iterator[httpx.Client]:
    """Authorized with a well-formed key."""
    with connect(emulator, headers={"Authorization": KEY}) as http:
        yield http


@pytest.fixture
def anon(emulator: server.RunningEmulator) -> Iterator[httpx.Client]:
    """No Authorization header."""
    with connect(emulator) as http:
        yield http


@pytest.fixture
def create(client: httpx.Client) -> Callable[..., dict[str, Any]]:
    """POST a valid body (with `fields` applied); asserts 201 and returns the record."""

    def _create(**fields: Any) -> dict[str, Any]:
        response = client.post("/v1/agents", json=make_body(**fields))
        assert response.status_code == 201, response.text
        return response.json()

    return _create


def assert_error(response: httpx.Response, code: str, detail: Any) -> dict[str, Any]:
    """The §3 error envelope: `code`, `message`, `param`, `request_id` (= the
    `X-Request-Id` header), `errors`, and `detail` as older clients read it."""
    body = response.json()
    assert set(body) == {"code", "message", "param", "request_id", "errors", "detail"}, body
    assert body["code"] == code, body
    assert body["detail"] == detail, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["request_id"] and response.headers["x-request-id"] == body["request_id"]
    return body
