#!/usr/bin/env python
"""agentctl's benchmark: every goal a ratio to a baseline measured in the same run.

    python bench/run.py            # the full run (a few minutes): table + results/latest.*
    python bench/run.py --quick    # a smoke run: few repetitions, small sizes, goals not judged

Processes are started the way a user starts them (the `agentctl` console script next to
this interpreter), in an isolated HOME/config/cache, against `agentctl emulator serve`
subprocesses on loopback (one over https with the certificate it makes). Bytecode is
cached (as after `pip install`) in results/.pycache, every command runs once before it is
measured, and cases compared with each other run interleaved, round by round, so drift
hits them alike. Every bulk row reports the client's CPU (user+sys of the command) and the
emulator's (its process's CPU over the same span) apart.
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
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
KEY = "bench-key-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


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


def ratio_row(section: str, case: str, value: float, goal: float | None, detail: str = "",
              *, at_least: bool = False) -> Row:
    """A ratio with its goal: `<= goal` (or `>= goal` with at_least)."""
    if goal is None:
        return Row(section, case, round(value, 2), "x", detail)
    ok = value >= goal if at_least else value <= goal
    return Row(section, case, round(value, 2), "x", detail,
               goal=f"{'>=' if at_least else '<='} {goal}x", ok=ok)


# -- processes ---------------------------------------------------------------------------

def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AGENTCTL_", "_AGENTCTL_", "_TYPER_"))
           and k not in ("ASSEMBLYAI_API_KEY", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
                         "COLUMNS", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME",
                         "SSL_CERT_FILE")}
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"),
        AGENTCTL_CONFIG_DIR=str(home / "config"), AGENTCTL_DATA_DIR=str(home / "data"),
        PYTHONPYCACHEPREFIX=str(HERE / "results" / ".pycache"),
    )
    return env


@dataclass
class Run:
    wall: float  # s
    cpu: float  # user+sys s of the command
    rss: int  # peak KiB
    code: int
    out: bytes
    first: float | None = None  # s until the first output (terminal runs)
    server_cpu: float = 0.0  # s of the emulator's CPU over the run


def run_once(cmd: list[str], env: dict[str, str], *, tty: bool = False,
             stdin: bytes | None = None, server: Emulator | None = None) -> Run:
    """Run to completion; with `tty`, stdout is a pty (80 columns unless $COLUMNS)."""
    reader = None
    first: list[float] = []
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
                if not first:
                    first.append(time.perf_counter())
                chunks.append(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        stdout: Any = slave
        env = dict(env, COLUMNS=env.get("COLUMNS", "80"))
    else:
        stdout = subprocess.PIPE
    before = server.cpu() if server else 0.0
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
    server_cpu = (server.cpu() - before) if server else 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if reader is not None:
        reader.join(5)
        os.close(master)
        out = b"".join(chunks)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode, out,
               (first[0] - start) if first else None, server_cpu)


def checked(name: str, run: Run) -> Run:
    if run.code != 0:
        raise RuntimeError(f"{name}: exit {run.code}: {run.out[-300:]!r}")
    return run


class Emulator:
    """`agentctl emulator serve` in a subprocess on a free loopback port, with its own db."""

    def __init__(self, env: dict[str, str], db: Path, *options: str) -> None:
        self.db = db
        self.proc = subprocess.Popen(
            [*AGENTCTL, "emulator", "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", str(db), *options],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.cert: str | None = None
        line = ""
        deadline = time.monotonic() + 60
        while "listening on" not in line:
            line = self.proc.stderr.readline()  # type: ignore[union-attr]
            if not line and (self.proc.poll() is not None or time.monotonic() > deadline):
                raise RuntimeError("the emulator did not start")
        self.url = line.split("listening on ", 1)[1].split()[0]
        if self.url.startswith("https://"):
            line = self.proc.stderr.readline()  # type: ignore[union-attr]
            self.cert = line.split("TLS certificate: ", 1)[1].split()[0]
        # Keep reading its stderr, so a chatty server never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """The client's environment for this emulator (its certificate trusted)."""
        out = dict(env, ASSEMBLYAI_API_KEY=KEY, AGENTCTL_BASE_URL=self.url)
        if self.cert:
            out["AGENTCTL_CA_BUNDLE"] = self.cert
        return out

    def cpu(self) -> float:
        """The emulator process's user+sys CPU so far, in seconds."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def clear(self) -> None:
        from agentctl.emulator.store import Store

        with Store(self.db) as store:
            store.clear()

    def seed(self, count: int, prefix: str) -> None:
        """`count` more agents: made one by one, then copied in bulk (new ids and names)."""
        from agentctl.emulator.store import Store

        made = min(count, 2000)
        with Store(self.db) as store:
            for i in range(made):
                store.create_agent(spec(f"{prefix}-{i:05d}"))
        if count > made:
            try:
                self._copy(count - made, prefix, made)
            except Exception:  # another schema: the slow way
                with Store(self.db) as store:
                    for i in range(made, count):
                        store.create_agent(spec(f"{prefix}-{i:05d}"))

    def _copy(self, count: int, prefix: str, start: int) -> None:
        import sqlite3

        db = sqlite3.connect(self.db)
        try:
            rows = db.execute("SELECT id, name, created_at, updated_at, record FROM agents "
                              "WHERE name LIKE ? LIMIT 1", (f"{prefix}-%",)).fetchall()
            _, _, created, updated, record = rows[0]
            template = json.loads(record)
            new = []
            for i in range(start, start + count):
                ident, name = str(uuid.uuid4()), f"{prefix}-{i:05d}"
                new.append((ident, name, created, updated,
                            json.dumps({**template, "id": ident, "name": name})))
            with db:
                db.executemany("INSERT INTO agents (id, name, created_at, updated_at, record)"
                               " VALUES (?, ?, ?, ?, ?)", new)
        finally:
            db.close()

    def log(self, method: str) -> list[dict[str, Any]]:
        """The emulator's request log (GET), or clear it (DELETE)."""
        import httpx

        response = httpx.request(method, f"{self.url}/_emulator/requests",
                                 verify=self.cert or False, timeout=30)
        response.raise_for_status()
        return response.json() if method == "GET" else []

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


