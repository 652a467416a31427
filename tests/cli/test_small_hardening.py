"""Issue 13 items 8-12 (the client's share): each case one line and a documented code.

`--set` numbers out of range, a forbidden `--set` change caught before a diff, `delete` of
N agents reading the list once, the `--api-key`-on-argv warning, and `emulator serve
--host 0.0.0.0` (a usable address, a warning, `/_emulator/*` for loopback clients only).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from agentctl.emulator.app import create_app, is_loopback
from agentctl.emulator.store import Store
from tests.conftest import SUPPORT_YAML, TEST_KEY, run_cli


@pytest.fixture(autouse=True)
def weather_key(monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", "weather-key-for-tests")


@pytest.fixture
def agent(api_env, write):
    run_cli("create", "-f", write("a.yaml", SUPPORT_YAML))
    return "Support Assistant"


@pytest.mark.parametrize("value", ["1e999", "-1e999", "[1e999]"])
def test_set_an_out_of_range_number_is_a_usage_error(agent, value):
    result = run_cli("update", agent, "--set", f"output.volume={value}", exit_code=2)
    assert "out of range" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "500"])
def test_set_a_value_the_schema_forbids_is_one_line_before_any_diff(agent, api_env, value):
    before = len(api_env.requests)
    result = run_cli("update", agent, "--set", f"output.volume={value}", exit_code=3)
    assert result.stdout == "", result  # no diff printed
    assert result.stderr.startswith("error: --set output.volume: ")
    assert len(result.stderr.splitlines()) <= 2
    assert all(r["method"] == "GET" for r in api_env.requests[before:])  # no PUT, no 422


def test_delete_of_many_agents_reads_the_list_once(api_env, write):
    for i in range(5):
        run_cli("create", "-f", write(f"a{i}.yaml", SUPPORT_YAML.replace(
            "Support Assistant", f"Agent {i}")))
    del api_env.requests[:]
    run_cli("delete", *(f"Agent {i}" for i in range(5)), "--yes")
    lists = [r for r in api_env.requests if r["method"] == "GET" and r["path"] == "/v1/agents"]
    assert len(lists) == 1, api_env.requests
    assert run_cli("list", "-o", "name").stdout == ""


def test_api_key_on_the_command_line_is_warned_about(emulator, monkeypatch):
    result = run_cli("--base-url", emulator.base_url, "--api-key", TEST_KEY, "list")
    assert "warning: --api-key on the command line can be read by other users" in (
        result.stderr)
    assert TEST_KEY not in result.stderr
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    quiet = run_cli("--base-url", emulator.base_url, "list")
    assert "--api-key" not in quiet.stderr


def test_emulator_log_is_for_loopback_clients_only(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.1.2.3") and not is_loopback("testclient")
    store = Store(tmp_path / "db.sqlite3")
    try:
        app = create_app(store)
        assert asyncio.run(_status(app, ("10.1.2.3", 5000))) == 404
        assert asyncio.run(_status(app, ("127.0.0.1", 5000))) == 200
    finally:
        store.close()


async def _status(app, client: tuple[str, int]) -> int:
    """One GET /_emulator/requests straight into the ASGI app, from `client`."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/_emulator/requests",
             "raw_path": b"/_emulator/requests", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"emulator")], "client": client,
             "server": ("127.0.0.1", 8765)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_serve_on_all_interfaces_says_where_and_warns(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentctl", "emulator", "serve", "--host", "0.0.0.0",
         "--port", "0", "--db", str(tmp_path / "db.sqlite3")],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        lines = [proc.stderr.readline() for _ in range(3)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    text = "".join(lines)
    assert "listening on http://127.0.0.1:" in lines[0]
    assert "From other machines: http://" in text and "0.0.0.0:" not in lines[1]
    assert "warning: anyone who can reach this machine" in text
