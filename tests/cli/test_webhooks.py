"""`agentctl webhooks`: subscriptions, signed deliveries to a loopback receiver, verify."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentctl.emulator import server
from tests.conftest import TEST_KEY, agent_yaml, run_cli

SECRET = "s3cret-" + "x" * 40


class Receiver:
    """A loopback HTTP server that keeps what it is sent; `answer` is its status."""

    def __init__(self, answer: int = 200) -> None:
        received: list[dict[str, Any]] = []
        arrived = threading.Condition()
        self.received, self.arrived, self.answer = received, arrived, answer
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with arrived:
                    received.append({"body": body, "headers": dict(self.headers)})
                    arrived.notify_all()
                self.send_response(outer.answer)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} of {count} deliveries arrived")
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    yield got
    got.close()


def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
          ) -> server.RunningEmulator:
    running = server.start(port=0, db_path=tmp_path / "hooks.sqlite3", live={"speed": 50.0},
                           **options)
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    return running


@pytest.fixture
def emu(tmp_path, monkeypatch) -> Iterator[server.RunningEmulator]:
    running = start(tmp_path, monkeypatch, allow_loopback_tools=True)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def place_call(write) -> dict[str, Any]:
    run_cli("create", "-f", write("a.yaml", agent_yaml("hooked")))
    run_cli("numbers", "buy", "--country", "US", "--agent", "hooked")
    done = run_cli("calls", "create", "--from", "+14155550100", "--to", "+14155550142",
                   "--wait", "-o", "json")
    return json.loads(done.stdout)


def test_a_signed_delivery_reaches_a_loopback_receiver_and_verifies(
        emu, receiver, write, tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    created = run_cli("webhooks", "create", "--url", receiver.url, "--event",
                      "session.completed", "--event", "call.ended", "--secret-env",
                      "HOOK_SECRET", "-o", "json")
    subscription = json.loads(created.stdout)
    assert subscription["events"] == ["session.completed", "call.ended"]
    assert subscription["secret_version"] == 1 and "secret" not in subscription
    assert SECRET not in created.stdout + created.stderr

    call = place_call(write)
    deliveries = receiver.wait_for(2)
    events = sorted(json.loads(d["body"])["event"] for d in deliveries)
    assert events == ["call.ended", "session.completed"]
    completed = next(d for d in deliveries
                     if json.loads(d["body"])["event"] == "session.completed")
    payload = json.loads(completed["body"])
    assert payload["session_id"] == call["session_id"]
    assert payload["public_close_reason"] and payload["duration_seconds"] > 0
    header = completed["headers"]["X-AAI-Signature"]
    assert header.startswith("t=") and ",v1=" in header

    # verify: the payload on stdin and the secret from the environment ...
    body_file = tmp_path / "body.json"
    body_file.write_bytes(completed["body"])
    ok = run_cli("webhooks", "verify", "--signature", header, "--secret-env", "HOOK_SECRET",
                 stdin=completed["body"].decode())
    assert ok.stdout.startswith("signature valid")
    # ... or the payload from a file and the secret on stdin.
    run_cli("webhooks", "verify", "--signature", header, "--payload", str(body_file),
            stdin=SECRET + "\n")
    tampered = run_cli("webhooks", "verify", "--signature", header, "--secret-env",
                       "HOOK_SECRET", stdin=completed["body"].decode().replace("}", " }", 1),
                       exit_code=6)
    assert "does not match" in tampered.stderr
    monkeypatch.setenv("WRONG", "y" * 40)
    wrong = run_cli("webhooks", "verify", "--signature", header, "--secret-env", "WRONG",
                    stdin=completed["body"].decode(), exit_code=6)
    assert SECRET not in wrong.stdout + wrong.stderr
    stale = run_cli("webhooks", "verify", "--signature", "t=1000,v1=00", "--secret-env",
                    "HOOK_SECRET", stdin="{}", exit_code=6)
    assert "old" in stale.stderr
    assert "malformed" in run_cli("webhooks", "verify", "--signature", "v1=00",
                                  "--secret-env", "HOOK_SECRET", stdin="{}",
                                  exit_code=6).stderr
    both = run_cli("webhooks", "verify", "--signature", header, stdin="x", exit_code=2)
    assert "cannot both come from stdin" in both.stderr

    # The attempts are recorded.
    listed = json.loads(run_cli("webhooks", "deliveries", call["session_id"], "-o",
                                "json").stdout)
    assert [(d["status"], d["attempt_count"], d["http_status_code"]) for d in listed] == [
        ("delivered", 1, 200)] * 2  # session.completed and call.ended
    assert {d["subscription_id"] for d in listed} == {subscription["id"]}
    latest = run_cli("webhooks", "deliveries", call["session_id"], "--latest", "-o", "id")
    assert len(latest.stdout.split()) == 1
    table = run_cli("webhooks", "deliveries", call["session_id"]).stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "SUBSCRIPTION", "STATUS", "ATTEMPTS"]


def test_subscriptions_list_update_rotate_delete(emu, receiver, write, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    run_cli("create", "-f", write("a.yaml", agent_yaml("hooked")))
    created = run_cli("webhooks", "create", "--url", "https://example.com/hooks", "--event",
                      "session.started", "--agent", "hooked", stdin=SECRET + "\n")
    sub_id = created.stdout.split()[3]
    assert sub_id.startswith("whs_")
    dup = run_cli("webhooks", "create", "--url", "https://example.com/hooks", "--event",
                  "call.ended", "--agent", "hooked", "--secret-env", "HOOK_SECRET",
                  exit_code=6)
    assert "exists" in dup.stderr
    short = run_cli("webhooks", "create", "--url", "https://example.com/x", "--event",
                    "call.ended", stdin="short\n", exit_code=2)
    assert "at least 32" in short.stderr and "short" not in short.stderr.split("error:")[0]
    bad_event = run_cli("webhooks", "create", "--url", "https://e.com", "--event", "nope",
                        "--secret-env", "HOOK_SECRET", exit_code=2)
    assert "nope" in bad_event.stderr

    run_cli("webhooks", "update", sub_id, "--disable")
    monkeypatch.setenv("NEW_SECRET", "n" * 48)
    rotated = run_cli("webhooks", "update", sub_id, "--rotate-secret", "--secret-env",
                      "NEW_SECRET", "--event", "session.completed", "-o", "json")
    record = json.loads(rotated.stdout)
    assert record["secret_version"] == 2 and record["enabled"] is False
    assert record["events"] == ["session.completed"]
    assert "n" * 48 not in rotated.stdout + rotated.stderr
    table = run_cli("webhooks", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "URL", "EVENTS", "AGENT", "ENABLED", "SECRET", "CREATED"]
    assert table[1].split()[4:6] == ["no", "v2"]
    assert "nothing to change" in run_cli("webhooks", "update", sub_id, exit_code=2).stderr
    run_cli("webhooks", "delete", sub_id, "--yes")
    assert run_cli("webhooks", "list", "-o", "id").stdout == ""
    assert run_cli("webhooks", "delete", sub_id, "--yes", exit_code=5)


def test_only_loopback_receivers_get_deliveries(emu, write, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    run_cli("webhooks", "create", "--url", "https://example.com/hooks", "--event",
            "session.completed", "--secret-env", "HOOK_SECRET")
    call = place_call(write)
    store = emu.app.state.emulator.platform.resources
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(  # the delivery task settles it
            r["status"] == "failed" for _, r in store.items("delivery")):
        time.sleep(0.02)
    listed = json.loads(run_cli("webhooks", "deliveries", call["session_id"], "-o",
                                "json").stdout)
    assert listed[0]["status"] == "failed" and listed[0]["http_status_code"] is None
    assert "loopback" in listed[0]["error"]


def test_without_the_loopback_switch_http_urls_are_refused(tmp_path, monkeypatch):
    running = start(tmp_path, monkeypatch)
    try:
        monkeypatch.setenv("HOOK_SECRET", SECRET)
        refused = run_cli("webhooks", "create", "--url", "http://127.0.0.1:9/hook", "--event",
                          "call.ended", "--secret-env", "HOOK_SECRET", exit_code=6)
        assert "https" in refused.stderr
    finally:
        running.stop()
    assert running.errors == []


def test_the_secret_is_masked_wherever_this_run_would_print_it(emu, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    shown = run_cli("webhooks", "create", "--url", f"https://example.com/{SECRET}",
                    "--event", "call.ended", "--secret-env", "HOOK_SECRET")
    assert SECRET not in shown.stdout + shown.stderr
    assert "https://example.com/***" in shown.stdout
