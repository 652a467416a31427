"""The emulator as a server: lifecycle, persistence, concurrency, the request log, tokens,
`agentctl emulator serve`, and what importing it costs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from agentctl.emulator import server
from agentctl.emulator.tokens import TokenRegistry

BODY = {"name": "a", "system_prompt": "p", "voice": {"voice_id": "ivy"}}
AUTH = {"Authorization": "k"}


# -- lifecycle ------------------------------------------------------------------------------


def test_start_binds_a_free_port_and_reports_its_urls(emulator):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.base_url)
    assert emulator.port > 0
    assert emulator.base_url.endswith(f":{emulator.port}")
    assert emulator.ws_url == f"ws://127.0.0.1:{emulator.port}/v1/ws"
    assert emulator.running


def test_start_accepts_connections_as_soon_as_it_returns(tmp_path, connect):
    for i in range(5):
        with server.start(db_path=tmp_path / f"{i}.sqlite3") as em, connect(em) as http:
            assert http.get("/_emulator/requests").status_code == 200


def test_stop_closes_the_port_and_is_idempotent(tmp_path, connect):
    em = server.start(db_path=tmp_path / "db.sqlite3")
    with connect(em, headers=AUTH) as http:
        http.get("/v1/agents")  # leaves a keep-alive connection open
        started = time.perf_counter()
        em.stop()
        elapsed = time.perf_counter() - started
    em.stop()

    assert elapsed < 1.5
    assert not em.running
    assert em.store.closed
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", em.port), timeout=1):
        pass


def test_a_private_database_is_deleted_on_stop():
    with server.start() as em:
        db = Path(em.db_path)
        assert db.exists()
    assert not db.exists()
    assert not db.parent.exists()


def test_a_given_database_is_kept_on_stop(tmp_path):
    with server.start(db_path=tmp_path / "keep.sqlite3"):
        pass
    assert (tmp_path / "keep.sqlite3").exists()


def test_a_port_in_use_raises_oserror_and_leaks_nothing(emulator, tmp_path):
    threads = threading.active_count()
    with pytest.raises(OSError):
        server.start(port=emulator.port, db_path=tmp_path / "other.sqlite3")
    assert threading.active_count() == threads


def test_ipv6_loopback(tmp_path, connect):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        em = server.start("::1", db_path=tmp_path / "v6.sqlite3")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with em, connect(em, headers=AUTH) as http:
        assert em.base_url.startswith("http://[::1]:")
        assert http.get("/v1/agents").status_code == 200


def test_data_survives_a_restart_on_the_same_file(tmp_path, connect):
    db = tmp_path / "db.sqlite3"
    tool = {
        "name": "t",
        "description": "d",
        "http": {
            "url": "https://api.example.com/x",
            "headers": [{"name": "A", "value": "secret"}],
        },
    }
    with server.start(db_path=db) as first, connect(first, headers=AUTH) as http:
        made = http.post("/v1/agents", json={**BODY, "tools": [tool]}).json()

    with server.start(db_path=db) as second, connect(second, headers=AUTH) as http:
        assert http.get(f"/v1/agents/{made['id']}").json() == made
        assert [a["id"] for a in http.get("/v1/agents").json()["agents"]] == [made["id"]]
        # the write-only value survived too: the name alone still finds it
        kept = {**tool, "http": {**tool["http"], "headers": [{"name": "A"}]}}
        assert http.put(f"/v1/agents/{made['id']}", json={"tools": [kept]}).status_code == 200
        stored = second.store.get_agent(made["id"])
        assert stored["tools"][0]["http"]["headers"][0]["value"] == "secret"
        later = http.post("/v1/agents", json={**BODY, "name": "b"}).json()
        assert later["created_at"] > made["created_at"]


# -- concurrency and speed ------------------------------------------------------------------


def test_200_concurrent_creates_from_8_threads_all_land(emulator, connect):
    statuses: list[int] = []
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with connect(emulator, headers=AUTH) as http:
                for i in range(25):
                    body = {**BODY, "name": f"w{n}-{i}"}
                    statuses.append(http.post("/v1/agents", json=body).status_code)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert failures == []
    assert statuses == [201] * 200
    assert emulator.store.count_agents() == 200
    with connect(emulator, headers=AUTH) as http:
        items = http.get("/v1/agents", params={"limit": 200}).json()["agents"]
    assert len(items) == 200
    assert len({item["id"] for item in items}) == 200
    assert len({item["created_at"] for item in items}) == 200


def test_two_stores_on_one_file_do_not_lock_each_other_out(tmp_path, connect):
    db = tmp_path / "shared.sqlite3"
    with (
        server.start(db_path=db) as one,
        server.start(db_path=db) as two,
        connect(one, headers=AUTH) as a,
        connect(two, headers=AUTH) as b,
    ):
        for i in range(20):
            assert a.post("/v1/agents", json={**BODY, "name": f"a{i}"}).status_code == 201
            assert b.post("/v1/agents", json={**BODY, "name": f"b{i}"}).status_code == 201
        assert len(a.get("/v1/agents").json()["agents"]) == 40
        assert len(b.get("/v1/agents").json()["agents"]) == 40


def test_listing_10000_agents_pages_them_newest_first(emulator, client):
    store = emulator.store
    with store._transaction() as db:  # bulk insert: the HTTP path is tested elsewhere
        db.executemany(
            "INSERT INTO agents (id, name, created_at, updated_at, record)"
            " VALUES (?, ?, ?, ?, '{}')",
            [
                (f"id-{i:05}", f"agent-{i}", f"2026-01-01T00:00:{i % 60:02}.{i:06}Z", "x")
                for i in range(10_000)
            ],
        )

    first = client.get("/v1/agents", params={"limit": 200}).json()
    last = client.get("/v1/agents", params={"limit": 200, "cursor": _cursor_at(9_900)}).json()

    items = first["agents"]
    assert len(items) == 200 and first["has_more"] is True
    assert [i["created_at"] for i in items] == sorted(
        (i["created_at"] for i in items), reverse=True
    )
    assert len(last["agents"]) == 100 and last["has_more"] is False


def _cursor_at(offset: int) -> str:
    """A cursor as the emulator makes them (its own format: offset and last id seen)."""
    import base64
    import json

    raw = json.dumps([offset, "gone"], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- the request log ------------------------------------------------------------------------


def test_every_request_is_logged_in_order_with_its_status(emulator, client, anon):
    made = client.post("/v1/agents", json=BODY).json()
    client.get("/v1/agents")
    client.put(f"/v1/agents/{made['id']}", json={"name": 1})
    client.delete(f"/v1/agents/{made['id']}")
    anon.get("/v1/agents")
    client.get("/nowhere")

    expected = [
        {"method": "POST", "path": "/v1/agents", "status": 201},
        {"method": "GET", "path": "/v1/agents", "status": 200},
        {"method": "PUT", "path": f"/v1/agents/{made['id']}", "status": 422},
        {"method": "DELETE", "path": f"/v1/agents/{made['id']}", "status": 204},
        {"method": "GET", "path": "/v1/agents", "status": 401},
        {"method": "GET", "path": "/nowhere", "status": 404},
    ]
    assert emulator.requests == expected
    assert anon.get("/_emulator/requests").json() == expected  # not logging itself


def test_the_request_log_can_be_cleared(emulator, client, anon):
    client.get("/v1/agents")
    log = emulator.requests

    assert anon.delete("/_emulator/requests").status_code == 204
    assert anon.get("/_emulator/requests").json() == []
    client.get("/v1/agents")
    assert log is emulator.requests
    assert log == [{"method": "GET", "path": "/v1/agents", "status": 200}]


def test_the_request_log_shows_that_reads_made_no_writes(emulator, create, client):
    create()
    emulator.requests.clear()

    client.get("/v1/agents")

    writes = [r for r in emulator.requests if r["method"] in {"POST", "PUT", "DELETE"}]
    assert writes == []
    assert len(emulator.requests) == 1


# -- GET /v1/token --------------------------------------------------------------------------


def test_token_returns_a_fresh_one_time_token(emulator, client):
    first = client.get("/v1/token", params={"expires_in_seconds": 60})
    second = client.get("/v1/token", params={"product": "voice_agent", "expires_in_seconds": 1})

    assert first.status_code == second.status_code == 200
    assert first.json()["expires_in_seconds"] == 60
    assert set(first.json()) == {"token", "expires_in_seconds"}
    token = first.json()["token"]
    assert len(token) >= 32
    assert token != second.json()["token"]
    tokens = emulator.app.state.emulator.tokens
    assert tokens.redeem(token) is True
    assert tokens.redeem(token) is False  # one-time


def test_token_without_expiry_is_422_field_required(client):
    response = client.get("/v1/token")

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["query", "expires_in_seconds"], "msg": "Field required", "type": "missing"}]
    assert response.json()["param"] == "expires_in_seconds"


@pytest.mark.parametrize(("value", "status"), [("59", 422), ("60", 200), ("10800", 200),
                                               ("10801", 422)])
def test_token_max_session_duration_is_60_to_10800(client, value, status):
    response = client.get("/v1/token", params={"expires_in_seconds": 5,
                                              "max_session_duration_seconds": value})

    assert response.status_code == status


def test_post_tokens_answers_token_and_expires_at(emulator, client):
    response = client.post("/v1/tokens", json={"expires_in_seconds": 30})

    assert response.status_code == 200
    assert set(response.json()) == {"token", "expires_at"}
    assert emulator.app.state.emulator.tokens.redeem(response.json()["token"]) is True
    assert client.post("/v1/tokens", json={"expires_in_seconds": 601}).status_code == 422


def test_builtin_tools_lists_the_platform_tools(client):
    response = client.get("/v1/builtin-tools")

    assert response.status_code == 200
    names = [t["name"] for t in response.json()["builtin_tools"]]
    assert names == ["aai_credit_card_luhn_check", "aai_pre_connect_context"]


@pytest.mark.parametrize("value", ["0", "601", "-5", "soon", "1.5"])
def test_token_with_a_bad_expiry_is_422(client, value):
    response = client.get("/v1/token", params={"expires_in_seconds": value})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "expires_in_seconds"]


def test_token_registry_expires_tokens():
    now = [100.0]
    registry = TokenRegistry(clock=lambda: now[0])
    kept, lapsed = registry.issue(60), registry.issue(5)

    now[0] += 10

    assert registry.redeem(lapsed) is False
    assert registry.redeem(kept) is True
    assert registry.redeem("never-issued") is False
    assert len(registry) == 0


# -- `agentctl emulator serve` --------------------------------------------------------------

SERVE_SCRIPT = textwrap.dedent(
    """
    import sys, typer
    from agentctl.cli.emulator import app
    root = typer.Typer()
    root.add_typer(app, name="emulator")
    @root.callback()
    def main() -> None: ...
    root(sys.argv[1:])
    """
)
LISTENING = re.compile(r"^Emulator listening on (http://127\.0\.0\.1:\d+) \(db: (.+)\)$")


def _serve(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stderr.readline().rstrip("\n")
    match = LISTENING.match(line)
    if match is None:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"unexpected first line {line!r}\n{err}")
    return proc, match.group(1), match.group(2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_address_and_stops_cleanly_on_a_signal(tmp_path, sig):
    db = tmp_path / "served.sqlite3"
    proc, url, db_shown = _serve(["--db", str(db)])
    try:
        with httpx.Client(base_url=url, verify=False, trust_env=False, headers=AUTH) as http:
            created = http.post("/v1/agents", json=BODY)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert created.status_code == 201
    assert db_shown == str(db)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert out == ""
    with server.start(db_path=db) as again:
        assert again.store.get_agent(created.json()["id"]) is not None


def test_serve_defaults_to_the_data_dir_and_restricts_keys(tmp_path):
    data_home = tmp_path / "xdg-data"
    # The same state as --local: $AGENTCTL_DATA_DIR (or the platform's user data dir).
    env = {**os.environ, "AGENTCTL_DATA_DIR": str(data_home / "agentctl")}
    proc, url, db_shown = _serve(["--api-key", "one", "--api-key", "two"], env=env)
    try:
        with httpx.Client(base_url=url, verify=False, trust_env=False) as http:
            statuses = [
                http.get("/v1/agents", headers={"Authorization": key}).status_code
                for key in ("one", "Bearer two", "three")
            ]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)

    assert statuses == [200, 200, 401]
    assert Path(db_shown) == data_home / "agentctl" / "emulator.sqlite3"
    assert Path(db_shown).exists()


def test_serve_through_the_real_cli_honours_a_hoisted_api_key(tmp_path):
    script = "import sys; from agentctl.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "emulator", "serve", "--port", "0",
         "--db", str(tmp_path / "db.sqlite3"), "--api-key", "only"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        match = LISTENING.match(proc.stderr.readline().rstrip("\n"))
        assert match, proc.stderr.read() if proc.poll() is not None else "no address line"
        with httpx.Client(base_url=match.group(1), verify=False, trust_env=False) as http:
            good = http.get("/v1/agents", headers={"Authorization": "only"}).status_code
            bad = http.get("/v1/agents", headers={"Authorization": "other"}).status_code
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)

    assert (good, bad) == (200, 401)


def test_serve_on_a_busy_port_exits_7_with_one_line(emulator, tmp_path):
    script = "import sys; from agentctl.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", script, "emulator", "serve", "--port", str(emulator.port),
         "--db", str(tmp_path / "db.sqlite3")],
        capture_output=True,
        text=True,
        timeout=20,
    )  # fmt: skip

    assert result.returncode == 7, result.stderr
    assert f"cannot listen on 127.0.0.1:{emulator.port}" in result.stderr
    assert "Traceback" not in result.stderr


# -- import cost ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("agentctl.emulator.server", ["starlette", "hypercorn", "sqlite3", "httpx", "asyncio"]),
        ("agentctl.cli.emulator", ["starlette", "hypercorn", "sqlite3", "httpx", "platformdirs"]),
        ("agentctl.emulator.app", ["typer", "rich", "agentctl.cli", "agentctl.render"]),
    ],
)
def test_importing_stays_cheap_and_within_its_layer(module, forbidden):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()

    assert [m for m in forbidden if m in loaded] == []
