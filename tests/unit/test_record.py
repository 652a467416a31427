"""agentctl.record: the one home of the agent record. A secret field added there is masked
by the emulator and never printed by the CLI, whichever path it is (these tests build a
body with a secret at every path `WRITE_ONLY_PATHS` lists, so a new path needs no new
test, only a container below)."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from agentctl import record as rec
from agentctl.emulator.plumbing import new_id
from tests.conftest import TEST_KEY, run_cli

# A valid item for each top-level section that can hold a write-only value. A new
# section in WRITE_ONLY_PATHS fails `test_every_write_only_section_has_a_container`.
CONTAINERS: dict[str, dict[str, Any]] = {
    "tools": {"name": "t", "description": "d",
              "http": {"url": "https://api.example.com/x", "headers": []}},
    "pre_connect_requests": {"http": {"url": "https://crm.example.com/x", "headers": []}},
    "llm": {"base_url": "https://llm.example.com/v1", "model": "m"},
}
BASE = {"name": "leak-test", "system_prompt": "p", "voice": {"voice_id": "ivy"}}


def body_with_secrets() -> tuple[dict[str, Any], list[str]]:
    """A create body with a distinct secret at every write-only path."""
    body = copy.deepcopy(BASE)
    secrets: list[str] = []
    for i, pattern in enumerate(rec.WRITE_ONLY_PATHS):
        section = pattern.split("[]")[0]
        item = body.setdefault(section, [copy.deepcopy(CONTAINERS[section])])[0]
        secret = f"secret-value-{i}-{new_id('s')}"
        secrets.append(secret)
        rest = pattern[len(section) + 3:].split(".")  # after "section[]."
        node = item
        for part in rest[:-1]:
            if part.endswith("[]"):
                node = node[part[:-2]]
                node.append({"name": f"X-Secret-{i}"})
                node = node[-1]
            else:
                node = node.setdefault(part, {})
        node[rest[-1]] = secret
    return body, secrets


def test_every_write_only_section_has_a_container():
    assert {p.split("[]")[0] for p in rec.WRITE_ONLY_PATHS} <= set(CONTAINERS)


def test_the_body_holds_each_secret_at_its_path():
    body, secrets = body_with_secrets()
    found = dict(rec.write_only_values(body))
    assert sorted(found.values()) == sorted(secrets)
    assert all(rec.is_write_only(path) for path in found)


def test_mask_and_without_write_only_leave_no_secret():
    body, secrets = body_with_secrets()
    before = copy.deepcopy(body)
    for shown in (rec.mask(body), rec.without_write_only(body)):
        text = json.dumps(shown)
        assert not any(s in text for s in secrets)
    assert body == before  # the input is not changed
    assert all(v == rec.MASK for _, v in rec.write_only_values(rec.mask(body)))


@pytest.mark.parametrize(("ref", "could"), [
    ("agent_0123456789abcdef0123456789abcdef", True),
    ("7ad24396-b822-4dca-871a-be9cc4781cf9", True),
    ("anything-opaque_42", True),
    ("Support Assistant", False),
    ("a/b", False),
    ("", False),
])
def test_ids_are_opaque_but_one_path_segment(ref, could):
    assert rec.could_be_id(ref) is could


def test_for_write_drops_read_only_parts_and_the_mask():
    read = {
        "id": "agent_x", "name": "n", "created_at": "t", "updated_at": "t",
        "tools": [{"id": "tool_x", "name": "t", "http": {"url": "u", "headers": [
            {"name": "A", "last_set_at": "t"}, {"name": "B", "value": "***"},
            {"name": "C", "value": "new"}]}}],
        "llm": [{"base_url": "b", "model": "m", "api_key": "***"}],
    }
    assert rec.for_write(read) == {
        "name": "n",
        "tools": [{"name": "t", "http": {"url": "u", "headers": [
            {"name": "A"}, {"name": "B"}, {"name": "C", "value": "new"}]}}],
        "llm": [{"base_url": "b", "model": "m"}],
    }
    assert rec.llm_missing_keys(rec.for_write(read)) == [("llm", 0, "api_key")]


def test_the_emulator_stores_every_secret_and_never_answers_one(emulator):
    body, secrets = body_with_secrets()
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": TEST_KEY},
                      trust_env=False) as http:
        created = http.post("/v1/agents", json=body)
        assert created.status_code == 201, created.text
        read = http.get(f"/v1/agents/{created.json()['id']}")
    stored = json.dumps(emulator.store.get_agent(created.json()["id"]))
    assert all(s in stored for s in secrets)
    for answer in (created, read):
        assert not any(s in answer.text for s in secrets)
        assert list(rec.write_only_values(answer.json())) == []


@pytest.mark.parametrize("args", [
    ("get", "leak-test"), ("get", "leak-test", "-o", "json"), ("get", "leak-test", "-o", "yaml"),
    ("get", "leak-test", "--export"), ("list", "-o", "wide"),
])
def test_the_cli_never_prints_a_secret(api_env, write, monkeypatch, args):
    body, secrets = body_with_secrets()
    for i, secret in enumerate(secrets):
        monkeypatch.setenv(f"LEAK_{i}", secret)
    spec = copy.deepcopy(body)
    for i, (path, _) in enumerate(rec.write_only_values(body)):
        node: Any = spec
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = f"${{LEAK_{i}}}"
    run_cli("create", "-f", write("leak.json", json.dumps(spec)))
    stored = json.dumps(api_env.store.get_agent(api_env.store.list_agents()[0]["id"]))
    assert all(s in stored for s in secrets)

    result = run_cli(*args)

    assert not any(s in result.stdout + result.stderr for s in secrets), result
