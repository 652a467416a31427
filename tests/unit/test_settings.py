"""Global options: hoisting, precedence, the README's table against the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentctl.cli import hoist_global_flags
from agentctl.errors import UsageError
from agentctl.settings import DEFAULT_BASE_URL, GLOBAL_OPTIONS, LOCAL_API_KEY, resolve


@pytest.mark.parametrize(("argv", "expected"), [
    (["list", "--profile", "prod"], ["--profile", "prod", "list"]),
    (["list", "-p", "prod", "-o", "json"], ["-p", "prod", "list", "-o", "json"]),
    (["get", "x", "--base-url=http://127.0.0.1:1", "--debug"],
     ["--base-url=http://127.0.0.1:1", "--debug", "get", "x"]),
    (["create", "-f", "a.yaml", "--local"], ["--local", "create", "-f", "a.yaml"]),
    (["get", "--", "--local"], ["get", "--", "--local"]),  # after -- it is an argument
    (["list", "--timeout"], ["list", "--timeout"]),  # a value flag without value stays put
    (["--api-key", "k", "list"], ["--api-key", "k", "list"]),
])
def test_hoist_global_flags(argv, expected):
    assert hoist_global_flags(argv) == expected


def test_precedence_flag_over_env_over_profile_over_default():
    profile = {"base_url": "https://profile.example", "timeout": 5, "api_key": "from-profile"}
    env = {"AGENTCTL_BASE_URL": "https://env.example", "ASSEMBLYAI_API_KEY": "from-env"}
    flags = {"base_url": "https://flag.example"}
    s = resolve(flags, env, profile, "p")
    assert (s.base_url, s.api_key, s.timeout) == ("https://flag.example", "from-env", 5.0)
    s = resolve({}, {}, profile, "p")
    assert (s.base_url, s.api_key) == ("https://profile.example", "from-profile")
    s = resolve({}, {}, {}, None)
    assert (s.base_url, s.api_key, s.timeout) == (DEFAULT_BASE_URL, None, 30.0)


def test_profile_key_from_a_named_variable():
    s = resolve({}, {"PROD_KEY": "k-prod"}, {"api_key_env": "PROD_KEY"}, "prod")
    assert s.api_key == "k-prod" and "PROD_KEY" in s.key_source


def test_local_supplies_a_key_and_accepts_env_flag():
    s = resolve({}, {"AGENTCTL_LOCAL": "1"}, {}, None)
    assert s.local and s.api_key == LOCAL_API_KEY


@pytest.mark.parametrize("url", ["http://agents.example.com", "ftp://x", "http://10.0.0.5"])
def test_key_never_over_plain_http_to_a_remote_host(url):
    with pytest.raises(UsageError):
        resolve({"base_url": url}, {}, {}, None)


def test_bad_timeout_is_a_usage_error():
    with pytest.raises(UsageError, match="timeout"):
        resolve({}, {"AGENTCTL_TIMEOUT": "soon"}, {}, None)


def test_readme_global_options_table_matches_the_registry():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Global options", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| `")]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        flags = re.findall(r"--[a-z-]+|-[a-z]\b", cells[0])
        documented[tuple(flags)] = cells[1].strip("`") or None
    registry = {o.flags: o.env for o in GLOBAL_OPTIONS}
    assert documented == registry


def test_emulator_serve_keeps_its_own_api_key_option():
    argv = ["emulator", "serve", "--api-key", "k1", "--api-key", "k2", "--debug"]
    assert hoist_global_flags(argv) == ["--debug", "emulator", "serve", "--api-key", "k1",
                                        "--api-key", "k2"]
    assert hoist_global_flags(["--api-key", "k", "emulator", "serve"]) == [
        "--api-key", "k", "emulator", "serve"]
