#!/usr/bin/env python
"""agentctl's benchmark: start-up as ratios to a bare interpreter, and bulk work against
`agentctl emulator serve` on loopback.

    python bench/run.py            # the full run (~1-2 min): a table + results/latest.{md,json}
    python bench/run.py --quick    # a smoke run: few repetitions, small bulk sizes

Every figure is measured in the same run as its baseline, with processes started the way a
user starts them (the `agentctl` console script next to this interpreter), in an isolated
HOME/config/cache, cases interleaved round by round so drift hits all of them alike. Bytecode
is cached (as after `pip install`) in results/.pycache, and every command runs once before
it is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pty
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
KEY = "bench-key-0123456789"


def agentctl_cmd() -> list[str]:
    script = Path(PY).parent / "agentctl"
    if script.exists():
        return [str(script)]
    return [PY, "-c", "import sys; from agentctl.cli import main; main()"]


AGENTCTL = agentctl_cmd()


@dataclass
class Row:
    section: str
    case: str
    value: float  # the measured figure (ms, s, MB, ratio...) used against the goal
    unit: str
    detail: str = ""
    goal: str = ""
    ok: bool | None = None
    samples: list[float] = field(default_factory=list)


# -- processes ---------------------------------------------------------------------------

def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AGENTCTL_", "_AGENTCTL_", "_TYPER_"))
           and k not in ("ASSEMBLYAI_API_KEY", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
                         "COLUMNS", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")}
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"),
        AGENTCTL_CONFIG_DIR=str(home / "config"), AGENTCTL_DATA_DIR=str(home / "data"),
        PYTHONPYCACHEPREFIX=str(HERE / "results" / ".pycache"),
    )
    return env


def run_once(cmd: list[str], env: dict[str, str], *, tty: bool = False,
             stdin: bytes | None = None) -> tuple[float, float, int, int, bytes]:
    """Run to completion: (wall s, user+sys CPU s, peak RSS KiB, exit code, stdout)."""
    reader = None
    if tty:  # stdout is a terminal: a pty, drained by a thread so the child never blocks
        master, slave = pty.openpty()
        chunks: list[bytes] = []

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                chunks.append(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        stdout: Any = slave
    else:
        stdout = subprocess.PIPE
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.DEVNULL,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    if tty:
        os.close(slave)
    if stdin is not None:  # from a thread: the child may write before it has read it all
        def feed() -> None:
            proc.stdin.write(stdin)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]

        threading.Thread(target=feed, daemon=True).start()
    out = b"" if tty else proc.stdout.read()  # type: ignore[union-attr]
    if proc.stdout is not None:
        proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # reaps the child, with its resource usage
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if reader is not None:
        reader.join(5)
        os.close(master)
        out = b"".join(chunks)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode, out


class Emulator:
    """`agentctl emulator serve` in a subprocess on a free loopback port, with its own db."""

    def __init__(self, env: dict[str, str], db: Path, *options: str) -> None:
        self.db = db
        self.proc = subprocess.Popen(
            [*AGENTCTL, "emulator", "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", str(db), *options],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        line = ""
        deadline = time.monotonic() + 30
        while "listening on" not in line:
            line = self.proc.stderr.readline()  # type: ignore[union-attr]
            if not line and (self.proc.poll() is not None or time.monotonic() > deadline):
                raise RuntimeError("the emulator did not start")
        self.url = line.split("listening on ", 1)[1].split()[0]
        assert self.url.startswith("http://127.0.0.1:"), self.url
        # Keep reading its stderr, so a chatty server never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]

    def clear(self) -> None:
        from agentctl.emulator.store import Store

        with Store(self.db) as store:
            store.clear()

    def seed(self, count: int, prefix: str) -> None:
        from agentctl.emulator.store import Store

        with Store(self.db) as store:
            for i in range(count):
                store.create_agent(spec(f"{prefix}-{i:05d}"))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def spec(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "system_prompt": "You are a friendly support agent. Keep answers short.",
        "greeting": "Hi, how can I help?",
        "voice": {"voice_id": "ivy"},
    }


# -- measurements ------------------------------------------------------------------------

def interleaved(cases: dict[str, tuple[list[str], dict[str, str], bool]], rounds: int
                ) -> dict[str, list[float]]:
    """Wall times (s) per case; each round runs every case once, after one warm-up each."""
    for cmd, env, tty in cases.values():
        run_once(cmd, env, tty=tty)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (cmd, env, tty) in cases.items():
            wall, _, _, code, _ = run_once(cmd, env, tty=tty)
            if code != 0:
                raise RuntimeError(f"{name}: exit {code}")
            times[name].append(wall)
    return times


def completion_env(env: dict[str, str], line: str) -> dict[str, str]:
    words = line.split(" ")
    return dict(env, _AGENTCTL_COMPLETE="complete_bash", COMP_WORDS=line,
                COMP_CWORD=str(len(words) - 1))


def startup(env: dict[str, str], emulator: Emulator, rounds: int) -> list[Row]:
    api = dict(env, ASSEMBLYAI_API_KEY=KEY, AGENTCTL_BASE_URL=emulator.url)
    zsh = dict(env, _AGENTCTL_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="agentctl ")
    cases = {
        "python -c pass": ([PY, "-c", "pass"], env, False),
        "agentctl --version": ([*AGENTCTL, "--version"], env, False),
        "agentctl --help (piped)": ([*AGENTCTL, "--help"], env, False),
        "agentctl --help (terminal)": ([*AGENTCTL, "--help"], dict(env, COLUMNS="100"), True),
        "complete `agentctl li<Tab>` (bash)": (AGENTCTL, completion_env(env, "agentctl li"),
                                                False),
        "complete `agentctl <Tab>` (zsh, with help)": (AGENTCTL, zsh, False),
        "complete `agentctl get <Tab>` (agent names, cached)": (
            AGENTCTL, completion_env(api, "agentctl get "), False),
        "complete `agentctl li<Tab>` through Typer (the first Tab after an install)": (
            AGENTCTL, dict(completion_env(env, "agentctl li"), _AGENTCTL_COMPLETE_FAST="0"),
            False),
        "python -c 'import typer' (for reference)": ([PY, "-c", "import typer"], env, False),
    }
    times = interleaved(cases, rounds)
    base = statistics.median(times["python -c pass"])
    goals = {"agentctl --version": 6, "agentctl --help (piped)": 10,
             "agentctl --help (terminal)": 10, "complete `agentctl li<Tab>` (bash)": 8,
             "complete `agentctl <Tab>` (zsh, with help)": 8,
             "complete `agentctl get <Tab>` (agent names, cached)": 8}
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = median / base
        goal = goals.get(name)
        rows.append(Row(
            "start-up", name, round(ratio, 2), "x",
            detail=f"{median * 1000:.1f} ms (median of {len(samples)})",
            goal=f"<= {goal}x" if goal else "", ok=(ratio <= goal) if goal else None,
            samples=[round(s * 1000, 2) for s in samples],
        ))
    return rows


# The same work as `apply` (a list, then one create per spec), one request at a time, each
# on a new connection: with a new httpx.Client per request (what `httpx.post` in a loop
# does), or, stricter, with one client that closes the connection after every request.
BASELINE = r"""
import json, sys, httpx
url, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
bodies = json.loads(sys.stdin.read())
headers = {"Authorization": key}
httpx.get(url + "/v1/agents", headers=headers).raise_for_status()
if mode == "new-client":
    for body in bodies:
        httpx.post(url + "/v1/agents", json=body, headers=headers).raise_for_status()
