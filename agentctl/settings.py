"""Global options: one registry of flags and environment variables, one resolution.

Precedence is flag > environment > profile > default, decided in `resolve` alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agentctl.errors import UsageError

DEFAULT_BASE_URL = "https://agents.assemblyai.com"
DEFAULT_TIMEOUT = 30.0
# The embedded emulator accepts any well-formed key; this one is used when none is set.
LOCAL_API_KEY = "local-emulator-key"


@dataclass(frozen=True)
class GlobalOption:
    field: str
    flags: tuple[str, ...]
    env: str | None
    takes_value: bool
    help: str


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption("profile", ("--profile", "-p"), "AGENTCTL_PROFILE", True,
                 "a named profile from the config file"),
    GlobalOption("api_key", ("--api-key",), "ASSEMBLYAI_API_KEY", True,
                 "the API key; never echoed, never logged"),
    GlobalOption("base_url", ("--base-url",), "AGENTCTL_BASE_URL", True,
                 "another host (regional, or an emulator)"),
    GlobalOption("local", ("--local",), "AGENTCTL_LOCAL", False,
                 "use the embedded emulator"),
    GlobalOption("timeout", ("--timeout",), "AGENTCTL_TIMEOUT", True,
                 "seconds per request"),
    GlobalOption("ca_cert", ("--ca-cert",), "AGENTCTL_CA_BUNDLE", True,
                 "trust the certificates in this PEM file for https (e.g. emulator serve --tls)"),
    GlobalOption("verbose", ("--verbose", "-v"), None, False,
                 "more detail on stderr"),
    GlobalOption("debug", ("--debug",), None, False,
                 "HTTP traffic (key redacted) and tracebacks on stderr"),
    GlobalOption("no_color", ("--no-color",), "NO_COLOR", False, "plain output"),
)
OTHER_ENV = {
    "AGENTCTL_CONFIG_DIR": "where the config file lives (default: the platform's config dir)",
    "AGENTCTL_DATA_DIR": "where --local keeps its SQLite state (default: the platform's data dir)",
    "AGENTCTL_RETRY_ATTEMPTS": "tries per request, the first included (default 5)",
    "AGENTCTL_RETRY_BASE_DELAY": "seconds before the first retry; doubles each time (default 0.25)",
    "AGENTCTL_RETRY_MAX_DELAY": "the cap on one wait between tries, in seconds (default 8)",
}


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

    def pick(field: str, env_name: str | None, default: Any) -> tuple[Any, str]:
        given = flags.get(field)
        if given is not None and given is not False:  # not `in (None, False)`: 0 == False
            return given, "flag"
        if env_name and env.get(env_name):
            return env[env_name], f"${env_name}"
        if profile.get(field) not in (None, ""):
            return profile[field], f"profile {profile_name!r}"
        return default, "default"

    local_raw, _ = pick("local", "AGENTCTL_LOCAL", False)
    local = local_raw is True or (isinstance(local_raw, str) and env_flag(local_raw))
    base_url, _ = pick("base_url", "AGENTCTL_BASE_URL", DEFAULT_BASE_URL)
    timeout_raw, timeout_src = pick("timeout", "AGENTCTL_TIMEOUT", DEFAULT_TIMEOUT)
    try:
        timeout = float(timeout_raw)
        if not 0 < timeout <= 3600:
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(
            f"invalid timeout {timeout_raw!r} (from {timeout_src}): expected seconds, 0 < t <= 3600"
        ) from None

    api_key, key_source = pick("api_key", "ASSEMBLYAI_API_KEY", None)
    if api_key is None and profile.get("api_key_env"):
        var = str(profile["api_key_env"])
        if env.get(var):
            api_key, key_source = env[var], f"${var} (profile {profile_name!r})"
    if api_key is None and local:
        api_key, key_source = LOCAL_API_KEY, "the emulator's built-in key"
    if api_key is not None:
        check_api_key(str(api_key), key_source)

    ca_cert, ca_source = pick("ca_cert", "AGENTCTL_CA_BUNDLE", None)
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
        no_color=bool(flags.get("no_color")) or "NO_COLOR" in env,
    )


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


def environ() -> Mapping[str, str]:
    return os.environ