def interleaved(cases: dict[str, tuple[list[str], dict[str, str], bool]], rounds: int,
                server: Emulator | None = None) -> dict[str, list[Run]]:
    """Runs per case; each round runs every case once, after one warm-up each."""
    for name, (cmd, env, tty) in cases.items():
        checked(name, run_once(cmd, env, tty=tty))
    runs: dict[str, list[Run]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (cmd, env, tty) in cases.items():
            runs[name].append(checked(name, run_once(cmd, env, tty=tty, server=server)))
    return runs


def median(runs: list[Run], what: str = "wall") -> float:
    return statistics.median(getattr(r, what) for r in runs)


def cpu_detail(runs: list[Run]) -> str:
    return (f"wall {median(runs):.3f} s; client CPU {median(runs, 'cpu'):.3f} s, emulator "
            f"CPU {median(runs, 'server_cpu'):.3f} s; median of {len(runs)}")


# -- start-up ----------------------------------------------------------------------------

def completion_env(env: dict[str, str], line: str) -> dict[str, str]:
    words = line.split(" ")
    return dict(env, _AGENTCTL_COMPLETE="complete_bash", COMP_WORDS=line,
                COMP_CWORD=str(len(words) - 1))


FIRST_HELP = "agentctl --help through Typer (the first --help after an install)"


def startup(env: dict[str, str], emulator: Emulator, rounds: int) -> list[Row]:
    api = emulator.env(env)
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
        FIRST_HELP: ([*AGENTCTL, "--help"], dict(env, _AGENTCTL_HELP_FAST="0"), False),
        "python -c 'import typer' (for reference)": ([PY, "-c", "import typer"], env, False),
    }
    runs = interleaved(cases, rounds)
    # The --help rows print the text their warm-up run saved: it must be Typer's, byte for
    # byte (FIRST_HELP's runs go through Typer, as the first --help after an install).
    typer_help = {r.out for r in runs[FIRST_HELP]}
    saved_help = len(typer_help) == 1 and {
        r.out for r in runs["agentctl --help (piped)"]} == typer_help
    base = median(runs["python -c pass"])
    goals = {"agentctl --version": 6, "agentctl --help (piped)": 10,
             "agentctl --help (terminal)": 10, "complete `agentctl li<Tab>` (bash)": 8,
             "complete `agentctl <Tab>` (zsh, with help)": 8,
             "complete `agentctl get <Tab>` (agent names, cached)": 8}
    rows = []
    for name, samples in runs.items():
        row = ratio_row("start-up", name, median(samples) / base, goals.get(name),
                        f"{median(samples) * 1000:.1f} ms (median of {len(samples)})")
        row.samples = [round(s.wall * 1000, 2) for s in samples]
        if name.startswith("agentctl --help ("):
            row.detail += ("; the saved text, Typer's bytes" if saved_help
                           else "; NOT the text Typer prints")
            row.ok = row.ok and saved_help
        rows.append(row)
    return rows


