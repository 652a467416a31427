"""Issue 13 items 6 and 11: the emulator under clients that misbehave or never stop.

- a client that hangs up in the middle of its request body is not an error of ours (no
  traceback in the log, nothing in `errors`);
- deeply nested JSON on `/v1/ws` is an `invalid_message` error on an open socket, not a
  RecursionError and a 1011 close;
- the request log and the session history keep only their newest entries.
"""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
from websockets.sync.client import connect

from agentctl.emulator import limits
from agentctl.emulator.limits import append_bounded
from tests.conftest import TEST_KEY


def test_a_client_hanging_up_mid_body_is_not_an_unexpected_error(emulator, caplog):
    caplog.set_level(logging.DEBUG, logger="agentctl")
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.sendall(b"POST /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: " + TEST_KEY.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                     + b'{"name": "half')
    deadline = time.monotonic() + 10
    while not any(r["method"] == "POST" for r in emulator.requests) and (
            time.monotonic() < deadline) and not emulator.errors:
        time.sleep(0.05)
        if any("client left" in r.getMessage() for r in caplog.records):
            break
    assert emulator.errors == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "Traceback" not in caplog.text


def test_deeply_nested_json_on_the_websocket_is_an_invalid_value(emulator):
    deep = '{"type": "session.update", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with connect(emulator.ws_url, additional_headers={"Authorization": TEST_KEY},
                 max_size=None, proxy=None) as conn:
        conn.send(deep)
        event = json.loads(conn.recv(timeout=10))
        assert event["type"] == "session.error" and event["code"] == "invalid_value"  # §15.5
        assert "nested too deeply" in event["message"]
        conn.send(json.dumps({"type": "ping"}))  # the socket is still usable
        assert json.loads(conn.recv(timeout=10))["type"] == "session.error"
    assert emulator.errors == []


def test_append_bounded_keeps_the_newest():
    items: list[int] = []
    for i in range(1000):
        append_bounded(items, i, 100)
    assert 100 <= len(items) <= 110 and items[-1] == 999 and items == sorted(items)


def test_the_request_log_keeps_only_its_newest_entries(emulator, monkeypatch):
    from agentctl.emulator import app

    monkeypatch.setattr(app, "MAX_REQUEST_LOG", 50)
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": TEST_KEY}) as c:
        for i in range(200):
            c.get(f"/v1/agents?n={i}")
    assert 50 <= len(emulator.requests) <= 55
    assert emulator.requests[-1]["path"] == "/v1/agents"
    assert limits.MAX_REQUEST_LOG >= 1000 and limits.MAX_SESSION_HISTORY >= 100
