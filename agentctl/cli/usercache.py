"""The user cache dir of the answers given without Typer (Tab's command tree, saved help
texts): where it is, the stamp that names an installation's entries, the private write.

A cached answer is only as good as the code that produced it, so its name carries a stamp
of that code: where agentctl is installed, its version, Python's, and the name, size and
mtime of every source file of agentctl and of Typer (an upgrade, or an edit in a checkout,
is a new stamp). Typer-free and cheap to import: runs that never build the app read it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROG = "agentctl"


def cache_dir() -> Path:
    """The user cache dir: its one definition is `settings.cache_dir` (already imported by
    `cli.main`, which is what runs before any answer from here)."""
    from agentctl.settings import cache_dir as user_cache_dir

    return user_cache_dir(os.environ)


def install_stamp(kind: str) -> str:
    """`WHERE-DIGEST` (8 hex digits each): WHERE names the installation (so that older
    entries of it can be dropped, while another one, e.g. a checkout, keeps its own);
    DIGEST its code, and `kind` (the entry's format)."""
    import zlib
    from importlib.machinery import PathFinder

    from agentctl import __version__

    package = Path(__file__).resolve().parent.parent
    stamp = [f"{kind} {__version__} {sys.version_info[:2]}"]
    _source_files(str(package), stamp)
    # Typer's own files: its version decides how help is laid out and what the tree holds.
    typer = PathFinder.find_spec("typer")
    for folder in (typer and typer.submodule_search_locations) or ():
        _source_files(folder, stamp)
    where = zlib.crc32(str(package).encode()) & 0xFFFFFFFF
    digest = zlib.crc32("\n".join(stamp).encode()) & 0xFFFFFFFF
    return f"{where:08x}-{digest:08x}"


def _source_files(folder: str, out: list[str]) -> None:
    """`path size mtime` of each .py file under `folder`, in a fixed order (no dot or
    dunder dirs: __pycache__ is not source)."""
    with os.scandir(folder) as found:
        entries = sorted(found, key=lambda e: e.name)
    for entry in entries:
        if entry.name.endswith(".py"):
            stat = entry.stat()
            out.append(f"{entry.path} {stat.st_size} {stat.st_mtime_ns}")
        elif entry.is_dir() and not entry.name.startswith((".", "__")):
            _source_files(entry.path, out)


def drop_other_stamps(path: Path, prefix: str, stamp: str) -> None:
    """Remove the files `PREFIX-WHERE-*` beside `path` of another stamp of this
    installation (a file of another installation stays)."""
    where = stamp.split("-", 1)[0]
    for old in path.parent.glob(f"{prefix}-{where}-*"):
        if not old.name.startswith(f"{prefix}-{stamp}"):
            old.unlink(missing_ok=True)


def write_private(path: Path, text: str) -> None:
    """fileio's private atomic write (600, in 700 dirs it makes); a cache that cannot be
    written is no error."""
    import contextlib

    from agentctl.errors import UsageError
    from agentctl.fileio import write_private as write

    with contextlib.suppress(UsageError, OSError):
        write(path, text)
