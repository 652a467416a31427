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


# -- declared once -----------------------------------------------------------------------------


def test_the_root_options_are_derived_from_the_registry():
    import typer.main

    from agentctl.cli.app import app

    command = typer.main.get_command(app)
    declared = {p.name: set(p.opts + p.secondary_opts) for p in command.params}
    assert declared.pop("version") == {"--version"}
    assert declared == {o.field: set(o.flags) for o in GLOBAL_OPTIONS}
    helps = {p.name: p.help for p in command.params}
    for option in GLOBAL_OPTIONS:
        assert helps[option.field] == option.help_text()
        if option.env:
            assert f"${option.env}" in helps[option.field]


def test_profile_keys_are_the_options_a_profile_can_set():
    from agentctl.profiles import PROFILE_KEYS

    assert set(PROFILE_KEYS) == {"api_key", "api_key_env", "base_url", "local", "timeout"}
    assert PROFILE_KEYS["timeout"] is float and PROFILE_KEYS["local"] is bool


def test_one_profile_choice_for_commands_and_tab(tmp_path):
    from agentctl.profiles import Config
    from agentctl.settings import for_run

    config = Config(path=tmp_path / "config.toml", current="dev", profiles={
        "dev": {"base_url": "https://dev.example", "api_key": "dev-key"},
        "prod": {"base_url": "https://prod.example", "api_key_env": "PROD_KEY"},
    })
    assert for_run({}, {}, config).base_url == "https://dev.example"
    chosen = for_run({}, {"AGENTCTL_PROFILE": "prod", "PROD_KEY": "p-key"}, config)
    assert (chosen.base_url, chosen.api_key, chosen.profile) == (
        "https://prod.example", "p-key", "prod")
    with pytest.raises(UsageError, match="no profile named 'qa'"):
        for_run({"profile": "qa"}, {}, config)


# -- the environment object --------------------------------------------------------------------


def test_main_runs_on_the_environment_it_is_given_and_scrubs_its_secrets(tmp_path):
    """Streams, variables and the secrets to scrub all come from the Environment: nothing
    from os.environ or sys.stdout (which the test leaves alone)."""
    import io

    from agentctl.cli import main
    from agentctl.settings import Environment

    key = "zz-secret-key-9"
    out, err = io.StringIO(), io.StringIO()
    env = Environment(io.StringIO(), out, err, {
        "ASSEMBLYAI_API_KEY": key, "AGENTCTL_BASE_URL": f"http://{key}.example",
        "AGENTCTL_CONFIG_DIR": str(tmp_path),
    })
    assert main(["list"], env=env) == 2
    assert out.getvalue() == ""
    assert err.getvalue() == "error: refusing to send the API key over plain http to ***.example\n" \
        "hint: use https, or http only for an emulator on loopback (127.0.0.1)\n"
    assert key in env.secrets.ordered  # the run's secrets live on its Environment
    version = io.StringIO()
    assert main(["--version"], env=Environment(io.StringIO(), version, err, {})) == 0
    assert version.getvalue().startswith("agentctl ")
