"""`--help` from the saved text (cli/savedhelp.py): byte for byte what Typer prints.

The first `agentctl ... --help` goes through Typer and saves what it printed; later runs
print the saved text without importing Typer. These tests run the real entry point as a
program (argv from sys.argv, as the console script does): in subprocesses, and, to cover
every command at several widths, piped and on a pty, in children forked from one runner
that has the app loaded (a fork costs a few ms; an interpreter start ~100).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs `agentctl ARGS` as a program and reports whether Typer was imported.
PROGRAM = r"""
import atexit, json, os, sys
sys.argv = ["agentctl", *json.loads(os.environ["HELP_ARGS"])]

@atexit.register  # (a program's run ends in os._exit, after the atexit handlers)
def report():
    with open(os.environ["HELP_REPORT"], "w") as out:
        json.dump({"typer": "typer" in sys.modules}, out)

from agentctl.cli import main
main()
"""

# For every command path, each layout (piped with and without $COLUMNS, a pty of a given
# size): Typer's output with no saving involved (the reference), the first run (through
# Typer, saving), then --help and -h from the saved text (run() replaced by an exit 99:
# the fast path must answer). Each in a forked child; prints one JSON report.
FORKING = r"""
import contextlib, fcntl, json, os, pty, struct, sys, termios, traceback
import agentctl.cli as cli
import agentctl.cli.savedhelp as savedhelp
from agentctl.cli import _command
from agentctl.cli.app import app
from agentctl.cli.docgen import _walk

paths = [path[1:] for path, _, _ in _walk(_command(app), ["agentctl"])]
if os.environ.get("ONLY"):  # a sample: these command paths
    paths = [p for p in paths if " ".join(p) in json.loads(os.environ["ONLY"])]

def read_all(fd):
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # a pty whose other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)
    return b"".join(chunks)

