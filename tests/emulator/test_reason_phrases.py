"""The emulator's status lines carry the reason phrase, as the real service's do."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

from agentctl.emulator.reasons import phrase
from tests.conftest import TEST_KEY


def _status_lines(base_url: str, requests: list[tuple[str, str, dict | None, bool]]) -> list[str]:
    url = urlsplit(base_url)
    lines = []
    for method, path, body, auth in requests:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {TEST_KEY}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        response = conn.getresponse()
        response.read()
        lines.append(f"{response.status} {response.reason}")
        conn.close()
    return lines


def test_status_lines_have_reason_phrases(emulator):
    agent = {"name": "reasons", "system_prompt": "You help.", "voice": {"voice_id": "ivy"}}
    created = _status_lines(emulator.base_url, [("POST", "/v1/agents", agent, True)])
    lines = created + _status_lines(emulator.base_url, [
        ("GET", "/v1/agents", None, False),
        ("GET", "/v1/agents", None, True),
        ("GET", "/v1/agents/no-such-agent", None, True),
        ("POST", "/v1/agents", {"name": 5}, True),
    ])
    assert lines == ["201 Created", "401 Unauthorized", "200 OK", "404 Not Found",
                     "422 Unprocessable Entity"]


def test_the_raw_status_line(emulator):
    url = urlsplit(emulator.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = sock.recv(64)
    assert head.startswith(b"HTTP/1.1 401 Unauthorized\r\n")


def test_an_unnamed_code_keeps_an_empty_phrase():
    assert phrase(204) == b"No Content" and phrase(599) == b""


def test_each_answer_is_one_write_head_and_body_together(emulator, monkeypatch):
    """The head waits for the body (one `send`, one TCP segment), whatever the status."""
    from hypercorn.asyncio.tcp_server import TCPServer
    from hypercorn.events import RawData

    writes: list[bytes] = []
    protocol_send = TCPServer.protocol_send

    async def counting(self, event):
        if isinstance(event, RawData):
            writes.append(bytes(event.data))
        await protocol_send(self, event)

    monkeypatch.setattr(TCPServer, "protocol_send", counting)  # read per new connection
    url = urlsplit(emulator.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    auth = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
    agent = {"name": "one-write", "system_prompt": "You help.", "voice": {"voice_id": "ivy"}}
    answers = []
    for method, path, body, headers in [
        ("POST", "/v1/agents", json.dumps(agent), auth),
        ("GET", "/v1/agents", None, auth),
        ("GET", "/v1/agents/no-such-agent", None, auth),
        ("GET", "/v1/agents", None, {}),
    ]:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        answers.append((response.status, response.read()))
    made = json.loads(answers[0][1])
    conn.request("DELETE", f"/v1/agents/{made['id']}", headers=auth)
    response = conn.getresponse()
    answers.append((response.status, response.read()))
    conn.close()

    assert [status for status, _ in answers] == [201, 200, 404, 401, 204]
    assert len(writes) == len(answers)  # not two (head, then body) per answer
    for write, (status, body) in zip(writes, answers, strict=True):
        assert write.startswith(f"HTTP/1.1 {status} ".encode())
        assert write.endswith(b"\r\n\r\n" + body)
