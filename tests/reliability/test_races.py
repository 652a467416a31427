"""Issue 13 item 1: concurrent applies and creates of the same specs converge to exactly
one agent per name, whatever the order; duplicates left by an older race are resolved by a
confirmed `apply --dedupe`.

The settling rule is tested in every interleaving of two racers with two real clients on
one emulator, and then end to end with real CLI processes started together against an
emulator that holds every create back (so their creates really overlap).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentctl.api.client import AgentsAPI
from agentctl.api.converge import age_key, settle_create
from agentctl.api.retry import RetryPolicy
from agentctl.api.transport import build_client
from agentctl.emulator import server
from tests.conftest import TEST_KEY, run_cli

BODY = {"name": "racer", "system_prompt": "Be brief.", "voice": {"voice_id": "ivy"}}
ROOT = Path(__file__).resolve().parents[2]


def _api(emulator: server.RunningEmulator) -> AgentsAPI:
    return AgentsAPI(build_client(emulator.base_url, TEST_KEY, 10), RetryPolicy(attempts=1))


# Every order of: A creates, B creates, A settles, B settles (each creates before settling).
ORDERS = sorted({o for o in itertools.permutations(["A+", "B+", "A=", "B="])
                 if o.index("A+") < o.index("A=") and o.index("B+") < o.index("B=")})


@pytest.mark.parametrize("order", ORDERS, ids=["".join(o) for o in ORDERS])
def test_two_racers_settle_on_the_oldest_in_any_order(emulator, order):
    apis = {"A": _api(emulator), "B": _api(emulator)}
    try:
        _race(apis, order)
    finally:
        for api in apis.values():
            api.http.close()


def _race(apis: dict[str, AgentsAPI], order: tuple[str, ...]) -> None:
    made: dict[str, dict] = {}
    kept: dict[str, bool] = {}
    for step in order:
        who, what = step[0], step[1]
        if what == "+":
            made[who] = apis[who].create_agent(dict(BODY))
        else:
            kept[who] = settle_create(apis[who], made[who]).kept
    left = apis["A"].find_by_name("racer")
    assert len(left) == 1, left
    oldest = min(made.values(), key=age_key)
    assert left[0]["id"] == oldest["id"]  # the survivor, never deleted by anyone
    assert sorted(kept.values()) == [False, True]


def _specs(directory: Path, count: int) -> str:
    directory.mkdir()
    for i in range(count):
        (directory / f"a{i:02}.yaml").write_text(
            f"name: race-{i:02}\nsystem_prompt: Agent {i}.\nvoice: {{voice_id: ivy}}\n")
    return str(directory)


def _run_together(base_url: str, *argvs: list[str]) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "ASSEMBLYAI_API_KEY": TEST_KEY, "AGENTCTL_BASE_URL": base_url,
           "NO_COLOR": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "agentctl", *argv], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for argv in argvs]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


@pytest.fixture
def slow_creates(tmp_path):
    # Every POST is held 300 ms: two runs started together overlap on every create.
    running = server.start(port=0, db_path=tmp_path / "race.sqlite3",
                           faults="slow=1:300ms,methods=POST")
    yield running
    running.stop()
    assert running.errors == []


def _names(emulator: server.RunningEmulator) -> list[str]:
    return sorted(a["name"] for a in emulator.store.list_agents())


@pytest.mark.slow
def test_two_applies_started_together_converge(slow_creates, tmp_path):
    specs = _specs(tmp_path / "specs", 12)
    first, second = _run_together(slow_creates.base_url, ["apply", "-f", specs],
                                  ["apply", "-f", specs])
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert _names(slow_creates) == [f"race-{i:02}" for i in range(12)]
    again = _run_together(slow_creates.base_url, ["diff", "-f", specs])[0]
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.fixture
def slow_everything(tmp_path):
    # `create` checks the name first: every answer held 1 s, so both runs have read the
    # list before either creates (a create lands at once; only its answer waits).
    running = server.start(port=0, db_path=tmp_path / "race.sqlite3", faults="slow=1:1s")
    yield running
    running.stop()
    assert running.errors == []


@pytest.mark.slow
def test_two_creates_started_together_make_one_agent_per_name(slow_everything, tmp_path):
    specs = _specs(tmp_path / "specs", 2)
    runs = _run_together(slow_everything.base_url, ["create", "-f", specs],
                         ["create", "-f", specs])
    assert sorted(r.returncode for r in runs) in ([0, 6], [6, 6]), runs
    assert _names(slow_everything) == ["race-00", "race-01"]
    for run in runs:
        assert "Traceback" not in run.stderr and "internal error" not in run.stderr


def test_apply_dedupe_resolves_an_old_race_after_asking(api_env, write):
    spec = write("dup.yaml", "name: dup\nsystem_prompt: Hi.\nvoice: {voice_id: ivy}\n")
    for _ in range(3):
        run_cli("create", "-f", spec, "--allow-duplicate-name")
    ids = sorted((a for a in api_env.store.list_agents()), key=age_key)
    stuck = run_cli("apply", "-f", spec, exit_code=6)
    assert "--dedupe" in stuck.stderr
    refused = run_cli("apply", "-f", spec, "--dedupe", exit_code=2)
    assert "--yes" in refused.stderr and len(api_env.store.list_agents()) == 3
    shown = run_cli("apply", "-f", spec, "--dedupe", "--dry-run")
    assert "would be deleted" in shown.stderr and len(api_env.store.list_agents()) == 3
    done = run_cli("apply", "-f", spec, "--dedupe", "--yes")
    assert "deleted 2 duplicate" in done.stdout + done.stderr
    left = api_env.store.list_agents()
    assert [a["id"] for a in left] == [ids[0]["id"]]  # the oldest stays
    run_cli("diff", "-f", spec)


def test_apply_settles_its_creates_with_one_more_list(api_env, tmp_path):
    specs = _specs(tmp_path / "specs", 8)
    del api_env.requests[:]
    run_cli("apply", "-f", specs)
    lists = [r for r in api_env.requests if r["method"] == "GET" and r["path"] == "/v1/agents"]
    assert len(lists) == 2, api_env.requests  # the plan's, and one to settle all 8 creates
    assert len(api_env.store.list_agents()) == 8