def child(args, layout, mode):
    kind, columns = layout
    if kind == "tty":
        out_r, out_w = pty.openpty()
        fcntl.ioctl(out_w, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    else:
        out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 98
        try:
            os.close(out_r); os.close(err_r)
            os.dup2(out_w, 1); os.dup2(err_w, 2)
            os.environ.pop("COLUMNS", None)
            if kind == "pipe" and columns:
                os.environ["COLUMNS"] = str(columns)
            if mode == "typer":
                os.environ[savedhelp.FAST_VAR] = "0"
                savedhelp.saving = lambda args, command: contextlib.nullcontext()
            elif mode == "saved":
                cli.run = lambda *a, **k: os._exit(99)
            sys.argv = ["agentctl", *args]
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            sys.stdout.flush()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(out_w); os.close(err_w)
    out = read_all(out_r)
    err = read_all(err_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace"), err.decode()

report = []
for layout in json.loads(os.environ["LAYOUTS"]):
    for path in paths:
        runs = {}
        for name, args, mode in (("typer", [*path, "--help"], "typer"),
                                 ("first", [*path, "--help"], "first"),
                                 ("saved", [*path, "--help"], "saved"),
                                 ("saved -h", [*path, "-h"], "saved")):
            runs[name] = child(args, layout, mode)
        if not path:  # bare `agentctl`: Typer's answer, then the saved root help
            runs["bare typer"] = child([], layout, "typer")
            runs["bare saved"] = child([], layout, "saved")
        report.append({"layout": layout, "path": path, "runs": runs})
print(json.dumps(report))
"""


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(XDG_CACHE_HOME=str(cache), **extra)
    return env


def program(cache: Path, tmp_path: Path, *args: str, **env: str) -> tuple[dict, str, str]:
    """(report, stdout, stderr) of `agentctl ARGS` run as a program."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60,
        env=_env(cache, HELP_ARGS=json.dumps(list(args)), HELP_REPORT=str(report), **env))
    assert report.exists(), result.stderr
    found = {"code": result.returncode, **json.loads(report.read_text())}
    return found, result.stdout, result.stderr


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def saved_files(cache: Path) -> list[Path]:
    return sorted((cache / "agentctl" / "help").glob("help-*.txt"))


def forked_report(cache: Path, layouts: list[list], only: list[str] | None) -> list[dict]:
    env = _env(cache, LAYOUTS=json.dumps(layouts), ONLY=json.dumps(only) if only else "")
    result = subprocess.run([sys.executable, "-c", FORKING], capture_output=True, text=True,
                            timeout=400, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# Two widths (78: piped without $COLUMNS or a wide pty; 62: 64 columns), each piped and on
# a pty, for every command and group (slow); the quick run: a sample (the root, a command
# whose help is not ASCII, a nested one), each width once.
SAMPLE = ["", "connect", "sessions list"]
QUICK = [["pipe", None], ["tty", 64]]
LAYOUTS = [["pipe", None], ["tty", 64], ["pipe", 64], ["tty", 120]]


@pytest.mark.parametrize(("only", "layouts"), [
    (SAMPLE, QUICK), pytest.param(None, LAYOUTS, marks=pytest.mark.slow),
], ids=["sample", "every-command"])
def test_saved_help_is_typer_help_byte_for_byte(cache: Path, only: list[str] | None,
                                                layouts: list[list]) -> None:
    report = forked_report(cache, layouts, only)
    assert len(report) == len(layouts) * (len(only) if only else len(report) // len(layouts))
    assert len(report) >= len(layouts) * (len(only) if only else 40)
    for case in report:
        runs = case["runs"]
        where = f"{case['layout']} agentctl {' '.join(case['path'])}"
        code, text, err = runs["typer"]
        assert code == 0 and err == "" and text.startswith("Usage: agentctl"), (where, runs)
        for name in ("first", "saved", "saved -h"):
            assert runs[name] == runs["typer"], (where, name, runs[name], text)
        if "bare typer" in runs:
            assert runs["bare typer"] == runs["typer"], (where, runs["bare typer"])
            assert runs["bare saved"] == runs["typer"], (where, runs["bare saved"])
    # Two widths: two texts (the pty's lines end in CR LF: normalised here).
    root = {c["runs"]["typer"][1].replace("\r\n", "\n") for c in report if not c["path"]}
    assert sorted(max(map(len, text.splitlines())) for text in root)[0] <= 62
    assert len(root) == 2
    for path in saved_files(cache):
        assert path.stat().st_mode & 0o777 == 0o600
    assert (cache / "agentctl" / "help").stat().st_mode & 0o777 == 0o700


def test_second_help_imports_no_typer(tmp_path: Path, cache: Path) -> None:
    first, text, err = program(cache, tmp_path, "sessions", "list", "--help")
    assert first == {"code": 0, "typer": True} and err == ""
    again, text_again, err = program(cache, tmp_path, "sessions", "list", "--help")
    assert again == {"code": 0, "typer": False} and err == ""
    assert text_again == text and text.startswith("Usage: agentctl sessions list ")
    # -h is the same help there: answered from what --help saved.
    assert program(cache, tmp_path, "sessions", "list", "-h")[:2] == (again, text)
    # Another width is another text: through Typer once.
    assert program(cache, tmp_path, "sessions", "list", "--help", COLUMNS="60")[0]["typer"]
    assert not program(cache, tmp_path, "sessions", "list", "--help", COLUMNS="60")[0]["typer"]
    # So is another locale (Typer's section titles go through gettext).
    assert program(cache, tmp_path, "sessions", "list", "--help", LANGUAGE="de")[0]["typer"]


@pytest.mark.parametrize("args", [
    ["--debug", "list", "--help"], ["list", "--debug", "--help"], ["list", "-o", "json", "--help"],
    ["list", "--", "--help"], ["get", "x", "--help"], ["--help", "list"],
])
def test_anything_else_on_the_line_goes_through_typer(tmp_path: Path, cache: Path,
                                                      args: list[str]) -> None:
    report, _, _ = program(cache, tmp_path, *args)
    assert report["typer"], args
    assert saved_files(cache) == []  # so the next one goes through Typer too


def test_unknown_command_still_an_error(tmp_path: Path, cache: Path) -> None:
    program(cache, tmp_path, "--help")  # a saved root help
    report, out, err = program(cache, tmp_path, "nosuch", "--help")
    assert report == {"code": 2, "typer": True} and out == ""
    assert err.startswith("error: No such command 'nosuch'"), err
    assert len(saved_files(cache)) == 1  # nothing saved for it: the next one errs too


def test_stale_or_broken_or_unwritable_cache_goes_through_typer(tmp_path: Path,
                                                               cache: Path) -> None:
    from agentctl.cli import savedhelp

    report, text, _ = program(cache, tmp_path, "config", "--help")
    [saved] = saved_files(cache)
    # Broken: any change to the file, or a truncated one.
    for broken in (saved.read_text().replace("Usage", "Usagé"), saved.read_text()[:-40]):
        saved.write_text(broken)
        report, again, err = program(cache, tmp_path, "config", "--help")
        assert report == {"code": 0, "typer": True} and again == text and err == ""
    assert not program(cache, tmp_path, "config", "--help")[0]["typer"]  # saved again
    # Stale: a source file changed is a new stamp; the old text of this install goes.
    source = Path(savedhelp.__file__)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    try:
        report, again, _ = program(cache, tmp_path, "config", "--help")
        assert report["typer"] and again == text
        [new] = saved_files(cache)
        assert new != saved
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # A cache dir that cannot be made: help as ever, no word about it.
    blocker = tmp_path / "file"
    blocker.write_text("")
    report, again, err = program(blocker, tmp_path, "config", "--help")
    assert report == {"code": 0, "typer": True} and again == text and err == ""


def test_ascii_stdout_gets_what_typer_writes(tmp_path: Path, cache: Path) -> None:
    # connect's help has a µ: Typer's echo writes UTF-8 past an ASCII-encoded stdout; the
    # saved text is only printed where the stream takes it as it is.
    env = dict(_env(cache), PYTHONIOENCODING="ascii", HELP_ARGS='["connect", "--help"]',
               HELP_REPORT=str(tmp_path / "r.json"))
    outs = [subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, env=env,
                           timeout=60) for _ in range(2)]
    assert outs[0].stdout == outs[1].stdout and "μ-law".encode() in outs[0].stdout
    assert outs[0].returncode == outs[1].returncode == 0
    assert program(cache, tmp_path, "connect", "--help")[0]["typer"]  # none was saved
    assert not program(cache, tmp_path, "connect", "--help")[0]["typer"]


@pytest.mark.parametrize("fast", ["1", "0"])
def test_closed_pipe_as_typer_has_it(tmp_path: Path, cache: Path, fast: str) -> None:
    # Typer answers --help to a reader that is gone with exit 1 and no word; so does the
    # saved text.
    program(cache, tmp_path, "--help")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before a byte is written
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROGRAM], stdout=write, stderr=subprocess.PIPE, timeout=60,
            env=_env(cache, HELP_ARGS='["--help"]', HELP_REPORT=str(tmp_path / "r.json"),
                     _AGENTCTL_HELP_FAST=fast))
    finally:
        os.close(write)
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.returncode == 1 and result.stderr == b""
    assert report == {"typer": fast == "0"}


