"""`agentctl numbers`, `calls` and `builtin-tools` against the real emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentctl.emulator import server
from tests.conftest import TEST_KEY, agent_yaml, run_cli


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[server.RunningEmulator]:
    running = server.start(port=0, db_path=tmp_path / "numbers.sqlite3", live={"speed": 50.0})
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def numbers() -> list[str]:
    return run_cli("numbers", "list", "-o", "name").stdout.split()


def test_buy_by_search_or_a_specific_number_import_assign_release(emu, write):
    bought = json.loads(run_cli("numbers", "buy", "--country", "US", "--area-code", "415",
                                "-o", "json").stdout)
    assert bought["phone_number"] == "+14155550100" and bought["type"] == "managed"
    assert bought["agent_id"] is None and bought["termination_uri"] is None
    second = run_cli("numbers", "buy", "--country", "us", "--area-code", "415")
    assert second.stdout.startswith("bought +14155550101 (pn_")
    run_cli("numbers", "buy", "--number", "+14155550150")
    taken = run_cli("numbers", "buy", "--number", "+14155550150", exit_code=6)
    assert "already taken" in taken.stderr
    gb = json.loads(run_cli("numbers", "buy", "--country", "GB", "--type", "mobile",
                            "--label", "uk", "-o", "json").stdout)
    assert gb["phone_number"].startswith("+447700900") and gb["label"] == "uk"

    imported = json.loads(run_cli("numbers", "import", "+15125550199", "--termination-uri",
                                  "my-trunk.pstn.twilio.com", "-o", "json").stdout)
    assert imported["type"] == "imported"
    assert imported["termination_uri"] == "my-trunk.pstn.twilio.com"
    again = run_cli("numbers", "import", "+15125550199", "--termination-uri", "sip:t.example",
                    exit_code=6)
    assert "already registered" in again.stderr

    run_cli("create", "-f", write("a.yaml", agent_yaml("support")))
    assert run_cli("numbers", "assign", "+14155550100", "support").stdout.startswith(
        "assigned +14155550100 to agent 'support'")
    table = run_cli("numbers", "list").stdout.splitlines()
    assert table[0].split() == ["NUMBER", "TYPE", "AGENT", "COUNTRY", "LABEL", "CREATED"]
    assert any(row.split()[:3] == ["+14155550100", "managed", "support"] for row in table)
    shown = run_cli("numbers", "get", "+14155550100").stdout
    assert "Agent:" in shown and "support (" in shown
    run_cli("numbers", "unassign", "+14155550100")
    assert json.loads(run_cli("numbers", "get", "+14155550100", "-o", "json").stdout)[
        "agent_id"] is None

    assert sorted(numbers()) == sorted(["+14155550100", "+14155550101", "+14155550150",
                                        gb["phone_number"], "+15125550199"])
    refused = run_cli("numbers", "release", "+15125550199", exit_code=2)
    assert "--yes" in refused.stderr
    run_cli("numbers", "release", "+15125550199", "--yes")
    assert "+15125550199" not in numbers()
    missing = run_cli("numbers", "get", "+15125550199", exit_code=5)
    assert "not found" in missing.stderr


@pytest.mark.parametrize("number", ["4155550100", "+1 415 555 0100", "+0123", "++1415",
                                    "+1415555010012345678"])
def test_e164_is_checked_locally(emu, number):
    result = run_cli("numbers", "get", number, exit_code=2)
    assert result.stderr.startswith(f"error: phone number {number!r} is not an E.164 number")
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert emu.requests == []  # nothing was sent


def test_buy_options_are_checked(emu):
    both = run_cli("numbers", "buy", "--country", "US", "--number", "+14155550100",
                   exit_code=2)
    assert "either --country" in both.stderr
    assert "not a two-letter" in run_cli("numbers", "buy", "--country", "USA",
                                         exit_code=2).stderr
    assert "--area-code goes with --country" in run_cli(
        "numbers", "buy", "--number", "+14155550100", "--area-code", "415",
        exit_code=2).stderr
    none_left = run_cli("numbers", "buy", "--country", "US", "--area-code", "999",
                        exit_code=6)
    assert "no number matches" in none_left.stderr
    assert emu.requests[-1]["status"] == 409


def test_idempotency_key_replays_refuses_reuse_and_in_progress(emu):
    headers = {"Authorization": TEST_KEY, "Idempotency-Key": "k1"}
    url = f"{emu.base_url}/v1/phone-numbers"
    body = {"country_code": "US", "number_type": "local"}
    first = httpx.post(url, json=body, headers=headers)
    replay = httpx.post(url, json=body, headers=headers)
    assert first.status_code == replay.status_code == 201 and first.json() == replay.json()
    reuse = httpx.post(url, json={**body, "area_code": 212}, headers=headers)
    assert reuse.status_code == 422 and reuse.json()["code"] == "idempotency_key_reuse"
    assert reuse.headers["X-Request-Id"] == reuse.json()["request_id"]
    # A claim whose first request is still running.
    store = emu.app.state.emulator.platform.resources
    import hashlib

    scope = hashlib.sha256(f"{TEST_KEY}\0POST /v1/phone-numbers\0k2".encode()).hexdigest()
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    assert store.claim_key(scope, fingerprint)[0] == "new"
    busy = httpx.post(url, json=body, headers={**headers, "Idempotency-Key": "k2"})
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_in_progress"
    assert len(numbers()) == 1


def test_a_call_from_an_assigned_number_runs_the_agent_and_leaves_a_session(emu, write):
    run_cli("create", "-f", write("a.yaml", agent_yaml("caller") + "greeting: Hello there\n"))
    run_cli("numbers", "buy", "--country", "US", "--agent", "caller")
    unassigned = run_cli("numbers", "buy", "--country", "US", "-o", "json")
    spare = json.loads(unassigned.stdout)["phone_number"]
    no_agent = run_cli("calls", "create", "--from", spare, "--to", "+14155550142",
                       exit_code=6)
    assert "has no agent assigned" in no_agent.stderr
    unknown = run_cli("calls", "create", "--from", "+19995550100", "--to", "+14155550142",
                      exit_code=5)
    assert "not registered" in unknown.stderr

    done = run_cli("calls", "create", "--from", "+14155550100", "--to", "+14155550142",
                   "--wait", "-o", "json")
    call = json.loads(done.stdout)
    assert call["status"] == "ended" and call["direction"] == "outbound"
    assert call["duration_seconds"] > 0 and call["session_id"].startswith("sess_")
    assert "dialing" in done.stderr and "ended" in done.stderr
    followed = run_cli("calls", "create", "--from", "+14155550100", "--to", "+14155550143",
                       "--wait").stdout
    assert "Status:    ended" in followed and "Session:   sess_" in followed
    assert "Close reason:" in followed and "Agent:        caller (" in followed
    listed = run_cli("calls", "list", "--status", "ended", "-o", "id").stdout.split()[1:]
    assert listed == [call["id"]]
    assert run_cli("calls", "get", call["id"]).stdout.splitlines()[1].split() == [
        "Status:", "ended"]

    transcript = run_cli("sessions", "transcript", call["session_id"]).stdout
    assert "agent: Hello there" in transcript and "user: " in transcript
    session = json.loads(run_cli("sessions", "get", call["session_id"], "-o", "json").stdout)
    assert session["status"] == "completed" and session["agent_id"] == call["agent_id"]
    missing = run_cli("calls", "get", "call_nope", exit_code=5)
    assert "not found" in missing.stderr


def test_builtin_tools_are_listed_and_their_names_reserved(emu, write):
    names = run_cli("builtin-tools", "-o", "name").stdout.split()
    assert names == ["aai_credit_card_luhn_check", "aai_pre_connect_context"]
    table = run_cli("builtin-tools").stdout
    assert table.split()[:3] == ["NAME", "MODE", "DESCRIPTION"]
    spec = write("luhn.yaml", agent_yaml("cards") + "greeting: Hi\ntools:\n"
                 "  - name: aai_credit_card_luhn_check\n    description: mine\n"
                 "    parameters: {type: object, properties: {}}\n"
                 "    http: {url: 'https://api.example.com/x', http_method: POST}\n")
    warned = run_cli("validate", "-f", spec)
    assert "aai_credit_card_luhn_check" in warned.stdout + warned.stderr
    assert "reserved" in warned.stdout + warned.stderr
    run_cli("validate", "--strict", "-f", spec, exit_code=3)


def test_tab_completes_numbers_and_session_ids(emu, env_for_tab):
    from tests.test_completions import offered

    store = emu.app.state.emulator.platform.resources
    for number in ("+14155550100", "+14155550101"):
        store.put("number", {"id": f"pn_{number[1:]}", "phone_number": number,
                             "agent_id": None}, key=number)
    store.put("session", {"id": "sess_" + "a" * 32, "status": "completed",
                          "created_at": "2026-01-01T00:00:00.000000Z"})
    env = dict(env_for_tab, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=emu.base_url)
    assert offered(env, "agentctl numbers get ") == ["+14155550100", "+14155550101"]
    assert offered(env, "agentctl calls create --from +1415555010") == [
        "+14155550100", "+14155550101"]
    assert offered(env, "agentctl sessions transcript sess_") == ["sess_" + "a" * 32]
    assert offered(env, "agentctl webhooks deliveries x") == []


@pytest.fixture
def env_for_tab(isolated: Path) -> dict[str, str]:
    import os

    return dict(os.environ, XDG_CACHE_HOME=str(isolated / "cache"))


@pytest.mark.parametrize(("args", "said"), [
    (("numbers", "list"), "no phone numbers"),
    (("calls", "list"), "no calls"),
    (("sessions", "list"), "no sessions"),
    (("webhooks", "list"), "no webhook subscriptions"),
])
def test_an_empty_list_says_so_on_stderr_instead_of_a_bare_header(emu, args, said):
    shown = run_cli(*args)
    assert shown.stdout == ""
    assert said in shown.stderr
    assert json.loads(run_cli(*args, "-o", "json").stdout) == []