# -- API commands against a stdlib script -------------------------------------------------

# The least a script can do for the same answer: one http.client request, the JSON parsed
# and printed indented (as `-o json` prints it).
STDLIB = r"""
import http.client, json, os, ssl, sys
from urllib.parse import urlsplit, urlencode
url = urlsplit(os.environ["AGENTCTL_BASE_URL"])
if url.scheme == "https":
    context = ssl.create_default_context(cafile=os.environ["AGENTCTL_CA_BUNDLE"])
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
else:
    conn = http.client.HTTPConnection(url.hostname, url.port)
headers = {"Authorization": os.environ["ASSEMBLYAI_API_KEY"]}
path, items, cursor = sys.argv[1], None, ""
while True:  # a list follows its pages (an agent is one answer)
    query = "?" + urlencode({"limit": 200, "cursor": cursor}) if path == "/v1/agents" else ""
    conn.request("GET", path + query, headers=headers)
    body = json.loads(conn.getresponse().read())
    if isinstance(body, dict) and isinstance(body.get("agents"), list):
        items = (items or []) + body["agents"]
        cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
        if body.get("has_more") and cursor:
            continue
        body = items
    break
sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
"""


def first_id(env: dict[str, str]) -> str:
    run = checked("list -o id", run_once([*AGENTCTL, "list", "-o", "id", "--limit", "1"], env))
    return run.out.decode().split()[0]