def test_help_text_depends_on_no_setting_the_key_leaves_out(tmp_path: Path) -> None:
    """The saved text is keyed by width and locale only: every help must read the same
    whatever else the environment holds (a profile, a key, the data dirs, colour settings,
    the working directory). A help that showed such a value would need it in the key."""
    from agentctl.cli.docgen import render

    other = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "h"),
             "XDG_CONFIG_HOME": str(tmp_path / "x"), "XDG_DATA_HOME": str(tmp_path / "d"),
             "XDG_CACHE_HOME": str(tmp_path / "c"), "AGENTCTL_CONFIG_DIR": str(tmp_path / "cf"),
             "AGENTCTL_DATA_DIR": str(tmp_path / "dd"), "ASSEMBLYAI_API_KEY": "k-123456789",
             "AGENTCTL_PROFILE": "prod", "AGENTCTL_BASE_URL": "http://127.0.0.1:9",
             "AGENTCTL_LOCAL": "1", "AGENTCTL_TIMEOUT": "3", "NO_COLOR": "1", "TERM": "dumb",
             "FORCE_COLOR": "1", "TYPER_USE_RICH": "0", "COLUMNS": "40"}
    result = subprocess.run([sys.executable, "-m", "agentctl.cli.docgen"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path, env=other)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render()


def test_completion_script_request_is_not_bare_help(tmp_path: Path, cache: Path) -> None:
    program(cache, tmp_path, "--help")  # the root's text saved: bare `agentctl` may use it
    report, out, _ = program(cache, tmp_path, _AGENTCTL_COMPLETE="source_bash")
    assert report["code"] == 0 and out.startswith("# bash completion for agentctl")
    report, out, _ = program(cache, tmp_path)
    assert report == {"code": 0, "typer": False} and out.startswith("Usage: agentctl")
