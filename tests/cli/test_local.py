"""--local (embedded emulator) and `emulator serve` from another process, as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import SUPPORT_YAML, agent_yaml, run_cli


def test_local_keeps_state_between_runs_in_the_data_dir(isolated, write):
    run_cli("--local", "create", "-f", write("a.yaml", agent_yaml("alpha")))
    assert (isolated / "data" / "emulator.sqlite3").exists()
    assert run_cli("list", "--local", "-o", "name").stdout.split() == ["alpha"]
    run_cli("--local", "delete", "alpha", "--yes")
    assert run_cli("list", "--local", "-o", "name").stdout.split() == []


def test_local_via_environment(isolated, write, monkeypatch):
    monkeypatch.setenv("AGENTCTL_LOCAL", "1")
    run_cli("create", "-f", write("a.yaml", agent_yaml("beta")))
    assert run_cli("list", "-o", "name").stdout.split() == ["beta"]


def test_emulator_serve_in_a_second_process(isolated, write, tmp_path):
    """The README's two-terminal session: serve in one process, the CLI in another."""
    env = {k: v for k, v in os.environ.items() if k != "ASSEMBLYAI_API_KEY"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "agentctl", "emulator", "serve", "--port", "0",
         "--db", str(tmp_path / "served.sqlite3")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = serve.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base = match.group(1)
        cli_env = {**env, "AGENTCTL_BASE_URL": base, "ASSEMBLYAI_API_KEY": "any-key-1234",
                   "WEATHER_KEY": "w-secret"}
        run = [sys.executable, "-m", "agentctl"]
        created = subprocess.run([*run, "create", "-f", write("s.yaml", SUPPORT_YAML)],
                                 env=cli_env, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        listed = subprocess.run([*run, "list", "-o", "name"], env=cli_env,
                                capture_output=True, text=True, timeout=60)
        assert listed.stdout.split("\n")[0] == "Support Assistant"
        got = subprocess.run([*run, "get", "Support Assistant", "-o", "yaml"], env=cli_env,
                             capture_output=True, text=True, timeout=60)
        assert "w-secret" not in got.stdout and "last_set_at:" in got.stdout
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=30)
    assert "Traceback" not in err
