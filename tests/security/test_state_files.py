"""Issue 13 items 7, 8 (local state): files 600 in 700 directories, locked config writes,
and a full disk as one line with a documented exit code."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agentctl import profiles
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_config_file_is_600_in_a_700_directory(isolated):
    run_cli("config", "set", "base_url", "http://127.0.0.1:9", "--profile", "dev")
    path = profiles.config_path()
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_local_database_is_600_in_a_700_directory(isolated):
    run_cli("--local", "list")
    data = isolated / "data"
    assert _mode(data) == 0o700
    for item in data.iterdir():
        if item.name.startswith("emulator.sqlite3"):
            assert _mode(item) == 0o600, item


def test_an_old_readable_local_database_is_tightened(isolated):
    data = isolated / "data"
    run_cli("--local", "list")
    db = data / "emulator.sqlite3"
    db.chmod(0o644)
    run_cli("--local", "list")
    assert _mode(db) == 0o600


@pytest.mark.slow
def test_twenty_concurrent_config_sets_keep_all_twenty(isolated):
    env = {**os.environ}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "agentctl", "config", "set", "base_url",
         f"http://127.0.0.1:{9000 + i}", "--profile", f"p{i:02}"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(20)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    config = profiles.load()
    assert sorted(config.profiles) == [f"p{i:02}" for i in range(20)]
    assert config.profiles["p07"]["base_url"] == "http://127.0.0.1:9007"


def test_config_set_on_a_full_disk_is_one_line_exit_2(isolated, monkeypatch):
    run_cli("config", "set", "base_url", "http://127.0.0.1:9", "--profile", "dev")
    before = profiles.config_path().read_text()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("agentctl.fileio.os.fsync", full)
    result = run_cli("config", "set", "timeout", "5", "--profile", "dev", exit_code=2)
    assert result.stderr.startswith("error: cannot write ") and "No space left" in result.stderr
    assert len(result.stderr.splitlines()) <= 2 and "Traceback" not in result.stderr
    assert profiles.config_path().read_text() == before
    assert [p.name for p in profiles.config_path().parent.iterdir()
            if p.name.endswith(".tmp")] == []


def test_completion_cache_is_600_in_700_directories(isolated, monkeypatch):
    from agentctl.cli import tab

    cache = isolated / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    target = tab.cache_dir() / "completion" / "agents-x.json"
    tab.write_private(target, "[]")
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700 and _mode(target.parent.parent) == 0o700