def requests_made(env: dict[str, str], args: list[str]) -> list[str]:
    """The requests a command sends, from its --debug log (`> GET url`)."""
    proc = subprocess.run([*AGENTCTL, "--debug", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    return [line.split("> ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("> ")]


def api_commands(env: dict[str, str], emulator: Emulator, secure: Emulator | None,
                 rounds: int) -> list[Row]:
    rows = []
    for server, label in ((emulator, ""), (secure, " over https")):
        if server is None:
            continue
        api = server.env(env)
        agent = first_id(api)
        cases = {
            "get": ([*AGENTCTL, "get", agent, "-o", "json"], api, False),
            "get stdlib": ([PY, "-c", STDLIB, f"/v1/agents/{agent}"], api, False),
            "list": ([*AGENTCTL, "list", "-o", "json"], api, False),
            "list stdlib": ([PY, "-c", STDLIB, "/v1/agents"], api, False),
        }
        runs = interleaved(cases, rounds, server)
        for what, args in (("get", f"`get ID -o json`{label}"),
                           ("list", f"`list -o json` (20 agents){label}")):
            mine, base = median(runs[what]), median(runs[f"{what} stdlib"])
            rows.append(ratio_row(
                "API command", f"{args} / a stdlib http.client script", mine / base, 3,
                f"{mine * 1000:.0f} ms against {base * 1000:.0f} ms (wall, median of "
                f"{rounds}); client CPU {median(runs[what], 'cpu') * 1000:.0f} ms"))
    api = emulator.env(env)
    agent = first_id(api)
    gets = requests_made(api, ["get", agent, "-o", "json"])
    rows.append(Row("API command", "requests sent by `get ID`", len(gets), "",
                    detail="; ".join(g.split(" ", 1)[0] + " " + g.rsplit("/v1", 1)[-1]
                                     for g in gets), goal="1 GET", ok=len(gets) == 1))
    names = checked("list", run_once([*AGENTCTL, "list", "-o", "name", "--limit", "3"],
                                     api)).out.decode().split()
    made = requests_made(api, ["delete", *names, "--yes", "--ignore-not-found"])
    lists = [r for r in made if r.split("?")[0].endswith("/v1/agents") and r.startswith("GET")]
    rows.append(Row("API command", f"list reads by `delete` of {len(names)} agents by name",
                    len(lists), "", detail=f"{len(made)} requests in all", goal="<= 1",
                    ok=len(lists) <= 1))
    return rows


# -- list at scale --------------------------------------------------------------------------

def bulk_list(env: dict[str, str], emulator: Emulator, count: int, json_count: int,
              rounds: int) -> list[Row]:
    api = emulator.env(env)
    emulator.clear()
    emulator.seed(count, "listed")
    rows = []
    cases = {
        "piped": ([*AGENTCTL, "list"], api, False),
        "terminal": ([*AGENTCTL, "list"], api, True),
    }
    runs = interleaved(cases, rounds, emulator)
    piped, tty = median(runs["piped"]), median(runs["terminal"])
    out = runs["terminal"][-1].out.decode()
    lines = [line for line in out.splitlines() if line.strip()]
    firsts = [r.first for r in runs["terminal"] if r.first is not None]
    rows += [
        ratio_row("list", f"`list` of {count} agents on a terminal / piped", tty / piped, 1.5,
                  f"terminal: {cpu_detail(runs['terminal'])}; piped: {piped:.3f} s wall"),
        Row("list", "first rows on the terminal after", round(statistics.median(firsts), 3),
            "s", detail=f"of {tty:.3f} s in all (the table is written page by page)"),
        Row("list", "terminal lines within 80 columns, ids whole", len(lines), "lines",
            detail=f"{count + 2} expected", goal="all",
            ok=len(lines) == count + 2 and all(len(x) <= 80 for x in lines[2:])),
    ]
    rows += bulk_wide(api, emulator, count, rounds, piped)
    # -o json: the client's CPU and memory at a larger size
    if json_count > count:
        emulator.seed(json_count - count, "more")
    cmd = [*AGENTCTL, "list", "-o", "json"]
    warm = checked("list -o json", run_once(cmd, api))
    assert len(json.loads(warm.out)) == json_count, "list -o json did not return every agent"
    runs_json = [checked("list -o json", run_once(cmd, api, server=emulator))
                 for _ in range(rounds)]
    cpu = median(runs_json, "cpu")
    rss = max(r.rss for r in runs_json) / 1024
    rows.append(dumping(json.loads(warm.out)))
    rows += [
        Row("list", f"`list -o json` of {json_count} agents: client CPU", round(cpu, 3), "s",
            detail=cpu_detail(runs_json), samples=[round(r.cpu, 3) for r in runs_json]),
        Row("list", f"`list -o json` of {json_count} agents: client peak RSS", round(rss, 1),
            "MiB", detail=f"max of {rounds}"),
    ]
    emulator.clear()
    return rows


def bulk_wide(api: dict[str, str], emulator: Emulator, count: int, rounds: int,
              piped: float) -> list[Row]:
    """`list -o wide`: the first run in an empty cache dir (one GET per agent: the issue's
    goal), and later runs in the cache it filled (records reused, the list only)."""
    cmd = [*AGENTCTL, "list", "-o", "wide"]
    cold: list[Run] = []
    warm: list[Run] = []
    gets: list[int] = []
    colds = max(1, rounds - 2)
    for i in range(colds):
        cache = tempfile.mkdtemp(prefix="wide-cache-", dir=Path(api["HOME"]).parent)
        env = dict(api, XDG_CACHE_HOME=cache)  # its own cache dir: nothing cached yet
        cold.append(checked("list -o wide (cold)", run_once(cmd, env, server=emulator)))
        for _ in range(rounds - colds + 1 if i == colds - 1 else 1):
            emulator.log("DELETE")
            warm.append(checked("list -o wide (warm)", run_once(cmd, env, server=emulator)))
            gets.append(sum(1 for r in emulator.log("GET") if r["method"] == "GET"
                            and r["path"].startswith("/v1/agents/")))
            assert warm[-1].out == cold[-1].out, "the cached listing differs from the fetched"
        shutil.rmtree(cache, ignore_errors=True)
    return [
        ratio_row("list", f"`list -o wide` of {count} agents, first run (empty cache) / "
                  "`list` piped", median(cold) / piped, 5,
                  f"{cpu_detail(cold)}; {count} GETs, 8 at a time, while the next list page "
                  "is read"),
        ratio_row("list", f"`list -o wide` of {count} agents, second run (records cached by "
                  "the first) / `list` piped", median(warm) / piped, None,
                  f"{cpu_detail(warm)}; {max(gets)} GETs (the emulator's log): the list, each "
                  "record from the cache as its list fields are unchanged"),
    ]


def dumping(items: list[dict[str, Any]]) -> Row:
    """-o json's writer against `json.dumps(indent=2)` (what it wrote before), same bytes."""
    import io

    from agentctl.render.output import write_json_array

    pages = [items[i:i + 200] for i in range(0, len(items), 200)]
    mine, base = [], []
    for _ in range(3):
        out = io.StringIO()
        start = time.perf_counter()
        write_json_array(out, pages)
        mine.append(time.perf_counter() - start)
        start = time.perf_counter()
        text = json.dumps(items, indent=2, ensure_ascii=False) + "\n"
        base.append(time.perf_counter() - start)
        assert out.getvalue() == text, "-o json no longer writes json.dumps(indent=2)'s bytes"
    a, b = statistics.median(mine), statistics.median(base)
    return ratio_row("list", f"writing {len(items)} list items as JSON / json.dumps(indent=2)",
                     a / b, 0.7, f"{a * 1000:.0f} ms against {b * 1000:.0f} ms; the same bytes")


# -- specs --------------------------------------------------------------------------------

YAML_SPEC = """\
name: {name}
system_prompt: |
  You are a friendly support agent.
  Keep answers under two sentences.
greeting: Hi, how can I help?
voice:
  voice_id: ivy
tools:
  - name: get_weather
    description: Get current weather for a location.
    parameters:
      type: object
      properties:
        latitude: {{type: number}}
      required: [latitude]
    http:
      url: https://api.example.com/weather
      http_method: GET
"""

CLOADER = r"""
import os, sys, yaml
count = 0
for name in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], name), "rb") as f:
        count += sum(1 for _ in yaml.load_all(f.read().decode(), Loader=yaml.CSafeLoader))
print(count, "agents")
"""


def specs(env: dict[str, str], count: int, rounds: int, work: Path) -> list[Row]:
    folder = work / "yaml-specs"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        (folder / f"agent-{i:04d}.yaml").write_text(YAML_SPEC.format(name=f"agent-{i:04d}"))
    half, full = work / "half.json", work / "full.json"
    for path, n in ((half, count), (full, 2 * count)):
        path.write_text(json.dumps([spec(f"agent-{i:05d}") for i in range(n)], indent=2))
    cases = {
        "validate": ([*AGENTCTL, "validate", "-f", str(folder)], env, False),
        "cloader": ([PY, "-c", CLOADER, str(folder)], env, False),
        "half": ([*AGENTCTL, "validate", "-f", str(half)], env, False),
        "full": ([*AGENTCTL, "validate", "-f", str(full)], env, False),
        "start": ([*AGENTCTL, "validate", "--help"], env, False),
    }
    runs = interleaved(cases, rounds)
    mine, base = median(runs["validate"]), median(runs["cloader"])
    start = median(runs["start"])
    growth = (median(runs["full"]) - start) / max(median(runs["half"]) - start, 1e-3)
    return [
        ratio_row("specs", f"`validate` of {count} YAML files / a script loading them with "
                  "yaml.CSafeLoader", mine / base, 2,
                  f"{mine:.3f} s against {base:.3f} s (wall, median of {rounds})"),
        ratio_row("specs", f"`validate` of one JSON array: {2 * count} agents / {count} "
                  "(start-up taken off)", growth, 2.5,
                  f"{median(runs['half']):.3f} s and {median(runs['full']):.3f} s; linear "
                  "is 2x, quadratic 4x"),
    ]


# -- apply ---------------------------------------------------------------------------------

# What `apply` has to do for new agents (read the list, create each), done the simplest
# good way: one keep-alive client, one request at a time.
KEEPALIVE = r"""
import json, os, ssl, sys, httpx
url, key = os.environ["AGENTCTL_BASE_URL"], os.environ["ASSEMBLYAI_API_KEY"]
bodies = json.loads(sys.stdin.read())
# https: trust the emulator's certificate alone, as agentctl does with $AGENTCTL_CA_BUNDLE;
# http: no certificates loaded at all (agentctl loads none for http either)
ca = os.environ.get("AGENTCTL_CA_BUNDLE")
verify = ssl.create_default_context(cafile=ca) if ca else False
with httpx.Client(base_url=url, headers={"Authorization": key}, verify=verify) as client:
    client.get("/v1/agents").raise_for_status()
    for body in bodies:
        client.post("/v1/agents", json=body).raise_for_status()
"""


def bulk_apply(env: dict[str, str], emulator: Emulator, count: int, rounds: int,
               work: Path, label: str) -> list[Row]:
    api = emulator.env(env)
    folder = work / "apply-specs"
    folder.mkdir(exist_ok=True)
    bodies = [spec(f"bench-{i:04d}") for i in range(count)]
    for body in bodies:
        (folder / f"{body['name']}.json").write_text(json.dumps(body), "utf-8")
    payload = json.dumps(bodies).encode()
    apply_cmd = [*AGENTCTL, "apply", "-f", str(folder), "-o", "name"]
    applied: list[Run] = []
    baseline: list[Run] = []
    for n in range(rounds + 1):  # round 0 is the warm-up (as every other case has)
        emulator.clear()
        mine = checked("apply", run_once(apply_cmd, api, server=emulator))
        if len(mine.out.split()) != count:  # -o name: one line per agent it created
            raise RuntimeError(f"apply: {len(mine.out.split())} names, not {count}")
        emulator.clear()
        base = checked("keep-alive baseline", run_once(
            [PY, "-c", KEEPALIVE], api, stdin=payload, server=emulator))
        if n:
            applied.append(mine)
            baseline.append(base)
    emulator.clear()
    mine, base = median(applied), median(baseline)
    return [
        ratio_row("apply", f"`apply` of {count} new specs{label}: speed-up over one keep-alive "
                  "client sending them one at a time", base / mine, 1, at_least=True,
                  detail=f"apply: {cpu_detail(applied)}; baseline: {cpu_detail(baseline)}"),
    ]


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

    for dist in ("typer", "rich", "httpx", "httpcore", "pyyaml", "hypercorn", "starlette"):
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


def markdown(rows: list[Row], info: dict[str, Any], quick: bool, seconds: float) -> str:
    lines = [
        f"# agentctl benchmark{' (quick)' if quick else ''}",
        "",
        f"{info['date']}, commit {info['commit']}: {info['nproc']} CPUs ({info['cpu']}), "
        f"{info['implementation']} {info['python']}, {info['os']}; load average "
        f"{', '.join(map(str, info['load_average']))} at the start; the run took "
        f"{seconds:.0f} s.",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()) + ".",
        "",
        "| | case | figure | detail | goal | |",
        "|---|---|---:|---|---|---|",
    ]
    for r in rows:
        mark = "" if r.ok is None else ("ok" if r.ok else "**missed**")
        lines.append(f"| {r.section} | {r.case} | {r.value} {r.unit} | {r.detail} | "
                     f"{r.goal} | {mark} |")
    lines += ["", "Ratios are of medians measured in the same run, cases interleaved. "
              "Start-up ratios are to `python -c pass`.",
              "Produced by `python bench/run.py" + (" --quick" if quick else "") + "`."]
    return "\n".join(lines) + "\n"


def emulator_soak(emulator: Emulator, count: int) -> list[Row]:
    """Issue 13: a long-running emulator's memory stays flat. `count` requests (a 404 GET,
    and every hundredth a create and a delete) after a quarter as warm-up; the figure is
    the resident memory gained over the last three quarters, past the request log's cap."""
    import httpx

    from agentctl.emulator.limits import MAX_REQUEST_LOG

    def rss_mb() -> float:
        for line in Path(f"/proc/{emulator.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def hammer(client: httpx.Client, n: int) -> None:
        for i in range(n):
            client.get(f"/v1/agents/agent_{i:032x}")
            if i % 100 == 0:
                made = client.post("/v1/agents", json=spec(f"soak-{i}"))
                client.delete(f"/v1/agents/{made.json()['id']}")

    with httpx.Client(base_url=emulator.url, headers={"Authorization": KEY},
                      trust_env=False) as client:
        hammer(client, count // 4)
        before = rss_mb()
        started = time.monotonic()
        hammer(client, count - count // 4)
        seconds = time.monotonic() - started
        after = rss_mb()
    sent = int((count - count // 4) * 1.02)
    grown = after - before
    return [Row("emulator", "emulator memory over a soak", round(grown, 1), "MB",
                f"{before:.1f} -> {after:.1f} MB resident over ~{sent} requests "
                f"({sent / seconds:.0f}/s); request log capped at {MAX_REQUEST_LOG}",
                "<= 5 MB", grown <= 5)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="where latest.md and latest.json go (default: bench/results)")
    parser.add_argument("--rounds", type=int, help="start-up repetitions (default 10; quick 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    opts = parser.parse_args(argv)
    began = time.monotonic()
    rounds = opts.rounds or (3 if opts.quick else 10)
    bulk_rounds = 1 if opts.quick else 3
    apply_count, list_count, json_count, spec_count = (
        (20, 300, 500, 50) if opts.quick else (200, 10_000, 50_000, 1000))

    info = machine()
    opts.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="agentctl-bench-"))
    env = base_env(work / "home")
    emulator = Emulator(env, work / "emulator.sqlite3")
    delay = 50
    slow = Emulator(env, work / "slow.sqlite3", "--faults", f"slow=1:{delay}ms")
    secure = Emulator(env, work / "tls" / "secure.sqlite3", "--tls") if shutil.which(
        "openssl") else None
    rows: list[Row] = []
    try:
        emulator.seed(20, "startup")  # for the agent-name completion case and API commands
        if secure is not None:
            secure.seed(20, "startup")
        rows += startup(env, emulator, rounds)
        rows += api_commands(env, emulator, secure, rounds)
        rows += specs(env, spec_count, bulk_rounds, work)
        rows += bulk_apply(env, emulator, apply_count, bulk_rounds, work, "")
        rows += bulk_apply(env, slow, apply_count, bulk_rounds, work,
                           f", every answer {delay} ms late")
        if secure is not None:
            rows += bulk_apply(env, secure, apply_count, bulk_rounds, work, " over https")
        rows += bulk_list(env, emulator, list_count, json_count, bulk_rounds)
        rows += emulator_soak(emulator, 400 if opts.quick else 15_000)
    finally:
        for server in (emulator, slow, secure):
            if server is not None:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if opts.quick:  # the goals are for the full sizes: a smoke run does not judge them
        for row in rows:
            if row.goal:
                row.goal, row.ok = f"{row.goal} (full run)", None
    report = markdown(rows, info, opts.quick, time.monotonic() - began)
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
