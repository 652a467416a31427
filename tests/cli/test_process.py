"""agentctl as a program of its own: the GC paused while it loads, the fast exit at the end
(cli/process.py). In-process `main(argv)` (every other test) must not be touched by either."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

from tests.conftest import agent_yaml, run_cli


def _python(code: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_exit_now_flushes_runs_atexit_handlers_and_keeps_the_code(tmp_path):
    done = _python("""
        import atexit, sys
        from agentctl.cli import process
        atexit.register(lambda: print("handler ran"))
        sys.stdout.write("x" * 100000)  # more than one buffer, the last part unflushed
        sys.stderr.write("to stderr")
        process.exit_now(3)
        print("never here")
        """, tmp_path)
    assert done.returncode == 3
    assert done.stdout == "x" * 100000 + "handler ran\n"
    assert done.stderr == "to stderr"


def test_exit_now_waits_for_a_running_thread_as_the_normal_exit_does(tmp_path):
    marker = tmp_path / "written-by-the-thread"
    done = _python(f"""
        import threading, time
        from agentctl.cli import process
        def late():
            time.sleep(0.3)
            open({str(marker)!r}, "w").write("done")
        threading.Thread(target=late).start()
        process.exit_now(5)
        """, tmp_path)
    assert done.returncode == 5
    assert marker.read_text() == "done"


def test_exit_now_with_the_reader_gone_is_quiet(tmp_path):
    """`agentctl list | head`: output still buffered when the pipe closes is not an error."""
    script = ("import sys; from agentctl.cli import process; "
              "sys.stdout.write('line\\n' * 50000); process.exit_now(0)")
    piped = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=tmp_path)
    assert piped.stdout is not None
    piped.stdout.read(10)
    piped.stdout.close()
    _, err = piped.communicate(timeout=60)
    assert err == b""


def test_the_gc_is_paused_while_loading_and_runs_for_the_command(tmp_path):
    done = _python("""
        import gc
        from agentctl.cli import process
        process.pause_gc()
        paused = gc.isenabled()
        import json  # loading
        process.resume_gc()
        print(paused, gc.isenabled(), gc.get_freeze_count() > 0)
        """, tmp_path)
    assert done.stdout.split() == ["False", "True", "True"], done.stderr


def test_in_process_main_leaves_the_gc_alone(tmp_path):
    assert gc.isenabled()
    run_cli("--version")
    run_cli("validate", "-f", str(tmp_path / "missing.yaml"), exit_code=None)
    assert gc.isenabled()


def test_the_program_prints_whole_output_and_its_exit_code(api_env, tmp_path, write):
    """The console entry (`python -m agentctl`) through the fast exit: every byte of a long
    JSON answer through a pipe, and the documented exit code of an error."""
    for i in range(30):
        run_cli("create", "-f", write(f"a{i}.yaml", agent_yaml(f"agent-{i}")))
    run = [sys.executable, "-m", "agentctl"]
    listed = subprocess.run([*run, "list", "-o", "json"], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert sorted(a["name"] for a in json.loads(listed.stdout)) == sorted(
        f"agent-{i}" for i in range(30))
    missing = subprocess.run([*run, "get", "agent_" + "0" * 32], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 5, missing.stderr  # ExitCode.NOT_FOUND
    assert missing.stdout == "" and missing.stderr.startswith("error: no agent with id")


def test_bare_agentctl_to_a_reader_already_gone_is_quiet(tmp_path):
    """Bare `agentctl` prints the help through Typer's no-arguments path: a closed pipe
    there is not an error (it was a BrokenPipeError traceback)."""
    import os

    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "_AGENTCTL_HELP_FAST": "0", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    try:
        done = subprocess.run([sys.executable, "-m", "agentctl"], stdout=write,
                              stderr=subprocess.PIPE, env=env, timeout=60)
    finally:
        os.close(write)
    assert done.stderr == b"" and done.returncode == 0
