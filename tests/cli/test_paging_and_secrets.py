"""The live API's shapes end to end, against an emulator answering 3 agents a page:
every command sees every page, ids are tried first, header secrets are kept, rotated and
removed through update, apply and promote (checked by what the emulator stored)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import TEST_KEY, agent_yaml, run_cli

SEVEN = [f"pg-{i}" for i in range(7)]

TOOL_SPEC = """\
name: {name}
system_prompt: You help.
voice: {{voice_id: ivy}}
tools:
  - name: lookup
    description: Look a thing up.
    http:
      url: https://api.example.com/lookup
      headers:
{headers}
"""


def gets(env, path_prefix="/v1/agents"):
    return [r for r in env.requests if r["method"] == "GET" and r["path"] == path_prefix]


def writes(env):
    return [r for r in env.requests if r["method"] in ("POST", "PUT", "DELETE")]


def stored_headers(env, name):
    for item in env.store.list_agents():
        if item["name"] == name:
            record = env.store.get_agent(item["id"])
            return {h["name"]: h.get("value") for h in record["tools"][0]["http"]["headers"]}
    raise AssertionError(f"no agent {name!r}")


@pytest.fixture
def seven(paged_env, write):
    """Seven agents (three pages), and their spec files."""
    paths = [write(f"specs/{n}.yaml", agent_yaml(n)) for n in SEVEN]
    folder = str(Path(paths[0]).parent)
    run_cli("apply", "-f", folder)
    paged_env.requests.clear()
    return folder


def test_list_shows_every_page(paged_env, seven):
    result = run_cli("list", "-o", "name")

    assert sorted(result.stdout.split()) == SEVEN
    assert len(gets(paged_env)) == 3


def test_list_limit_stops_early(paged_env, seven):
    result = run_cli("list", "--limit", "2", "-o", "name")

    assert len(result.stdout.split()) == 2
    assert len(gets(paged_env)) == 1  # one page of 2 was enough


def test_a_terminal_shows_progress_while_pages_keep_coming(tmp_path, monkeypatch):
    from agentctl.emulator import server

    # Pages of 3, every GET answered 0.4 s late: the third of four pages comes after 1.2 s.
    ten = [f"slow-{i}" for i in range(10)]
    slow = server.start(port=0, db_path=tmp_path / "slow.sqlite3", page_size=3,
                        faults="slow=1:400ms,methods=GET,seed=1")
    try:
        for name in ten:
            slow.store.create_agent({"name": name, "system_prompt": "You help.",
                                     "voice": {"voice_id": "ivy"}})
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("AGENTCTL_BASE_URL", slow.base_url)
        shown = run_cli("list", tty=True)
        quiet = run_cli("list")
    finally:
        slow.stop()

    assert "loading agents: 9 (3 pages)" in shown.stderr
    assert all(name in shown.stdout for name in ten)
    assert "loading" not in quiet.stderr  # only a terminal gets progress


def test_tab_completion_sees_every_page(paged_env, seven):
    import os
    import subprocess
    import sys

    request = dict(os.environ, _AGENTCTL_COMPLETE="complete_bash",
                   COMP_WORDS="agentctl get pg-", COMP_CWORD="2",
                   XDG_CACHE_HOME=str(Path(seven).parent / "cache"))
    done = subprocess.run([sys.executable, "-c", "from agentctl.cli import main; main()"],
                          env=request, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0 and done.stderr == "", done
    assert sorted(done.stdout.split()) == SEVEN


def test_a_second_apply_of_many_pages_makes_no_duplicate_and_no_write(paged_env, seven):
    run_cli("apply", "-f", seven)

    assert writes(paged_env) == []
    assert sorted(a["name"] for a in paged_env.store.list_agents()) == SEVEN


def test_get_by_name_on_the_last_page(paged_env, seven):
    oldest = SEVEN[0]  # newest first: the oldest is on the last page

    got = json.loads(run_cli("get", oldest, "-o", "json").stdout)

    assert got["name"] == oldest


def test_get_by_id_is_one_get_and_lists_nothing(paged_env, seven):
    agent_id = next(a["id"] for a in paged_env.store.list_agents() if a["name"] == SEVEN[0])

    run_cli("get", agent_id, "-o", "json")

    assert gets(paged_env) == []
    assert [r["path"] for r in paged_env.requests] == [f"/v1/agents/{agent_id}"]


def test_ids_in_any_shape_are_opaque(paged_env, write):
    """A UUID id, as older accounts have, is addressed like any other."""
    made = paged_env.store.create_agent({"name": "legacy", "system_prompt": "p",
                                         "voice": {"voice_id": "ivy"}})
    with paged_env.store._transaction() as db:  # an id an older service gave
        db.execute("UPDATE agents SET id = ? WHERE id = ?",
                   ("7ad24396-b822-4dca-871a-be9cc4781cf9", made["id"]))
        record = {**made, "id": "7ad24396-b822-4dca-871a-be9cc4781cf9"}
        db.execute("UPDATE agents SET record = ? WHERE id = ?",
                   (json.dumps(record), record["id"]))

    got = json.loads(run_cli("get", "7ad24396-b822-4dca-871a-be9cc4781cf9", "-o", "json").stdout)

    assert got["name"] == "legacy"


def test_delete_of_several_reads_the_list_at_most_once(paged_env, seven):
    run_cli("delete", SEVEN[0], SEVEN[1], SEVEN[2], "--yes")

    assert len([r for r in paged_env.requests
                if r["method"] == "GET" and r["path"] == "/v1/agents"]) == 3  # one walk
    assert sorted(a["name"] for a in paged_env.store.list_agents()) == SEVEN[3:]


def test_diff_sees_agents_on_every_page(paged_env, seven, write):
    changed = write("specs/pg-0.yaml", agent_yaml("pg-0", prompt="Changed."))

    result = run_cli("diff", "-f", changed, exit_code=1)

    assert "pg-0" in result.stdout and "Changed." in result.stdout


# -- header secrets: keep, rotate, remove ------------------------------------------------------


def headers_yaml(*entries: str) -> str:
    return "\n".join(f"        - {e}" for e in entries)


def test_apply_keeps_rotates_and_removes_header_secrets(paged_env, write, monkeypatch):
    monkeypatch.setenv("A_KEY", "secret-a")
    monkeypatch.setenv("B_KEY", "secret-b")
    path = write("h.yaml", TOOL_SPEC.format(name="hdr", headers=headers_yaml(
        "{name: X-A, value: '${A_KEY}'}", "{name: X-B, value: '${B_KEY}'}")))
    run_cli("apply", "-f", path)
    assert stored_headers(paged_env, "hdr") == {"X-A": "secret-a", "X-B": "secret-b"}

    monkeypatch.setenv("A_KEY", "rotated-a")
    path = write("h.yaml", TOOL_SPEC.format(name="hdr", headers=headers_yaml(
        "{name: X-A, value: '${A_KEY}'}", "{name: X-B, remove: true}",
        "{name: X-C, value: new-c}")).replace("system_prompt: You help.",
                                              "system_prompt: You help more."))
    run_cli("apply", "-f", path)

    assert stored_headers(paged_env, "hdr") == {"X-A": "rotated-a", "X-C": "new-c"}
    path = write("h.yaml", TOOL_SPEC.format(name="hdr", headers=headers_yaml(
        "{name: X-A}", "{name: X-C}")).replace("You help.", "You help a lot."))
    run_cli("apply", "-f", path)
    assert stored_headers(paged_env, "hdr") == {"X-A": "rotated-a", "X-C": "new-c"}


def test_a_header_without_value_on_a_create_is_an_error_naming_it(paged_env, write):
    path = write("h.yaml", TOOL_SPEC.format(name="new", headers=headers_yaml("{name: X-A}")))

    result = run_cli("apply", "-f", path, exit_code=3)

    assert "header 'X-A' has no value" in result.stderr
    assert writes(paged_env) == []


def test_validate_refuses_the_mask_as_a_value(write):
    path = write("h.yaml", TOOL_SPEC.format(name="m", headers=headers_yaml(
        "{name: X-A, value: '***'}")))

    result = run_cli("validate", "-f", path, exit_code=3)

    assert "leave `value` out to keep the stored one" in result.stdout + result.stderr


def test_update_set_keeps_secrets_by_sending_the_name_alone(paged_env, write, monkeypatch):
    monkeypatch.setenv("A_KEY", "secret-a")
    run_cli("create", "-f", write("h.yaml", TOOL_SPEC.format(
        name="upd", headers=headers_yaml("{name: X-A, value: '${A_KEY}'}"))))

    run_cli("update", "upd", "--set", "tools[0].timeout_seconds=30")

    assert stored_headers(paged_env, "upd") == {"X-A": "secret-a"}


def test_update_of_llm_without_its_key_is_exit_3_before_sending(paged_env, write):
    spec = agent_yaml("llm-agent") + (
        "llm:\n  - {base_url: 'https://llm.example.com/v1', model: m, api_key: sk-1}\n")
    run_cli("create", "-f", write("l.yaml", spec))
    paged_env.requests.clear()

    result = run_cli("update", "llm-agent", "--set", "llm[0].model=other", exit_code=3)

    assert "llm[0].api_key" in result.stderr
    assert writes(paged_env) == []


def test_promote_keeps_rotates_and_names_what_is_missing(paged_env, emulator, write,
                                                          monkeypatch, tmp_path):
    monkeypatch.setenv("A_KEY", "secret-a")
    run_cli("create", "-f", write("h.yaml", TOOL_SPEC.format(
        name="promo", headers=headers_yaml("{name: X-A, value: '${A_KEY}'}"))))
    for name, url in (("src", paged_env.base_url), ("dst", emulator.base_url)):
        run_cli("config", "set", "base_url", url, "--profile", name)
        run_cli("config", "set", "api_key", TEST_KEY, "--profile", name)
    monkeypatch.delenv("AGENTCTL_BASE_URL")
    monkeypatch.delenv("A_KEY")

    dry = run_cli("promote", "promo", "--from", "src", "--to", "dst", "--dry-run")
    assert "LOOKUP_X_A" in dry.stderr and "would stop here" in dry.stderr
    failed = run_cli("promote", "promo", "--from", "src", "--to", "dst", exit_code=3)
    assert "LOOKUP_X_A" in failed.stderr
    assert emulator.store.count_agents() == 0

    monkeypatch.setenv("LOOKUP_X_A", "target-a")
    run_cli("promote", "promo", "--from", "src", "--to", "dst")
    assert stored_headers(emulator, "promo") == {"X-A": "target-a"}

    monkeypatch.delenv("LOOKUP_X_A")  # the target has it now: kept without the variable
    run_cli("update", "promo", "--set", "system_prompt=Changed", "--base-url",
            paged_env.base_url, "--api-key", TEST_KEY)
    run_cli("promote", "promo", "--from", "src", "--to", "dst")
    assert stored_headers(emulator, "promo") == {"X-A": "target-a"}


def test_a_full_record_export_applies_back_and_diffs_equal(paged_env, write, monkeypatch):
    monkeypatch.setenv("A_KEY", "secret-a")
    monkeypatch.setenv("PC_KEY", "secret-pc")
    monkeypatch.setenv("LLM_KEY", "sk-llm")
    full = TOOL_SPEC.format(name="full", headers=headers_yaml(
        "{name: X-A, value: '${A_KEY}'}")) + """\
    timeout_seconds: 30
    execution_mode: hold
    response_instructions: {success: Say it is done.}
  - name: aai_credit_card_luhn_check
