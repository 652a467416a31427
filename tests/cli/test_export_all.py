"""export --all: an account's agents as a directory of spec files that apply finds unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import SUPPORT_YAML, agent_yaml, run_cli

pytestmark = pytest.mark.usefixtures("api_env")


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PUT", "DELETE")]


def tool_agent(name: str, tool: str, header: str, value: str) -> str:
    return (agent_yaml(name) + "tools:\n"
            f"  - name: {tool}\n    description: d\n"
            "    parameters: {type: object, properties: {q: {type: string}}}\n"
            "    http:\n      url: https://api.example.com/x\n      http_method: POST\n"
            f"      headers:\n        - {{name: {header}, value: '{value}'}}\n")


@pytest.fixture
def account(api_env, write, monkeypatch):
    """Four agents: two teams' and one with a secret; two share a variable name."""
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather")
    run_cli("create", "-f", write("support.yaml", SUPPORT_YAML))
    monkeypatch.delenv("WEATHER_KEY")
    run_cli("create", "-f", write("a.yaml", tool_agent("team-a", "lookup", "Authorization",
                                                       "Bearer s3cret-a")))
    run_cli("create", "-f", write("b.yaml", tool_agent("team-b", "lookup", "Authorization",
                                                       "Bearer s3cret-b")))
    run_cli("create", "-f", write("c.yaml", agent_yaml("other/../c")))
    api_env.requests.clear()
    return api_env


def test_export_all_then_diff_and_apply_find_nothing_to_do(account, tmp_path):
    out = tmp_path / "agents"
    result = run_cli("export", "--all", "--dir", str(out))
    files = sorted(p.name for p in out.iterdir())
    assert files == [".env.example", "Support-Assistant.yaml", "other-.-c.yaml",
                     "team-a.yaml", "team-b.yaml"]
    assert not writes(account)
    everything = result.stdout + result.stderr + "".join(
        p.read_text() for p in out.iterdir())
    assert "s3cret" not in everything  # write-only values never leave the server
    env = out / ".env.example"
    # the shared tool/header name is prefixed with each agent's name: one value each
    variables = [line.split("=")[0] for line in env.read_text().splitlines()
                 if line and not line.startswith("#")]
    assert variables == ["GET_WEATHER_AUTHORIZATION", "TEAM_A_LOOKUP_AUTHORIZATION",
                         "TEAM_B_LOOKUP_AUTHORIZATION"]
    spec = yaml.safe_load((out / "team-b.yaml").read_text())
    assert spec["tools"][0]["http"]["headers"][0]["value"] == "${TEAM_B_LOOKUP_AUTHORIZATION}"
    assert "# team-b: tool 'lookup', header 'Authorization'" in env.read_text()

    # diff never compares secrets: right after the export it needs none of them
    diff = run_cli("diff", "-f", str(out))
    assert "4 unchanged" in diff.stdout
    # apply sends them: it refuses them unset, or empty as .env.example has them
    assert "GET_WEATHER_AUTHORIZATION is not set" in run_cli(
        "apply", "-f", str(out), exit_code=3).stderr
    assert "is empty" in run_cli("apply", "-f", str(out), "--env-file", str(env),
                                 exit_code=3).stderr
    filled = tmp_path / ".env"
    filled.write_text(env.read_text().replace("=\n", "=Bearer new\n"))
    run_cli("apply", "-f", str(out), "--env-file", str(filled))
    assert not writes(account)  # nothing differs: nothing to write


def test_selector_exports_only_the_matching_agents(account, tmp_path):
    out = tmp_path / "team"
    run_cli("export", "--all", "--selector", "team-", "--dir", str(out))
    assert sorted(p.name for p in out.iterdir()) == [".env.example", "team-a.yaml",
                                                    "team-b.yaml"]
    run_cli("diff", "-f", str(out), "--prune", "--selector", "team-")


def test_named_agents_and_no_env_example_without_secrets(account, tmp_path):
    out = tmp_path / "one"
    result = run_cli("export", "other/../c", "--dir", str(out))
    assert [p.name for p in out.iterdir()] == ["other-.-c.yaml"]
    assert "exported 'other/../c'" in result.stdout
    run_cli("diff", "-f", str(out))


def test_existing_files_are_never_replaced_without_force(account, tmp_path):
    out = tmp_path / "agents"
    out.mkdir()
    (out / "team-a.yaml").write_text("mine\n")
    result = run_cli("export", "--all", "--dir", str(out), exit_code=2)
    assert "refusing to overwrite 1 file(s)" in result.stderr and "--force" in result.stderr
    assert [p.name for p in out.iterdir()] == ["team-a.yaml"]  # nothing else written either
    assert (out / "team-a.yaml").read_text() == "mine\n"
    run_cli("export", "--all", "--dir", str(out), "--force")
    assert (out / "team-a.yaml").read_text().startswith("name: team-a\n")
    assert not [p for p in out.iterdir() if p.name.startswith(".") and "tmp" in p.name]


def test_two_agents_with_one_name_are_refused_before_writing(api_env, write, tmp_path):
    run_cli("create", "-f", write("a.yaml", agent_yaml("twin")))
    run_cli("create", "-f", write("a.yaml", agent_yaml("twin")), "--allow-duplicate-name")
    out = tmp_path / "agents"
    result = run_cli("export", "--all", "--dir", str(out), exit_code=6)
    assert "'twin'" in result.stderr and "matched by name" in result.stderr
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize("args", [
    ["--dir", "x"],  # neither agents nor --all
    ["--all", "alpha", "--dir", "x"],  # both
    ["--selector", "a-", "--dir", "x"],  # selector without --all
    ["--all"],  # no --dir
])
def test_usage_errors(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("export", *args, exit_code=2)
    assert result.stderr.startswith("error: ")
    assert not Path("x").exists()


def test_empty_account_writes_nothing(api_env, tmp_path):
    out = tmp_path / "agents"
    result = run_cli("export", "--all", "--dir", str(out))
    assert "no agents to export" in result.stderr
    assert not out.exists()
