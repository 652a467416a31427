"""What a new user meets first: bare `agentctl`, the summary on a terminal, the README's
first steps in the order it gives them."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SUPPORT_YAML, run_cli

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("args", [[], ["config"], ["emulator"]])
def test_bare_command_prints_the_help_and_exits_0(args):
    result = run_cli(*args)
    assert result.stdout.startswith("Usage: agentctl")
    assert "Commands:" in result.stdout
    assert "error" not in result.stderr and result.stderr == ""


def test_an_unknown_command_is_still_a_usage_error():
    result = run_cli("lsit", exit_code=2)
    assert result.stderr.startswith("error: ")


def _run_on_a_pty(args: list[str], env: dict[str, str]) -> str:
    """Run the real CLI with stdout on a pseudo-terminal, as a person would see it."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "agentctl", *args], stdout=secondary,
                            stderr=subprocess.PIPE, env=env)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            proc.kill()
            raise AssertionError("no output within 30 s")
        try:
            data = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return b"".join(chunks).decode()


def test_summary_on_a_terminal_bolds_only_the_labels(api_env, write, monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", "k")
    run_cli("create", "-f", write("a.yaml", SUPPORT_YAML))
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("_TYPER_FORCE_DISABLE_TERMINAL", None)
    screen = _run_on_a_pty(["get", "Support Assistant"], env)
    lines = [line for line in screen.splitlines() if line.strip()]
    assert lines and lines[0].startswith("\x1b[1mName:\x1b[0m")
    for line in lines:
        # every bold that opens closes on its line, and the value is never inside it
        assert line.count("\x1b[1m") == line.count("\x1b[0m"), repr(line)
        bold = re.findall(r"\x1b\[1m(.*?)\x1b\[0m", line)
        assert all(b.endswith(":") for b in bold), repr(line)
    assert "Support Assistant" in screen and "\x1b[1mName:      Support" not in screen


def _readme_block(heading: str) -> list[str]:
    """The command lines of the first ```sh block under a README heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


def test_readme_set_up_then_quick_start_run_in_order(tmp_path, monkeypatch):
    """The set-up command's agentctl part, then the Quick start's commands, exactly as the
    README gives them, against a fresh --local data directory: each succeeds (diff: 1)."""
    text = (ROOT / "README.md").read_text()
    setup = re.search(r"```sh\n(python3 -m venv .venv && .venv/bin/pip install -e \. .*)\n",
                      text)
    assert setup, "the set-up command is the first block"
    steps = [s.strip() for s in setup.group(1).split("&&")][2:]  # after venv and pip
    monkeypatch.chdir(ROOT)
    for step in steps:
        argv = shlex.split(step)
        assert argv[0] == ".venv/bin/agentctl"
        run_cli(*argv[1:])
    lines = _readme_block("Quick start")
    assert lines[0].startswith("export PATH=") and lines[1].startswith("export AGENTCTL_LOCAL=1 ")
    monkeypatch.setenv("AGENTCTL_LOCAL", "1")
    for line in lines[2:]:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "agentctl", line
        run_cli(*argv[1:], exit_code=1 if argv[1] == "diff" else 0)


def test_readme_own_repository_block_runs_as_shown(tmp_path, monkeypatch):
    """`agentctl init my-agents && cd my-agents`, validate, test and apply on --local."""
    text = (ROOT / "README.md").read_text()
    block = text.split("Your own agents in a git repository", 1)[1]
    block = block.split("```sh\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    ran = []
    for line in block.splitlines():
        for step in line.split("  #", 1)[0].split("&&"):
            argv = shlex.split(step)
            if argv[0] == "cd":
                monkeypatch.chdir(argv[1])
                continue
            assert argv[0] == "agentctl", step
            ran.append(run_cli(*argv[1:]))
    assert [r.args[0] for r in ran] == ["init", "validate", "--local", "--local"]
    assert "1 passed" in ran[2].stdout + ran[2].stderr


def test_ci_runs_the_readme_test_command_exactly():
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in text.split("```sh\n")[1:3]]
    assert blocks[1].endswith(".venv/bin/pytest -q")
    assert blocks[1] in (ROOT / ".ci" / "run").read_text().splitlines()
