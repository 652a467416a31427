"""Global options: one registry of flags and environment variables, one resolution.

Precedence is flag > environment > profile > default, decided in `resolve` alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agentctl.errors import UsageError
from agentctl.secretset import SecretSet

if TYPE_CHECKING:
    from agentctl.profiles import Config

DEFAULT_BASE_URL = "https://agents.assemblyai.com"
DEFAULT_TIMEOUT = 30.0
# The embedded emulator accepts any well-formed key; this one is used when none is set.
LOCAL_API_KEY = "local-emulator-key"


@dataclass(frozen=True)
class GlobalOption:
    """One global option, declared once: the CLI's signature and help, the hoisting of
    flags, the environment variable and the profile key are all derived from this."""

    field: str
    flags: tuple[str, ...]
    env: str | None
    kind: type  # str, float, or bool for a flag that takes no value
    help: str
    profile_key: str | None = None  # the config-file key that can set it
    default: Any = None  # shown in --help; resolve() falls back to it
    complete: str | None = None  # what Tab offers for its value ("profiles")

    @property
    def takes_value(self) -> bool:
        return self.kind is not bool

    def help_text(self) -> str:
        """The --help line: the help, then the default and the variable, if any."""
        shown = f"{self.default:g}" if isinstance(self.default, float) else self.default
        extra = [f"default: {shown}"] if self.default not in (None, False) else []
        if self.env:
            extra.append(f"${self.env}")
        return f"{self.help} ({'; '.join(extra)})." if extra else f"{self.help}."


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption("profile", ("--profile", "-p"), "AGENTCTL_PROFILE", str,
                 "A named profile from the config file", complete="profiles"),
    GlobalOption("api_key", ("--api-key",), "ASSEMBLYAI_API_KEY", str,
                 "The API key; never echoed, never logged", profile_key="api_key"),
    GlobalOption("base_url", ("--base-url",), "AGENTCTL_BASE_URL", str,
                 "Another host (regional, or an emulator)", profile_key="base_url",
                 default=DEFAULT_BASE_URL),
    GlobalOption("local", ("--local",), "AGENTCTL_LOCAL", bool,
                 "Use the embedded emulator", profile_key="local", default=False),
    GlobalOption("timeout", ("--timeout",), "AGENTCTL_TIMEOUT", float,
                 "Seconds per request", profile_key="timeout", default=DEFAULT_TIMEOUT),
    GlobalOption("ca_cert", ("--ca-cert",), "AGENTCTL_CA_BUNDLE", str,
                 "Trust the certificates in this PEM file for https and wss (e.g. the "
                 "one `emulator serve --tls` prints)"),
    GlobalOption("verbose", ("--verbose", "-v"), None, bool, "More detail on stderr",
                 default=False),
    GlobalOption("debug", ("--debug",), None, bool,
                 "HTTP traffic (key redacted) and tracebacks on stderr", default=False),
    GlobalOption("no_color", ("--no-color",), "NO_COLOR", bool, "Plain output", default=False),
)
OPTION = {o.field: o for o in GLOBAL_OPTIONS}
VALUE_FLAGS = frozenset(f for o in GLOBAL_OPTIONS if o.takes_value for f in o.flags)
BOOL_FLAGS = frozenset(f for o in GLOBAL_OPTIONS if not o.takes_value for f in o.flags)
# A profile may also name the variable that holds its key (the key itself stays out of
# the file); it is no global option.
PROFILE_KEY_ENV = "api_key_env"
PROFILE_KEYS: dict[str, type] = {
    **{o.profile_key: o.kind for o in GLOBAL_OPTIONS if o.profile_key},
    PROFILE_KEY_ENV: str,
}
CONFIG_DIR_ENV = "AGENTCTL_CONFIG_DIR"
DATA_DIR_ENV = "AGENTCTL_DATA_DIR"
OTHER_ENV = {
    CONFIG_DIR_ENV: "where the config file lives (default: the platform's config dir)",
    DATA_DIR_ENV: "where --local keeps its SQLite state (default: the platform's data dir)",
    "AGENTCTL_RETRY_ATTEMPTS": "tries per request, the first included (default 5)",
    "AGENTCTL_RETRY_BASE_DELAY": "seconds before the first retry; doubles each time (default 0.25)",
    "AGENTCTL_RETRY_MAX_DELAY": "the cap on one wait between tries, in seconds (default 8)",
}


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CONFIG_DIR_ENV):
        return Path(env[CONFIG_DIR_ENV])
    return _xdg(env, "XDG_CONFIG_HOME", "~/.config") or _platformdirs("user_config_path")


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV])
    return _xdg(env, "XDG_DATA_HOME", "~/.local/share") or _platformdirs("user_data_path")


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user cache dir (Tab's command tree and agent names, `list -o wide`'s records)."""
    env = os.environ if environ is None else environ
    return _xdg(env, "XDG_CACHE_HOME", "~/.cache") or _platformdirs("user_cache_path")


