"""get --export: a spec that create -f / apply -f take back unchanged."""

from __future__ import annotations

import json

import pytest
import yaml

from agentctl.emulator import server
from tests.conftest import SUPPORT_YAML, agent_yaml, run_cli

pytestmark = pytest.mark.usefixtures("api_env")
SECRET = "Bearer s3cret-weather-value"
VARIABLE = "GET_WEATHER_AUTHORIZATION"


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PUT", "DELETE")]


@pytest.fixture
def exported(api_env, write, monkeypatch) -> str:
    """The support agent created with a secret, then exported to a file."""
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather-value")
    run_cli("create", "-f", write("support.yaml", SUPPORT_YAML))
    monkeypatch.delenv("WEATHER_KEY")
    result = run_cli("get", "Support Assistant", "--export")
    api_env.requests.clear()
    return write("exported.yaml", result.stdout)


def test_export_drops_read_only_fields_and_names_the_secret_variables(api_env, write,
                                                                     monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather-value")
    run_cli("create", "-f", write("support.yaml", SUPPORT_YAML))
    result = run_cli("get", "Support Assistant", "--export")
    spec = yaml.safe_load(result.stdout)
    assert not {"id", "created_at", "updated_at"} & set(spec)
    assert "id" not in spec["tools"][0]
    assert "voice" not in spec["output"]  # the service's echo of voice.voice_id
    assert spec["tools"][0]["http"]["headers"] == [
        {"name": "Authorization", "value": "${" + VARIABLE + "}"}]
    assert result.stderr == (
        f"warning: the export needs these variables for its secrets: {VARIABLE}\n")
    assert "s3cret" not in result.stdout + result.stderr


def test_export_feeds_apply_and_diff_unchanged(api_env, exported, monkeypatch):
    monkeypatch.setenv(VARIABLE, "Bearer anything")  # write-only: never a difference
    run_cli("diff", "-f", exported)
    result = run_cli("apply", "-f", exported)
    assert result.stdout.startswith("unchanged  Support Assistant")
    assert writes(api_env) == []
    run_cli("update", "Support Assistant", "-f", exported)
    assert writes(api_env) == []


def test_export_feeds_create_in_another_account(api_env, exported, tmp_path, monkeypatch):
    original = api_env.store.get_agent(api_env.store.list_agents()[0]["id"])
    with server.start(port=0, db_path=tmp_path / "other.sqlite3") as other:
        target = ("--base-url", other.base_url)
        result = run_cli("create", "-f", exported, *target, exit_code=3)
        assert VARIABLE in result.stderr.splitlines()[0]
        assert other.requests == []
        monkeypatch.setenv(VARIABLE, SECRET)
        run_cli("create", "-f", exported, *target)
        copy = other.store.get_agent(other.store.list_agents()[0]["id"])

    def comparable(record: dict) -> dict:
        from agentctl.emulator.app import with_defaults  # as a read shows them

        record = with_defaults(record)
        record = {k: v for k, v in record.items() if k not in ("id", "created_at", "updated_at")}
        record["tools"] = [{k: v for k, v in t.items() if k != "id"} for t in record["tools"]]
        for tool in record["tools"]:
            for header in tool.get("http", {}).get("headers", []):
                header.pop("last_set_at", None)  # each account's own write time
        return record

    assert comparable(copy) == comparable(original)
    assert copy["tools"][0]["http"]["headers"][0]["value"] == SECRET


def test_export_as_json_is_the_same_spec(exported):
    result = run_cli("get", "Support Assistant", "--export", "-o", "json")
    with open(exported) as fh:
        assert json.loads(result.stdout) == yaml.safe_load(fh)
    assert VARIABLE in result.stderr


def test_variable_names_are_stable_and_unique(api_env, write, monkeypatch):
    spec = agent_yaml("multi") + (
        "tools:\n"
        "  - name: a-b\n    description: d\n    http:\n      url: https://x.example.com\n"
        "      headers: [{name: c, value: '${V1}'}]\n"
        "  - name: a\n    description: d\n    http:\n      url: https://y.example.com\n"
        "      headers: [{name: b-c, value: '${V1}'}, {name: X-Api-Key, value: '${V1}'}]\n"
    )
    monkeypatch.setenv("V1", "value-one")
    run_cli("create", "-f", write("multi.yaml", spec))
    first = run_cli("get", "multi", "--export")
    second = run_cli("get", "multi", "--export")
    assert first.stdout == second.stdout
    headers = [h["value"] for t in yaml.safe_load(first.stdout)["tools"]
               for h in t["http"]["headers"]]
    assert headers == ["${A_B_C}", "${A_B_C_2}", "${A_X_API_KEY}"]
    assert first.stderr.endswith("A_B_C, A_B_C_2, A_X_API_KEY\n")


def test_export_writes_a_variable_for_the_llm_key_and_round_trips(api_env, write,
                                                                   monkeypatch):
    spec = agent_yaml("plain") + (
        "llm:\n  - {base_url: 'https://llm.example.com/v1', model: m, api_key: sk-secret-1}\n")
    run_cli("create", "-f", write("plain.yaml", spec))
    result = run_cli("get", "plain", "--export")
    assert "LLM_API_KEY" in result.stderr
    assert yaml.safe_load(result.stdout)["llm"] == [
        {"base_url": "https://llm.example.com/v1", "model": "m",
         "api_key": "${LLM_API_KEY}"}]  # reads never return the key
    assert "sk-secret" not in result.stdout
    api_env.requests.clear()
    monkeypatch.setenv("LLM_API_KEY", "sk-other")
    run_cli("apply", "-f", write("plain-export.yaml", result.stdout))
    assert writes(api_env) == []  # llm unchanged: not sent, the stored key stays
    assert api_env.store.get_agent(api_env.store.list_agents()[0]["id"])["llm"][0][
        "api_key"] == "sk-secret-1"


def test_export_needs_the_agent_to_exist(api_env):
    run_cli("get", "nobody", "--export", exit_code=5)

