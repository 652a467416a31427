"""The process around a run, when agentctl is a program of its own (not `main(argv)`).

Two costs of a short command are the interpreter's, not the command's:
- Start-up makes tens of thousands of objects (Typer, httpx, their imports) that live for
  the whole run; the cyclic GC scans them again and again while they are made (~8% of
  start-up).
  It is paused until the program is loaded, then everything loaded is frozen (never scanned
  again) and the GC runs as usual for the command's own work.
- Interpreter shutdown tears every module down one object at a time (~50 ms). The output
  is flushed and the atexit handlers run first, then the process ends at once, as it does
  for a shell. Threads still running (none should be) get the normal, waiting exit.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading


def pause_gc() -> None:
    gc.disable()


def resume_gc() -> None:
    """After the program is loaded: freeze what exists (it lives until the end), collect
    the rest as usual. A no-op unless `pause_gc` ran (an in-process `main(argv)`)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def exit_now(code: int) -> None:
    """End the process with `code`: flush, run the atexit handlers, skip the teardown."""
    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon
           for t in threading.enumerate()):
        sys.exit(code)  # the normal exit waits for them
    _flush()
    atexit._run_exitfuncs()
    _flush()  # what the handlers wrote
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
            stream.flush()