greeting: Hi.
input:
  format: {encoding: audio/pcmu, sample_rate: 8000}
  keyterms: [metformin]
  transcription_mode: max_accuracy
  turn_detection: {type: server_vad, interruption_delay: 200}
output:
  format: {encoding: audio/pcma, sample_rate: 8000}
  volume: 72.5
pre_connect_requests:
  - http:
      url: https://crm.example.com/lookup
      headers: [{name: X-Key, value: '${PC_KEY}'}]
    sends: [caller_number]
    returns: [{name: tier, path: customer.tier, default: basic}]
    timeout_ms: 500
    allow_overrides: [greeting]
transfer_targets:
  - {name: desk, kind: human, phone_number: '+14155550123', mode: warm,
     consult_instructions: Summarise., record_consult: true}
outbound_trunk_id: trunk-1
caller_id: '+14155550100'
llm:
  - {base_url: 'https://llm.example.com/v1', model: m, api_key: '${LLM_KEY}'}
"""
    run_cli("create", "-f", write("full.yaml", full))
    exported = run_cli("get", "full", "--export")
    spec = yaml.safe_load(exported.stdout)
    assert spec["tools"][0]["http"]["headers"] == [{"name": "X-A", "value": "${LOOKUP_X_A}"}]
    assert spec["llm"][0]["api_key"] == "${LLM_API_KEY}"
    assert "secret" not in exported.stdout
    for name in ("LOOKUP_X_A", "PRE_CONNECT_0_X_KEY", "LLM_API_KEY"):
        assert name in exported.stderr
        monkeypatch.setenv(name, "x-" + name)
    path = write("exported.yaml", exported.stdout)
    paged_env.requests.clear()

    run_cli("apply", "-f", path)
    run_cli("diff", "-f", path)  # exit 0: no differences

    assert writes(paged_env) == []


# -- the starter's flow, with plain httpx ------------------------------------------------------


def test_the_documented_starter_flow_runs_against_the_emulator(paged_emulator):
    """AssemblyAI's starter: create, keep the id, update by it, list reading
    {"agents": [...]}, import (GET by id into a file) without a mask taken for a value."""
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    with httpx.Client(base_url=paged_emulator.base_url, headers=headers,
                      trust_env=False) as http:
        body = {"name": "starter", "system_prompt": "You help.", "voice": {"voice_id": "ivy"},
                "tools": [{"name": "lookup", "description": "d",
                           "http": {"url": "https://api.example.com/x",
                                    "headers": {"Authorization": "Bearer k"}}}]}
        created = http.post("/v1/agents", json=body)
        assert created.status_code == 201
        agent_id = created.json()["id"]
        updated = http.put(f"/v1/agents/{agent_id}", json={"greeting": "Hello!"})
        assert updated.status_code == 200 and updated.json()["greeting"] == "Hello!"
        listed = http.get("/v1/agents").json()
        assert agent_id in [a["id"] for a in listed["agents"]]
        imported = http.get(f"/v1/agents/{agent_id}").json()
    header = imported["tools"][0]["http"]["headers"][0]
    assert "value" not in header  # an import cannot write a mask as the value
    assert paged_emulator.store.get_agent(agent_id)["tools"][0]["http"]["headers"][0][
        "value"] == "Bearer k"
