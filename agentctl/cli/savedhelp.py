"""`--help` without Typer: the text an earlier run printed through Typer, saved.

Importing Typer and building the command is nearly all of a `--help` run. So the first
`agentctl [COMMAND...] --help` (or `-h`) goes through Typer as before; that run keeps what
Typer printed, checks it against the command's help rendered again, and saves it in the
user cache dir. A later run asking for the same text prints the saved one, without
importing Typer. The text cannot differ when all of these are the same: the installation's
stamp (agentctl's and Typer's files, see `usercache`), the width the help wraps to (Click's
rule: the terminal's or $COLUMNS' width, at most 80, minus 2, at least 50), the locale
variables (Typer's section titles go through gettext), and the command line itself: words
naming a command, then the help flag, nothing else. Anything else (a global flag, `--`, an
option, an unknown word) goes through Typer, as does a missing, stale or broken file. Help is
plain text everywhere (no colour, no Rich): NO_COLOR and TERM do not change it. Bare
`agentctl` prints the root's help: it is answered from the root's saved text too.

Typer-free and small: `cli.main` imports it for a command line that ends in a help flag (or
is empty), `cli.run` for `saving`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from agentctl.cli.usercache import (
    PROG,
    cache_dir,
    drop_other_stamps,
    install_stamp,
    write_private,
)

FAST_VAR = "_AGENTCTL_HELP_FAST"  # "0": never answer from a saved text (tests, the bench)
HELP_FLAGS = ("--help", "-h")
FORMAT = 1
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # what gettext reads
MAX_WORDS = 3  # more than the deepest command path (two words)


def _request(args: list[str]) -> tuple[list[str], str | None] | None:
    """(the command path, the help flag; None: bare `agentctl`) if `args` only ask for a
    help text, else None."""
    if not args:
        return [], None
    *words, flag = args
    if flag not in HELP_FLAGS or len(words) > MAX_WORDS:
        return None
    if not all(w and w.replace("-", "").replace("_", "").isalnum() and w[0] != "-"
               for w in words):
        return None
    return words, flag


def width() -> int:
    """The width Click's HelpFormatter wraps to (without its max_content_width): the
    terminal's columns as shutil.get_terminal_size finds them (shutil itself costs a few
    ms to import), capped at 80, minus 2, at least 50. The save checks it against Click's."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def _key(words: list[str]) -> str | None:
    """What the text depends on besides the installation (whose stamp names the file)."""
    locale = [os.environ.get(name, "") for name in LOCALE_VARS]
    key = "\x1f".join([str(FORMAT), str(width()), *locale, " ".join(words)])
    return None if "\n" in key else key


def _path(key: str) -> tuple[Path, str]:
    """The file of `key` in this installation, and the installation's stamp."""
    import zlib

    stamp = install_stamp(f"help {FORMAT}")
    name = f"help-{stamp}-{zlib.crc32(key.encode()) & 0xFFFFFFFF:08x}.txt"
    return cache_dir() / "help" / name, stamp


def _load(key: str) -> tuple[list[str], bool, str] | None:
    """(the help flags of the command, whether bare `agentctl` shows it, the text)."""
    try:
        with open(_path(key)[0], encoding="utf-8", newline="") as file:  # the text as saved
            saved = file.read()
    except (OSError, ValueError):
        return None
    # "agentctl-help\n<key>\n<flags>\n<bare 0|1> <crc32 of the text>\n<text>"
    parts = saved.split("\n", 4)
    if len(parts) != 5 or parts[0] != "agentctl-help" or parts[1] != key:
        return None
    bare, _, check = parts[3].partition(" ")
    if bare not in ("0", "1") or check != _check(parts[4]):  # cut short or changed
        return None
    return parts[2].split(), bare == "1", parts[4]


def _check(text: str) -> str:
    import zlib

    return f"{zlib.crc32(text.encode()) & 0xFFFFFFFF:08x}"


def answer(args: list[str]) -> int | None:
    """Print the saved help text `args` ask for: the exit code, or None (nothing printed)
    to let Typer answer."""
    if os.environ.get("_AGENTCTL_COMPLETE") or sys.platform == "win32":
        return None
    request = _request(args)
    if request is None:
        return None
    words, flag = request
    try:
        key = _key(words)
        saved = _load(key) if key is not None else None
    except Exception:
        return None
    # FAST_VAR=0 after the look-up: a run as costly as the first one after an install
    if saved is None or os.environ.get(FAST_VAR) == "0":
        return None
    flags, bare, text = saved
    if (flag is None and not bare) or (flag is not None and flag not in flags):
        return None
    # Typer's echo writes to sys.stdout as it is unless its encoding is missing or ASCII
    # (it then writes UTF-8 to the buffer); bare `agentctl` writes to it in any case.
    if flag is not None and not _written_as_is(sys.stdout):
        return None
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader is gone: as Typer does for --help, exit 1 without a word.
        from agentctl.cli import _silence_stdout

        _silence_stdout()
        return 1
    return 0


def _written_as_is(stream: Any) -> bool:
    import codecs

    encoding, errors = getattr(stream, "encoding", None), getattr(stream, "errors", None)
    try:
        return bool(encoding) and errors is not None and codecs.lookup(encoding).name != "ascii"
    except LookupError:
        return False


# -- the first run: through Typer, keeping what it printed --------------------------------

class _Tee:
    """sys.stdout, remembering the text written to it (Click's echo writes there)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.written: list[str] = []

    def write(self, text: Any) -> int:
        result = self._stream.write(text)  # bytes: a TypeError, as from the stream itself
        self.written.append(text)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def saving(args: list[str], command: Any) -> Iterator[None]:
    """Run the block (Typer answering `args`) and, if `args` ask for a help text, save
    what it printed for the next run."""
    request = _request(args)
    if request is None or request[1] is None or sys.platform == "win32":
        yield
        return
    real = sys.stdout
    tee = _Tee(real)
    sys.stdout = tee
    try:
        yield
    finally:
        if sys.stdout is tee:  # (Typer wraps it when the reader is gone: left so)
            sys.stdout = real
    with suppress(Exception):  # a cache is never an error
        _save(*request, command, "".join(tee.written))


def _save(words: list[str], flag: str | None, command: Any, printed: str) -> None:
    """Save `printed` if it is the help of the command at `words` as Typer renders it at
    the width `width()` finds, and `flag` asks for it there."""
    key = _key(words)
    if key is None or not printed:
        return
    ctx = command.make_context(PROG, [], resilient_parsing=True)
    target = command
    for word in words:
        sub = target.get_command(ctx, word) if hasattr(target, "list_commands") else None
        if sub is None:
            return
        ctx = sub.make_context(word, [], parent=ctx, resilient_parsing=True)
        target = sub
    if printed != target.get_help(ctx) + "\n" or ctx.make_formatter().width != width():
        return
    own = {o for p in target.params for o in (*p.opts, *p.secondary_opts)}
    flags = [f for f in ctx.help_option_names if f not in own]
    if flag not in flags:
        return
    bare = not words and bool(getattr(target, "no_args_is_help", False))
    path, stamp = _path(key)
    head = f"agentctl-help\n{key}\n{' '.join(flags)}\n{int(bare)} {_check(printed)}\n"
    write_private(path, head + printed)
    drop_other_stamps(path, "help", stamp)  # older texts of this installation
