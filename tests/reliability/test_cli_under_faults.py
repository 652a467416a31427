"""The real CLI against a faulty emulator: it completes under a flaky network without
duplicates, and against a server that never recovers it gives up with exit 7 and one line.
"""

from __future__ import annotations

import socket

import pytest

from tests.conftest import agent_yaml, run_cli

# 30% of requests fail, in every way the emulator knows; Retry-After 0 keeps it quick.
FLAKY_30 = ("429=0.05:0,500=0.04,502=0.04,503=0.05,504=0.02,reset-before=0.04,"
            "reset-after=0.04,slow=0.02:2s")
N_AGENTS = 200


def many_agents(write, n: int) -> str:
    return write("many.yaml", "---\n".join(agent_yaml(f"agent-{i:03d}") for i in range(n)))


def has_command(name: str) -> bool:
    return run_cli(name, "--help", exit_code=None).code == 0


@pytest.mark.parametrize("seed", [7, 11])
def test_200_creates_under_30_percent_faults_make_exactly_200_agents(
    faulty, write, monkeypatch, seed
):
    running = faulty(f"{FLAKY_30},seed={seed}")
    # Enough tries that 30% failures cannot exhaust them by chance (0.3^12 ~ 5e-7 per request).
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "12")
    path = many_agents(write, N_AGENTS)
    command = "apply" if has_command("apply") else "create"  # apply: concurrent requests
    run_cli("--timeout", "0.5", command, "-f", path)
    names = [a["name"] for a in running.store.list_agents()]
    assert len(names) == N_AGENTS and len(set(names)) == N_AGENTS
    faults = running.app.state.faults
    # the run really was under fire, including writes that landed unseen
    assert sum(faults.counts.values()) > 0.2 * faults.requests_seen
    assert faults.counts["reset-after"] > 0 and faults.counts["slow"] > 0
    if command == "apply":  # a second run, still under fire, writes nothing
        before = len(running.requests)
        result = run_cli("--timeout", "0.5", "apply", "-f", path)
        assert "200 unchanged" in result.stdout
        assert all(r["method"] == "GET" for r in running.requests[before:])


FAILING = ["500=1", "502=1", "503=1", "504=1", "429=1:0", "reset-before=1", "reset-after=1"]
COMMANDS = [
    ["list"],
    ["get", "alpha"],
    ["create", "-f", "{spec}"],
    ["update", "alpha", "--set", "greeting=Hi"],
    ["delete", "alpha", "--yes"],
]


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert all(line.startswith(("error:", "hint:")) for line in lines), stderr
    assert "Traceback" not in stderr
    return errors[0]


@pytest.mark.parametrize("spec", FAILING)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_server_that_never_recovers_is_exit_7_and_one_line(faulty, write, monkeypatch,
                                                           spec, command):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "3")
    running = faulty(spec)
    args = [a.format(spec=write("a.yaml", agent_yaml("beta"))) for a in command]
    result = run_cli(*args, exit_code=7)
    line = one_error_line(result.stderr)
    assert "after 3 tries" in line or "outcome is unknown" in line
    assert result.stdout == ""
    assert running.app.state.faults.requests_seen == 3  # the first call gave up: nothing more
    assert running.store.count_agents() == 0 or spec == "reset-after=1"


@pytest.mark.parametrize(("command", "code", "names"), [
    (COMMANDS[0], 0, ["alpha"]),
    (COMMANDS[1], 0, ["alpha"]),
    (COMMANDS[2], 0, ["alpha", "beta"]),  # landed unseen: found by name, not posted again
    (COMMANDS[3], 7, ["alpha"]),  # landed (three times, harmlessly), never confirmed
    (COMMANDS[4], 7, []),  # landed, never confirmed
], ids=["list", "get", "create", "update", "delete"])
def test_writes_that_are_never_answered_make_no_duplicate(faulty, write, monkeypatch,
                                                          command, code, names):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "3")
    running = faulty("reset-after=1,methods=POST+PUT+DELETE")
    running.store.create_agent({"name": "alpha", "system_prompt": "p",
                                "voice": {"voice_id": "ivy"}})
    args = [a.format(spec=write("a.yaml", agent_yaml("beta"))) for a in command]
    result = run_cli(*args, exit_code=code)
    if code:
        assert "after 3 tries" in one_error_line(result.stderr)
    assert sorted(a["name"] for a in running.store.list_agents()) == names
    posts = [r for r in running.requests if r["method"] == "POST"]
    assert len(posts) == (1 if command[0] == "create" else 0)


def test_nobody_listening_is_exit_7_with_a_hint(monkeypatch, fast_retries):
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "k-0123456789")
    monkeypatch.setenv("AGENTCTL_BASE_URL", f"http://127.0.0.1:{port}")
    result = run_cli("list", exit_code=7)
    assert one_error_line(result.stderr).startswith(
        f"error: list agents: cannot connect to http://127.0.0.1:{port}")
    assert "hint:" in result.stderr


def test_timeout_is_respected(faulty, monkeypatch):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "2")
    running = faulty("slow=1:30s")  # far past any test's patience: --timeout must cut it
    result = run_cli("--timeout", "0.2", "list", exit_code=7)
    assert "timed out" in one_error_line(result.stderr)
    assert "--timeout" in result.stderr  # the hint
    assert running.app.state.faults.counts["slow"] == 2


def test_verbose_shows_each_retry(faulty, monkeypatch):
    faulty("503=1")
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "3")
    result = run_cli("-v", "list", exit_code=7)
    retries = [line for line in result.stderr.splitlines() if "retrying in" in line]
    assert len(retries) == 2
    assert "error: list agents: the service failed (503" in result.stderr


def test_a_bad_retry_setting_is_a_usage_error(api_env, monkeypatch):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "lots")
    result = run_cli("list", exit_code=2)
    assert one_error_line(result.stderr).startswith("error: invalid $AGENTCTL_RETRY_ATTEMPTS")
