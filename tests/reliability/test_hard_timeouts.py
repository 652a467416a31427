"""Issue 13 item 4: `--timeout` bounds a whole request, and a response has a size limit.

Small hostile servers on loopback: one answers a byte every 0.2 s (each read is quick, so a
per-read timeout never fires), one sends an endless body. The real client and the real CLI
must give up within the timeout (plus a margin for a loaded machine), exit 7, one line.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from agentctl.api.transport import build_client
from agentctl.errors import UnavailableError
from tests.conftest import TEST_KEY, run_cli

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n["


class Hostile:
    """A loopback server: each connection gets `head`, then `chunk` every `every` s."""

    def __init__(self, head: bytes, chunk: bytes, every: float, trickle_head: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.head, self.chunk, self.every, self.trickle_head = head, chunk, every, trickle_head
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            pieces = [self.head[i:i + 1] for i in range(len(self.head))] if (
                self.trickle_head) else [self.head]
            for piece in pieces:
                conn.sendall(piece)
                if self.trickle_head:
                    self.stop.wait(self.every)
            while not self.stop.is_set():
                conn.sendall(self.chunk)
                if self.every:
                    self.stop.wait(self.every)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def trickle() -> Iterator[Hostile]:
    server = Hostile(HEAD, b" ", 0.2, trickle_head=False)
    yield server
    server.close()


@pytest.fixture
def trickle_head() -> Iterator[Hostile]:
    server = Hostile(HEAD, b" ", 0.2, trickle_head=True)
    yield server
    server.close()


@pytest.fixture
def flood() -> Iterator[Hostile]:
    endless = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n["
    server = Hostile(endless, b"1," * 4096, 0, trickle_head=False)
    yield server
    server.close()


@pytest.mark.parametrize("which", ["trickle", "trickle_head"])
def test_a_trickling_server_is_cut_off_at_the_timeout(which, request):
    server: Hostile = request.getfixturevalue(which)
    with build_client(server.url, "k", 1.0) as client:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            client.get("/v1/agents")
        assert time.monotonic() - started < 3.0


def test_a_response_over_the_size_limit_is_refused(flood):
    with (build_client(flood.url, "k", 30.0, max_response_bytes=200_000) as client,
          pytest.raises(UnavailableError, match="larger than")):
        client.get("/v1/agents")


@pytest.mark.parametrize("args", [["list"], ["get", "some-agent"]])
def test_the_cli_gives_up_at_the_timeout(trickle, monkeypatch, args):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "1")
    started = time.monotonic()
    result = run_cli("--base-url", trickle.url, "--timeout", "1", *args, exit_code=7)
    assert time.monotonic() - started < 4.0
    assert "timed out" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2


def test_tab_completion_budget_is_wall_clock(trickle, monkeypatch):
    from agentctl.cli import tab

    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    started = time.monotonic()
    assert tab.agent_items({"base_url": trickle.url}, "") == []
    assert time.monotonic() - started < tab.API_TIMEOUT + 1.5