else:
    with httpx.Client(headers={**headers, "Connection": "close"}) as client:
        for body in bodies:
            client.post(url + "/v1/agents", json=body).raise_for_status()
"""


def bulk_apply(env: dict[str, str], emulator: Emulator, count: int, rounds: int,
               work: Path) -> list[Row]:
    api = dict(env, ASSEMBLYAI_API_KEY=KEY, AGENTCTL_BASE_URL=emulator.url)
    probe = run_once([*AGENTCTL, "apply", "--help"], env)
    if probe[3] != 0:
        return [Row("bulk", f"apply {count} specs", float("nan"), "s",
                    detail="n/a: `agentctl apply` is not available in this checkout")]
    specs = work / "specs"
    specs.mkdir(exist_ok=True)
    bodies = [spec(f"bench-{i:04d}") for i in range(count)]
    for body in bodies:
        (specs / f"{body['name']}.json").write_text(json.dumps(body), "utf-8")
    payload = json.dumps(bodies).encode()
    applied: list[float] = []
    again: list[float] = []
    baselines: dict[str, list[float]] = {"new-client": [], "connection-close": []}
    apply_cmd = [*AGENTCTL, "apply", "-f", str(specs), "-o", "name"]
    for _ in range(rounds):
        emulator.clear()
        wall, _, _, code, _ = run_once(apply_cmd, api)
        if code != 0:
            raise RuntimeError(f"apply: exit {code}")
        applied.append(wall)
        wall, _, _, code, _ = run_once(apply_cmd, api)
        again.append(wall)
        for mode, samples in baselines.items():
            emulator.clear()
            wall, _, _, code, _ = run_once([PY, "-c", BASELINE, emulator.url, KEY, mode], env,
                                           stdin=payload)
            if code != 0:
                raise RuntimeError(f"baseline {mode}: exit {code}")
            samples.append(wall)
    emulator.clear()
    a, r = statistics.median(applied), statistics.median(again)
    fresh = statistics.median(baselines["new-client"])
    close = statistics.median(baselines["connection-close"])
    return [
        Row("bulk", f"apply {count} specs (all new)", round(a, 3), "s",
            detail=f"median of {rounds}; default --concurrency; includes start-up",
            samples=[round(x, 3) for x in applied]),
        Row("bulk", f"baseline: {count} x `httpx.post` (a new client, so a new connection, "
            "each)", round(fresh, 3), "s", detail=f"median of {rounds}; one python process",
            samples=[round(x, 3) for x in baselines["new-client"]]),
        Row("bulk", "apply speed-up over that baseline", round(fresh / a, 2), "x",
            goal=">= 4x", ok=fresh / a >= 4),
        Row("bulk", f"stricter baseline: {count} POSTs on one client, `Connection: close`",
            round(close, 3), "s", detail=f"median of {rounds}; one python process",
            samples=[round(x, 3) for x in baselines["connection-close"]]),
        Row("bulk", "apply speed-up over the stricter baseline", round(close / a, 2), "x"),
        Row("bulk", f"apply {count} specs again (nothing to change)", round(r, 3), "s",
            detail=f"median of {rounds}", samples=[round(x, 3) for x in again]),
    ]


def bulk_apply_latency(env: dict[str, str], emulator: Emulator, count: int, delay_ms: int,
                       work: Path) -> list[Row]:
    """Loopback has no round-trip time; the service has. With every answer held back
    `delay_ms` (the emulator's `slow` fault), concurrency is what makes apply fast."""
    api = dict(env, ASSEMBLYAI_API_KEY=KEY, AGENTCTL_BASE_URL=emulator.url)
    specs = work / "specs"
    emulator.clear()
    wall, _, _, code, _ = run_once([*AGENTCTL, "apply", "-f", str(specs), "-o", "name"], api)
    if code != 0:
        raise RuntimeError(f"apply: exit {code}")
    emulator.clear()
    payload = json.dumps([spec(f"bench-{i:04d}") for i in range(count)]).encode()
    base, _, _, code, _ = run_once([PY, "-c", BASELINE, emulator.url, KEY, "connection-close"],
                                   env, stdin=payload)
    if code != 0:
        raise RuntimeError(f"baseline: exit {code}")
    emulator.clear()
    return [
        Row("bulk", f"apply {count} specs, every answer {delay_ms} ms late", round(wall, 3), "s",
            detail="one run; default --concurrency"),
        Row("bulk", f"stricter baseline, every answer {delay_ms} ms late", round(base, 3), "s",
            detail="one run"),
        Row("bulk", f"apply speed-up with {delay_ms} ms of latency", round(base / wall, 2), "x"),
    ]


def bulk_list(env: dict[str, str], emulator: Emulator, count: int, rounds: int) -> list[Row]:
    api = dict(env, ASSEMBLYAI_API_KEY=KEY, AGENTCTL_BASE_URL=emulator.url)
    emulator.clear()
    emulator.seed(count, "listed")
    rows = []
    for label, args in (("-o json", ["list", "-o", "json"]), ("table, piped", ["list"])):
        cmd = [*AGENTCTL, *args]
        _, _, _, code, out = run_once(cmd, api)  # warm-up, and a check of the output
        if code != 0:
            raise RuntimeError(f"list: exit {code}")
        if label == "-o json":
            assert len(json.loads(out)) == count, "list -o json did not return every agent"
        runs = [run_once(cmd, api) for _ in range(rounds)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs) / 1024  # KiB -> MiB
        strict = label == "-o json"
        rows += [
            Row("bulk", f"list {count} agents {label}: client CPU (user+sys)", round(cpu, 3),
                "s", detail=f"wall {wall:.3f} s; median of {rounds}",
                goal="< 1 s" if strict else "", ok=(cpu < 1) if strict else None,
                samples=[round(r[1], 3) for r in runs]),
            Row("bulk", f"list {count} agents {label}: client peak RSS", round(rss, 1), "MiB",
                detail=f"max of {rounds}", goal="< 100 MB" if strict else "",
                ok=(rss * 1.048576 < 100) if strict else None),
        ]
    emulator.clear()
    return rows


# -- report ------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    from importlib import metadata

    for dist in ("typer", "rich", "httpx", "pyyaml", "hypercorn", "starlette"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
        "implementation": platform.python_implementation(), "os": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": versions, "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def markdown(rows: list[Row], info: dict[str, Any], quick: bool) -> str:
    lines = [
        f"# agentctl benchmark{' (quick)' if quick else ''}",
        "",
        f"{info['date']}, commit {info['commit']}: {info['nproc']} CPUs ({info['cpu']}), "
        f"{info['implementation']} {info['python']}, {info['os']}; load average "
        f"{', '.join(map(str, info['load_average']))} at the start.",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()) + ".",
        "",
        "| | case | figure | detail | goal | |",
        "|---|---|---:|---|---|---|",
    ]
    for r in rows:
        mark = "" if r.ok is None else ("ok" if r.ok else "**missed**")
        lines.append(f"| {r.section} | {r.case} | {r.value} {r.unit} | {r.detail} | "
                     f"{r.goal} | {mark} |")
    lines += ["", "Start-up figures are ratios of medians to `python -c pass` in the same run.",
              "Produced by `python bench/run.py" + (" --quick" if quick else "") + "`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="where latest.md and latest.json go (default: bench/results)")
    parser.add_argument("--rounds", type=int, help="start-up repetitions (default 15; quick 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    opts = parser.parse_args(argv)
    rounds = opts.rounds or (3 if opts.quick else 15)
    bulk_rounds = 1 if opts.quick else 3
    apply_count, list_count = (20, 500) if opts.quick else (200, 10_000)

    info = machine()
    opts.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="agentctl-bench-"))
    env = base_env(work / "home")
    emulator = Emulator(env, work / "emulator.sqlite3")
    delay = 50
    slow = Emulator(env, work / "slow.sqlite3", "--faults", f"slow=1:{delay}ms")
    rows: list[Row] = []
    try:
        emulator.seed(20, "startup")  # for the agent-name completion case
        rows += startup(env, emulator, rounds)
        rows += bulk_apply(env, emulator, apply_count, bulk_rounds, work)
        if (work / "specs").exists():
            rows += bulk_apply_latency(env, slow, apply_count, delay, work)
        rows += bulk_list(env, emulator, list_count, bulk_rounds)
    finally:
        emulator.stop()
        slow.stop()
        shutil.rmtree(work, ignore_errors=True)
    if opts.quick:  # the bulk goals are for the full sizes: a smoke run does not judge them
        for row in rows:
            if row.section == "bulk" and row.goal:
                row.goal, row.ok = f"{row.goal} (full run)", None
    report = markdown(rows, info, opts.quick)
    (opts.out / "latest.md").write_text(report, "utf-8")
    (opts.out / "latest.json").write_text(json.dumps(
        {"machine": info, "quick": opts.quick, "rows": [asdict(r) for r in rows]},
        indent=2) + "\n", "utf-8")
    sys.stdout.write(report)
    sys.stdout.write(f"\nwritten: {opts.out / 'latest.md'}, {opts.out / 'latest.json'}\n")
    missed = [r.case for r in rows if r.ok is False]
    return 1 if opts.check and missed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the checkout's agentctl, for the emulator's store
    sys.exit(main())
