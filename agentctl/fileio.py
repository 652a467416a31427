"""Writing files safely: atomically, never over an existing file without --force, and with
names derived from agent names that cannot leave the target directory.

The one writer of files (`write_private` is it with mode 600). `write_atomic` writes a
temporary file in the target's directory, flushes it to disk, then
moves it into place in one step: a reader sees the old file or the new one, never half of
one, and an interrupted write leaves nothing behind. Without `force`, the final step is a
hard link, which fails if the name exists (no check-then-write race).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import unicodedata
from pathlib import Path

from agentctl.errors import UsageError

MAX_NAME = 100  # characters of a derived file name, before the suffix
_UNSAFE = re.compile(r"[^\w.-]+")  # \w is Unicode-aware: accents and scripts survive
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def safe_filename(name: str, *, default: str = "agent") -> str:
    """A file name (no directory part) derived from `name`, safe on any platform.

    Path separators, `..`, control characters, spaces and other punctuation become `-`;
    leading dots and dashes go (no hidden files, nothing that looks like an option);
    Windows' reserved names get a `_` suffix; the length is capped. An empty result is
    `default`. `safe_filename("../../etc/passwd") == "etc-passwd"`.
    """
    text = unicodedata.normalize("NFKC", str(name))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")  # controls
    text = _UNSAFE.sub("-", text)
    text = re.sub(r"\.{2,}", ".", text)  # no "..": harmless without separators, but odd
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    text = text[:MAX_NAME].rstrip("-.")
    if not text:
        return default
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = f"{text}_"
    return text


def path_in(directory: str | Path, name: str, suffix: str = "") -> Path:
    """`directory / (safe_filename(name) + suffix)`, checked to stay inside `directory`."""
    base = Path(directory)
    candidate = base / f"{safe_filename(name)}{suffix}"
    resolved_base = base.resolve()
    if candidate.resolve().parent != resolved_base:  # e.g. a symlink planted as the name
        raise UsageError(f"refusing to write {candidate}: it resolves outside {base}")
    return candidate


def write_atomic(
    path: str | Path, data: str | bytes, *, force: bool, mode: int | None = None
) -> Path:
    """Write `data` to `path` atomically; refuse an existing file unless `force`.

    `mode`: the new file's permissions (default: 0o666 less the umask, as `open` would;
    with `force` over an existing file, that file's mode is kept). A refusal is a
    UsageError (exit 2) naming `--force`; an OS failure is a UsageError saying why.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    directory = target.parent
    if target.is_dir():
        raise UsageError(f"cannot write {target}: it is a directory")
    if not force and os.path.lexists(target):
        raise _exists(target)
    if mode is None:
        mode = _existing_mode(target) if force else None
        mode = mode if mode is not None else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:50]}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise UsageError(f"cannot write {target}: directory {directory} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
        _fsync_dir(directory)
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        # After a replace or a link the temporary name is gone or redundant.
        Path(tmp).unlink(missing_ok=True)
    return target


def write_private(path: str | Path, data: str | bytes) -> Path:
    """A file only this user may read (the config file, which may hold a key; Tab's
    caches): its directory made if missing, mode 600, replaced atomically."""
    target = Path(path)
    private_dir(target.parent)
    return write_atomic(target, data, force=True, mode=0o600)


def private_dir(directory: str | Path) -> Path:
    """`directory`, made if missing with mode 700, as is each missing parent (as the XDG
    base directory spec asks: `~/.cache/agentctl/completion` is made 700 at every level
    it creates). One that exists keeps its mode."""
    directory = Path(directory)
    try:
        for missing in reversed([d for d in (directory, *directory.parents) if not d.exists()]):
            missing.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None
    return directory


def _link_new(tmp: str, target: Path) -> None:
    """Give the finished file its name only if that name is free, atomically."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # No hard links here (some network and FAT file systems): claim the name first.
        try:
            claim = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise _exists(target) from None
        os.close(claim)
        os.replace(tmp, target)


def _exists(target: Path) -> UsageError:
    return UsageError(
        f"refusing to overwrite {target}: it exists", hint="pass --force to replace it"
    )


def _existing_mode(target: Path) -> int | None:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return None


def _umask() -> int:
    try:  # Linux says it without changing it (os.umask is a write, racy beside threads)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