def _xdg(env: Mapping[str, str], variable: str, default: str) -> Path | None:
    """On Linux, what platformdirs answers, without importing it (it imports tempfile and
    more: ~10 ms of every command that reads the config file)."""
    if not sys.platform.startswith("linux"):
        return None
    base = env.get(variable, "").strip() or os.path.expanduser(default)
    return Path(base) / "agentctl"


def _platformdirs(function: str) -> Path:
    import platformdirs

    return getattr(platformdirs, function)("agentctl")  # type: ignore[no-any-return]


def emulator_db(environ: Mapping[str, str] | None = None) -> Path:
    """The SQLite file of `--local` and of `emulator serve` without --db: the same state."""
    return data_dir(environ) / "emulator.sqlite3"


@dataclass
class Environment:
    """The process around one run, made once (in `cli.main`) and passed down instead of
    read from globals, as HTTPie's `Environment`: the streams, the environment variables,
    where config and data live, and the secrets the run must never print (the error line
    and the output sink scrub them). Tests build one instead of patching `os.environ` or
    `sys.stdout`."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str]
    secrets: SecretSet = field(default_factory=SecretSet)  # never printed by this run

    @classmethod
    def from_process(cls) -> Environment:
        return cls(sys.stdin, sys.stdout, sys.stderr, os.environ)

    @staticmethod
    def isatty(stream: IO[str]) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def stdin_isatty(self) -> bool:
        return self.isatty(self.stdin)

    @property
    def stdout_isatty(self) -> bool:
        return self.isatty(self.stdout)

    @property
    def stderr_isatty(self) -> bool:
        return self.isatty(self.stderr)

    @property
    def config_dir(self) -> Path:
        return config_dir(self.environ)

    @property
    def data_dir(self) -> Path:
        return data_dir(self.environ)

    @property
    def cache_dir(self) -> Path:
        return cache_dir(self.environ)


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str | None
    key_source: str  # where the key came from, for messages (never the key itself)
    local: bool
    timeout: float
    profile: str | None
    ca_cert: str | None = None  # a PEM file of certificates to trust instead of the default
    verbose: bool = False
    debug: bool = False
    no_color: bool = False


def env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def resolve(
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    profile: Mapping[str, Any] | None,
    profile_name: str | None,
) -> Settings:
    """Merge flags, environment and the chosen profile into Settings."""
    profile = profile or {}

    def pick(field: str) -> tuple[Any, str]:
        option = OPTION[field]
        given = flags.get(field)
        if given is not None and given is not False:  # not `in (None, False)`: 0 == False
            return given, "flag"
        if option.env and env.get(option.env):
            return env[option.env], f"${option.env}"
        if option.profile_key and profile.get(option.profile_key) not in (None, ""):
            return profile[option.profile_key], f"profile {profile_name!r}"
        return option.default, "default"

    local_raw, _ = pick("local")
    local = local_raw is True or (isinstance(local_raw, str) and env_flag(local_raw))
    base_url, _ = pick("base_url")
    timeout_raw, timeout_src = pick("timeout")
    try:
        timeout = float(timeout_raw)
        if not 0 < timeout <= 3600:
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(
            f"invalid timeout {timeout_raw!r} (from {timeout_src}): expected seconds, 0 < t <= 3600"
        ) from None

    api_key, key_source = pick("api_key")
    if api_key is None and profile.get(PROFILE_KEY_ENV):
        var = str(profile[PROFILE_KEY_ENV])
        if env.get(var):
            api_key, key_source = env[var], f"${var} (profile {profile_name!r})"
    if api_key is None and local:
        api_key, key_source = LOCAL_API_KEY, "the emulator's built-in key"
    if api_key is not None:
        check_api_key(str(api_key), key_source)

    ca_cert, ca_source = pick("ca_cert")
    if ca_cert is not None and not os.path.isfile(str(ca_cert)):
        where = "--ca-cert" if ca_source == "flag" else ca_source
        raise UsageError(f"no such certificate file {str(ca_cert)!r} (from {where})",
                         hint="--ca-cert takes a PEM file, e.g. the one emulator serve --tls "
                         "prints")
    base_url = str(base_url).rstrip("/")
    if not local:
        check_base_url(base_url)
    return Settings(
        base_url=base_url,
        api_key=str(api_key) if api_key is not None else None,
        key_source=key_source,
        local=local,
        timeout=timeout,
        profile=profile_name,
        ca_cert=str(ca_cert) if ca_cert is not None else None,
        verbose=bool(flags.get("verbose")),
        debug=bool(flags.get("debug")),
        no_color=no_color(flags, env),
    )


def no_color(flags: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """--no-color, or NO_COLOR set to anything (no-color.org), even before the settings."""
    return bool(flags.get("no_color")) or OPTION["no_color"].env in env


def for_run(flags: Mapping[str, Any], env: Mapping[str, str], config: Config) -> Settings:
    """The settings of this run: the profile named by the flag or its variable (which must
    exist), else the config file's current one."""
    name, explicit = profile_name(flags, env, config)
    profile = config.profile(name) if explicit and name else config.profiles.get(name or "", {})
    return resolve(flags, env, profile, name)


