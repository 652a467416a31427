"""Issue 13 item 5: Ctrl-C during apply says what landed and how to finish, exits 130,
and prints no traceback (also with --local, where the emulator runs in the same process).

A real `agentctl apply` process gets SIGINT once some of its writes have landed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentctl.emulator import server
from agentctl.emulator.store import Store
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]


def _specs(directory: Path, count: int) -> str:
    directory.mkdir()
    for i in range(count):
        (directory / f"a{i:03}.yaml").write_text(
            f"name: ctrl-c-{i:03}\nsystem_prompt: Agent {i}.\nvoice: {{voice_id: ivy}}\n")
    return str(directory)


def _interrupt_when(proc: subprocess.Popen, landed) -> tuple[str, str]:
    deadline = time.monotonic() + 60
    while not landed():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no write landed within 60 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)


def _check(proc: subprocess.Popen, out: str, err: str) -> None:
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "Exception" not in err, err
    assert "interrupted:" in err and "landed" in err, err
    assert "to finish, run it again" in err and "agentctl apply -f" in err, err
    assert len(err.splitlines()) < 60


@pytest.mark.slow
def test_ctrl_c_during_apply_says_what_landed(tmp_path):
    running = server.start(port=0, db_path=tmp_path / "db.sqlite3",
                           faults="slow=1:400ms,methods=POST")
    try:
        env = {**os.environ, "ASSEMBLYAI_API_KEY": TEST_KEY,
               "AGENTCTL_BASE_URL": running.base_url}
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentctl", "apply", "-f", _specs(tmp_path / "s", 40),
             "--concurrency", "2"], env=env, cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = _interrupt_when(proc, lambda: len(running.requests) > 4 and any(
            r["method"] == "POST" and r["status"] == 201 for r in running.requests))
        _check(proc, out, err)
        assert "created" in err
    finally:
        running.stop()


@pytest.mark.slow
def test_ctrl_c_during_a_local_apply_has_no_emulator_traceback(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "AGENTCTL_DATA_DIR": str(data), "AGENTCTL_LOCAL": "1"}
    env.pop("ASSEMBLYAI_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentctl", "apply", "-f", _specs(tmp_path / "s", 400)],
        env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def landed() -> bool:
        db = data / "emulator.sqlite3"
        if not db.exists():
            return False
        try:
            with Store(db, busy_timeout_ms=200) as store:
                return len(store.list_agents()) >= 3
        except Exception:
            return False

    out, err = _interrupt_when(proc, landed)
    _check(proc, out, err)
