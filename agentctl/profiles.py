"""The config file: named profiles (base URL, where the key comes from) and the current one.

TOML at `<config dir>/config.toml`. A file that holds a key is written with mode 600,
atomically; a looser one is warned about when read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentctl.errors import SpecError, UsageError
from agentctl.settings import PROFILE_KEYS, config_dir  # keys: from the global options

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    return config_dir(environ) / "config.toml"


@dataclass
class Config:
    path: Path
    current: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def profile(self, name: str) -> dict[str, Any]:
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise UsageError(
                f"no profile named {name!r} in {self.path} (profiles: {known})",
                hint=f"create it: agentctl config set base_url URL --profile {name}",
            )
        return self.profiles[name]

    def holds_key(self) -> bool:
        return any("api_key" in p for p in self.profiles.values())


def load(path: Path | None = None) -> Config:
    path = path or config_path()
    config = Config(path=path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return config
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    import tomllib  # only when there is a file (every API command and Tab reads the config)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: invalid config file: {exc}") from None
    current = data.get("current_profile")
    config.current = current if isinstance(current, str) else None
    profiles = data.get("profiles", {})
    if isinstance(profiles, dict):
        for name, values in profiles.items():
            if isinstance(values, dict):
                config.profiles[name] = {k: v for k, v in values.items() if k in PROFILE_KEYS}
    if config.holds_key() and os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            config.warnings.append(
                f"{path} holds an API key but is readable by others (mode {mode:o}); "
                f"run: chmod 600 {path}"
            )
    return config


def coerce(key: str, value: str) -> Any:
    if key not in PROFILE_KEYS:
        raise UsageError(
            f"unknown setting {key!r}", hint="settings: " + ", ".join(PROFILE_KEYS)
        )
    kind = PROFILE_KEYS[key]
    if kind is bool:
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise UsageError(f"{key} must be true or false, got {value!r}")
        return lowered in ("true", "1", "yes")
    if kind is float:
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"{key} must be a number of seconds, got {value!r}") from None
        if not 0 < number <= 3600:
            raise UsageError(f"{key} must be between 0 and 3600 seconds")
        return number
    if key == "base_url":
        from agentctl.settings import check_base_url

        check_base_url(value.rstrip("/"))
        return value.rstrip("/")
    if key == "api_key_env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise UsageError(f"api_key_env must be an environment variable name, got {value!r}")
    return value


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UsageError(
            f"invalid profile name {name!r}",
            hint="use letters, digits, '_', '-' or '.', starting with a letter or digit",
        )
    return name


@contextmanager
def editing(path: Path | None = None) -> Iterator[Config]:
    """The config, read under an exclusive lock and saved when the block ends: concurrent
    `config set`s each see the others' changes (twenty at once keep all twenty). The lock
    is `.config.lock` beside the file (POSIX flock; elsewhere, no lock)."""
    path = path or config_path()
    from agentctl.fileio import private_dir

    private_dir(path.parent)
    lock = path.parent / f".{path.name}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot lock {path}: {exc.strerror or exc}") from None
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        config = load(path)
        yield config
        save(config)
    finally:
        os.close(fd)  # releases the lock


def save(config: Config) -> None:
    """Write atomically; mode 600 always (the file may hold a key)."""
    lines: list[str] = []
    if config.current:
        lines.append(f"current_profile = {_toml_value(config.current)}")
    for name in sorted(config.profiles):
        lines.append("")
        lines.append(f"[profiles.{_toml_key(name)}]")
        for key, value in sorted(config.profiles[name].items()):
            lines.append(f"{key} = {_toml_value(value)}")
    from agentctl.fileio import write_private

    write_private(config.path, "\n".join(lines).lstrip("\n") + "\n")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    import json

    return json.dumps(str(value))  # a JSON string is a valid TOML basic string