def profile_name(
    flags: Mapping[str, Any], env: Mapping[str, str], config: Config
) -> tuple[str | None, bool]:
    """The profile this run means, and whether it was named (flag or variable) rather than
    the config file's current one."""
    explicit = flags.get("profile") or env.get(OPTION["profile"].env or "")
    return (explicit or config.current), bool(explicit)


def for_profile(
    flags: Mapping[str, Any], env: Mapping[str, str], config: Config, name: str
) -> Settings:
    """The settings of a named profile (`promote --from/--to`).

    The profile's own key and base URL win over the environment's here: those would
    otherwise point both sides of a promote at one account. A profile that sets neither
    still falls back to them.
    """
    profile = config.profile(name)
    env = dict(env)
    if profile.get("api_key") or profile.get(PROFILE_KEY_ENV):
        env.pop(OPTION["api_key"].env or "", None)
    if profile.get("base_url") or "local" in profile:
        env.pop(OPTION["base_url"].env or "", None)
        env.pop(OPTION["local"].env or "", None)
    own = {k: flags.get(k) for k in ("timeout", "ca_cert", "verbose", "debug", "no_color")}
    return resolve(own, env, profile, name)


def check_api_key(key: str, source: str) -> None:
    """A key that cannot be sent as a header is a usage error that never shows the key."""
    if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
        where = "--api-key" if source == "flag" else source
        raise UsageError(
            f"the API key from {where} contains spaces, control or non-ASCII characters",
            hint="check for a stray newline, quote or paste artefact in the key",
        )


def check_base_url(base_url: str) -> None:
    """The key is never sent in the clear: plain http only to loopback."""
    from agentctl.hosts import is_loopback_host

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid base URL {base_url!r}", hint="expected e.g. https://agents.assemblyai.com"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"refusing to send the API key over plain http to {parts.hostname}",
            hint="use https, or http only for an emulator on loopback (127.0.0.1)",
        )
