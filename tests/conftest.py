"""Shared fixtures: isolation, a real emulator on loopback, and the real CLI in-process."""

from __future__ import annotations

import io
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentctl.emulator import server

# Whole directories of long runs: not in the quick loop (pytest -m "not slow"); CI runs all.
SLOW_DIRS = ("reliability", "fuzz")


def pytest_configure(config: pytest.Config) -> None:
    # A test run started in the background by a non-interactive shell (`pytest &` in a
    # script) ignores SIGINT, and the processes it starts inherit that: the Ctrl-C tests
    # would then test the shell, not agentctl. They get Python's own handler back.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.relative_to(here).parts[0] in SLOW_DIRS:
            item.add_marker(pytest.mark.slow)

TEST_KEY = "test-key-0123456789"
LEAKY_ENV = (
    "ASSEMBLYAI_API_KEY", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "LINES",
    "GITHUB_ACTIONS", "CI", "AGENTCTL_PROFILE", "AGENTCTL_BASE_URL", "AGENTCTL_LOCAL",
    "AGENTCTL_TIMEOUT", "CLICOLOR_FORCE",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, data, key or colour settings leak into a test."""
    for name in LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("AGENTCTL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("AGENTCTL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    return tmp_path


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[server.RunningEmulator]:
    running = server.start(port=0, db_path=tmp_path / "emulator.sqlite3")
    try:
        yield running
    finally:
        running.stop()
    # Every test also checks that nothing turned into a 500.
    assert running.errors == []


@pytest.fixture
def paged_emulator(tmp_path: Path) -> Iterator[server.RunningEmulator]:
    """An emulator whose lists answer at most 3 items a page, whatever the client asks."""
    running = server.start(port=0, db_path=tmp_path / "paged.sqlite3", page_size=3)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


@pytest.fixture
def paged_env(paged_emulator: server.RunningEmulator, monkeypatch: pytest.MonkeyPatch):
    """The CLI pointed at `paged_emulator`."""
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", paged_emulator.base_url)
    return paged_emulator


@pytest.fixture
def api_env(emulator: server.RunningEmulator, monkeypatch: pytest.MonkeyPatch):
    """The CLI pointed at the test's emulator with a test key, as a user would set it."""
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", emulator.base_url)
    return emulator


class _Stream(io.StringIO):
    def __init__(self, text: str = "", *, tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        raise io.UnsupportedOperation("in-memory stream")


@dataclass
class Result:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"agentctl {shlex.join(self.args)} -> exit {self.code}\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


def run_cli(
    *args: str, exit_code: int | None = 0, tty: bool = False, stdin: str = ""
) -> Result:
    """Run the real CLI in-process with separate stdout/stderr; check the exit code."""
    from agentctl.cli import main

    argv = [str(a) for a in args]
    out, err, inp = _Stream(tty=tty), _Stream(tty=tty), _Stream(stdin, tty=tty)
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = out, err, inp
    try:
        code = main(argv)
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    result = Result(argv, code, out.getvalue(), err.getvalue())
    if exit_code is not None:
        assert code == exit_code, str(result)
    return result


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write(tmp_path: Path):
    """Write a file under the test's directory and return its path as a string."""

    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write


SUPPORT_YAML = """\
name: Support Assistant
system_prompt: |
  You are a friendly support agent.
  Keep responses under two sentences.
greeting: Hi, how can I help?
voice:
  voice_id: ivy
tools:
  - name: get_weather
    description: Get current weather for a location.
    parameters:
      type: object
      properties:
        latitude: {type: number}
      required: [latitude]
    http:
      url: https://api.example.com/weather
      http_method: GET
      headers:
        - name: Authorization
          value: "Bearer ${WEATHER_KEY}"
"""


def agent_yaml(name: str, prompt: str = "You help.", voice: str = "ivy") -> str:
    return f"name: {name}\nsystem_prompt: {prompt}\nvoice:\n  voice_id: {voice}\n"
