"""Start-up: what `--version`, `--help` and a Tab-completion request load.

Timing is the benchmark's job (bench/run.py); these tests pin the cause of a slow start
instead: the modules a fresh interpreter holds after the run. Each run goes through the
real entry point in a subprocess.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import TEST_KEY, run_cli

ROOT = Path(__file__).resolve().parent.parent

# After the run, list the top-level packages and agentctl's own modules that were loaded.
RUNNER = r"""
import json, os, sys
from agentctl.cli import main
try:
    main(sys.argv[1:] or None)  # None: as the console script calls it
except SystemExit:
    pass
with open(os.environ["MODULES_OUT"], "w") as out:
    json.dump(sorted(sys.modules), out)
"""

SERVER_STACK = {"starlette", "hypercorn", "sqlite3", "asyncio", "websockets"}
# httpcore loads h11, and anyio and h2 when installed (the emulator's stack brings them).
HEAVY = {"httpx", "httpcore", "h11", "h2", "anyio", "yaml", *SERVER_STACK}
RICH = {"rich", "markdown_it", "pygments"}
NEVER = {"click", "pydantic"}


def loaded(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    out = tmp_path / "modules.json"
    environ = dict(os.environ, MODULES_OUT=str(out), **(env or {}))
    result = subprocess.run([sys.executable, "-c", RUNNER, *args], env=environ,
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.exists(), result
    return set(json.loads(out.read_text()))


def tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def bash_request(line: str) -> dict[str, str]:
    words = line.split(" ")
    return {"_AGENTCTL_COMPLETE": "complete_bash", "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1)}


def test_version_builds_no_app(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--version")
    assert not tops(modules) & (HEAVY | RICH | NEVER | {"typer"})
    assert "agentctl.cli.app" not in modules


def test_version_fast_path_prints_what_the_app_would(tmp_path: Path) -> None:
    from agentctl import __version__
    from agentctl.cli import main, run

    assert run_cli("--version").stdout == f"agentctl {__version__}\n"
    assert run_cli("-v", "--profile", "x", "--version").stdout == f"agentctl {__version__}\n"
    # The app's own eager --version (what the fast path stands in for) says the same.
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert run(["--version"], debug=False) == 0
    assert buffer.getvalue() == f"agentctl {__version__}\n"
    assert main(["list", "--version"]) == 2  # not a subcommand's option: as before


@pytest.mark.parametrize("args", [["--help"], ["list", "--help"], ["config", "--help"]])
def test_piped_help_loads_no_rich(tmp_path: Path, args: list[str]) -> None:
    modules = loaded(tmp_path, *args)
    assert not tops(modules) & (HEAVY | RICH | NEVER)


def test_help_is_plain_text_piped_and_on_a_terminal() -> None:
    for tty in (False, True):
        shown = run_cli("--help", tty=tty).stdout
        assert "Usage: agentctl" in shown and "list" in shown
        assert not re.search(r"[─-╿]", shown), "box drawing in help"


@pytest.mark.parametrize("line", [
    "agentctl ", "agentctl li", "agentctl list --", "agentctl list -o ", "agentctl --profile ",
    "agentctl completion ",
])
def test_bash_completion_request_loads_nothing_heavy(tmp_path: Path, line: str) -> None:
    modules = loaded(tmp_path, env=bash_request(line))
    assert not tops(modules) & (HEAVY | RICH | NEVER)


def test_completion_from_the_saved_tree_imports_no_typer(tmp_path: Path) -> None:
    env = bash_request("agentctl list -o ")
    first = loaded(tmp_path, env=env)  # no tree yet: through Typer, which saves it
    assert "typer" in tops(first)
    again = loaded(tmp_path, env=env)
    assert not tops(again) & (HEAVY | RICH | NEVER | {"typer"})
    assert "agentctl.cli.app" not in again


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_fish_completion_with_help_loads_no_rich(tmp_path: Path, shell: str) -> None:
    # Typer would render every help text through Rich (its markdown stack) on each Tab.
    env = {"_AGENTCTL_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": "agentctl ",
           "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    modules = loaded(tmp_path, env=env)
    assert not tops(modules) & (HEAVY | RICH | NEVER)


def test_agent_completion_is_served_from_the_cache(tmp_path: Path, api_env) -> None:
    api_env.store.create_agent({"name": "support", "system_prompt": "x",
                                "voice": {"voice_id": "ivy"}})
    env = {**bash_request("agentctl get "), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "ASSEMBLYAI_API_KEY": TEST_KEY, "AGENTCTL_BASE_URL": api_env.base_url}
    first = loaded(tmp_path, env=env)  # asks the API: httpx, but nothing else heavy
    assert "httpx" in tops(first)
    assert not tops(first) & (SERVER_STACK | RICH | NEVER | {"yaml"}), (
        sorted(tops(first) & (SERVER_STACK | RICH | NEVER | {"yaml"})))
    again = loaded(tmp_path, env=env)  # within the cache's lifetime: no HTTP, no Typer
    assert not tops(again) & (HEAVY | RICH | NEVER | {"typer"})


def test_click_and_pydantic_are_not_installed() -> None:
    assert importlib.util.find_spec("click") is None
    assert importlib.util.find_spec("pydantic") is None


def test_no_dependency_brings_click_or_pydantic() -> None:
    """agentctl's dependency closure (without extras), from the installed metadata."""
    from agentctl import DISTRIBUTION

    try:
        importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{DISTRIBUTION} is not installed (the distribution was renamed from "
                    "agentctl): run .venv/bin/pip install -e '.[test]'")
    seen: set[str] = set()
    todo = [DISTRIBUTION]
    while todo:
        name = todo.pop()
        for line in importlib.metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            key = req.name.lower().replace("_", "-")
            if key not in seen:
                seen.add(key)
                todo.append(req.name)
    assert "typer" in seen and "httpx" in seen
    assert not seen & {"click", "pydantic", "pydantic-core"}, sorted(seen)


@pytest.mark.slow
def test_bench_smoke_run(tmp_path: Path) -> None:
    """`bench/run.py --quick` runs end to end (figures are not judged here: no timing in
    tests), with its emulator on loopback and every case present."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--rounds", "1",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "latest.json").read_text("utf-8"))
    cases = " | ".join(row["case"] for row in report["rows"])
    for expected in ("python -c pass", "agentctl --version", "agentctl --help (piped)",
                     "complete `agentctl li<Tab>`", "`get ID -o json` / a stdlib",
                     "`list -o json` (20 agents) / a stdlib", "requests sent by `get ID`",
                     "`validate` of 50 YAML files", "one JSON array", "`apply` of 20 new specs",
                     "one keep-alive client", "50 ms late", "`list` of 300 agents on a terminal",
                     "`list -o wide` of 300", "`list -o json` of 500 agents: client CPU",
                     "json.dumps(indent=2)",
                     "client peak RSS"):
        assert expected in cases
    assert all(row["value"] == row["value"] for row in report["rows"])  # no NaN: all ran
    assert report["machine"]["nproc"] and report["machine"]["python"]
    assert (tmp_path / "latest.md").read_text("utf-8").startswith("# agentctl benchmark")
