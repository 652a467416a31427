"""config list/show/set/use/path, profiles in use, file modes."""

from __future__ import annotations

import json
import os
import stat

from tests.conftest import TEST_KEY, agent_yaml, run_cli


def test_path_is_in_the_config_dir(isolated):
    assert run_cli("config", "path").stdout.strip() == str(isolated / "config" / "config.toml")


def test_set_use_show_list(isolated):
    run_cli("config", "set", "base_url", "https://eu.example.com", "--profile", "eu")
    run_cli("config", "set", "api_key_env", "EU_KEY", "--profile", "eu")
    run_cli("config", "set", "base_url", "http://127.0.0.1:9", "--profile", "dev")
    run_cli("config", "use", "dev")
    rows = json.loads(run_cli("config", "list", "-o", "json").stdout)
    assert [(r["name"], r["current"]) for r in rows] == [("dev", True), ("eu", False)]
    shown = json.loads(run_cli("config", "show", "eu", "-o", "json").stdout)
    assert shown == {"name": "eu", "current": False, "base_url": "https://eu.example.com",
                     "api_key_env": "EU_KEY"}


def test_stored_key_is_masked_and_the_file_is_private(isolated):
    run_cli("config", "set", "api_key", "-", "--profile", "prod", stdin="sk-stored-secret\n")
    path = isolated / "config" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "sk-stored-secret" in path.read_text()
    shown = run_cli("config", "show", "prod")
    listed = run_cli("config", "list")
    assert "sk-stored-secret" not in shown.stdout + listed.stdout + shown.stderr
    assert "api_key: '***'" in shown.stdout


def test_a_loose_key_file_is_warned_about(isolated):
    run_cli("config", "set", "api_key", "-", "--profile", "prod", stdin="sk-x\n")
    path = isolated / "config" / "config.toml"
    os.chmod(path, 0o644)
    result = run_cli("config", "list")
    assert "readable by others" in result.stderr and "chmod 600" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) & 0o077


def test_profile_drives_base_url_and_key(api_env, monkeypatch, write):
    monkeypatch.delenv("ASSEMBLYAI_API_KEY")
    monkeypatch.delenv("AGENTCTL_BASE_URL")
    monkeypatch.setenv("STAGING_KEY", TEST_KEY)
    run_cli("config", "set", "base_url", api_env.base_url, "--profile", "staging")
    run_cli("config", "set", "api_key_env", "STAGING_KEY", "--profile", "staging")
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")), "--profile", "staging")
    assert run_cli("list", "-o", "name", "-p", "staging").stdout.split() == ["alpha"]
    run_cli("config", "use", "staging")
    assert run_cli("list", "-o", "name").stdout.split() == ["alpha"]


def test_unknown_profile_and_setting_are_usage_errors():
    assert "no profile named 'nope'" in run_cli("list", "--profile", "nope", exit_code=2).stderr
    run_cli("config", "set", "colour", "blue", exit_code=2)
    run_cli("config", "set", "timeout", "soon", exit_code=2)
    run_cli("config", "set", "base_url", "http://example.com", exit_code=2)  # key in clear


def test_broken_config_file_is_one_line(isolated):
    path = isolated / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("current_profile = [\n")
    result = run_cli("config", "list", exit_code=3)
    assert result.stderr.startswith(f"error: {path}: invalid config file")
