"""Secrets never leave agentctl: every command, at --debug, with a known key, known tool
header values and a known LLM key, and not one of them in any byte of stdout or stderr.
And the key is never sent in the clear: plain http only to loopback, from any entry point.
"""

from __future__ import annotations

import functools
import stat
from pathlib import Path

import pytest

from agentctl.emulator import server
from tests.conftest import run_cli

KEY = "sk-KNOWN-KEY-0123456789abcdef"
KEY2 = "sk-OTHER-KEY-9876543210fedcba"
HEADER = "hdr-SECRET-value-4242"
HEADER2 = "hdr-SECRET-second-9999"
LLM = "llm-SECRET-key-7777"
SECRETS = (KEY, KEY2, HEADER, HEADER2, LLM)

SPEC = """\
name: {name}
system_prompt: {prompt}
voice: {{voice_id: ivy}}
tools:
  - name: lookup
    description: Look things up.
    parameters: {{type: object, properties: {{q: {{type: string}}}}}}
    http:
      url: https://api.example.com/lookup
      http_method: POST
      headers:
        - name: Authorization
          value: "Bearer ${{HDR}}"
        - name: X-Raw
          value: "${{HDR}}"
llm:
  - base_url: https://llm.example.com/v1
    model: some-model
    api_key: "${{LLM_KEY}}"
"""


@functools.cache
def has_command(name: str) -> bool:
    return run_cli(name, "--help", exit_code=None).code == 0


def assert_no_secret(result) -> None:
    output = (result.stdout + result.stderr).encode("utf-8", "surrogateescape")
    for secret in SECRETS:
        for needle in (secret, secret[4:-4]):  # whole, or a recognisable middle part
            assert needle.encode() not in output, f"{needle!r} leaked:\n{result}"
    assert "internal error" not in result.stderr, str(result)


@pytest.fixture
def world(clean_emulator, tmp_path, monkeypatch, write):
    """An emulator holding `alpha` (with secret headers and LLM key), spec files, env."""
    emulator = clean_emulator
    monkeypatch.setenv("AGENTCTL_BASE_URL", emulator.base_url)
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    monkeypatch.setenv("HDR", HEADER)
    monkeypatch.setenv("LLM_KEY", LLM)
    paths = {
        "alpha": write("alpha.yaml", SPEC.format(name="alpha", prompt="You help.")),
        "alpha2": write("alpha2.yaml", SPEC.format(name="alpha", prompt="You help more.")),
        "beta": write("beta.yaml", SPEC.format(name="beta", prompt="You help.")),
        "dir": str(tmp_path / "exports"),
        "env": write("vars.env", f"HDR={HEADER2}\n"),
    }
    run_cli("create", "-f", paths["alpha"])
    stored = emulator.store.list_agents()
    assert len(stored) == 1
    return paths


COMMANDS = [
    (["create", "-f", "{beta}"], 0),
    (["create", "-f", "{beta}", "--dry-run"], 0),
    (["create", "-f", "{beta}", "--dry-run", "-o", "json"], 0),
    (["create", "-f", "{beta}", "-o", "yaml"], 0),
    (["create", "-f", "{alpha}"], 6),
    (["list"], 0),
    (["list", "-o", "wide"], 0),
    (["list", "-o", "json"], 0),
    (["list", "-o", "yaml"], 0),
    (["get", "alpha"], 0),
    (["get", "alpha", "-o", "json"], 0),
    (["get", "alpha", "-o", "yaml"], 0),
    (["get", "alpha", "--export"], 0),
    (["get", "alpha", "--export", "-o", "json"], 0),
    (["get", "alpha", "--save", "{dir}"], 0),
    (["get", "nobody"], 5),
    (["update", "alpha", "--set", "greeting=Hi"], 0),
    (["update", "alpha", "--set", f"tools[0].http.headers[0].value={HEADER2}"], 0),
    (["update", "alpha", "--set", f"llm[0].api_key={HEADER2}", "--dry-run"], 0),
    (["update", "alpha", "-f", "{alpha2}", "--dry-run"], 0),
    (["update", "alpha", "-f", "{alpha2}", "--env-file", "{env}"], 0),
    (["update", "alpha", "-f", "{alpha2}", "-o", "json"], 0),
    (["delete", "alpha", "--yes"], 0),
    (["validate", "-f", "{alpha}"], 0),
    (["validate", "-f", "{alpha}", "-o", "json"], 0),
    (["diff", "-f", "{alpha2}"], 1),
    (["diff", "-f", "{alpha2}", "--env-file", "{env}", "-o", "json"], 1),
    (["apply", "-f", "{alpha2}", "--dry-run"], 0),
    (["apply", "-f", "{alpha2}", "-f", "{beta}"], 0),
    (["apply", "-f", "{alpha2}", "-o", "yaml"], 0),
]


@pytest.mark.parametrize("key_via", ["env", "flag"])
@pytest.mark.parametrize(("command", "code"), COMMANDS, ids=lambda c: " ".join(c)
                         if isinstance(c, list) else str(c))
def test_no_command_prints_a_secret(world, monkeypatch, command, code, key_via):
    if not has_command(command[0]):
        pytest.skip(f"{command[0]} is not there yet")
    args = [a.format(**world) for a in command]
    if key_via == "flag":
        monkeypatch.delenv("ASSEMBLYAI_API_KEY")
        args = ["--api-key", KEY, *args]
    result = run_cli("--debug", *args, exit_code=code)
    assert_no_secret(result)
    assert "> GET" in result.stderr or "--dry-run" in args or command[0] == "validate"


def test_saved_exports_hold_no_secret(world):
    run_cli("get", "alpha", "--save", world["dir"])
    (saved_file,) = Path(world["dir"]).iterdir()
    saved = saved_file.read_text(encoding="utf-8")
    assert all(secret not in saved for secret in SECRETS)
    assert "${" in saved


def test_the_wide_listing_cache_holds_no_secret(world):
    from agentctl.settings import cache_dir

    run_cli("list", "-o", "wide")
    files = [p for p in cache_dir().rglob("*") if p.is_file()]
    assert any(p.parent.name == "records" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            for needle in (secret, secret[4:-4]):
                assert needle.encode() not in data, f"{needle!r} in {path}"


def test_rejected_key_is_not_echoed(tmp_path, monkeypatch):
    with server.start(port=0, db_path=tmp_path / "r.sqlite3", api_keys=["only-this-key"]) as em:
        monkeypatch.setenv("AGENTCTL_BASE_URL", em.base_url)
        for args in (["--api-key", KEY, "list"], ["--api-key", KEY, "--debug", "get", "x"]):
            result = run_cli(*args, exit_code=4)
            assert_no_secret(result)
            assert "authentication failed (401" in result.stderr


def test_promote_between_accounts_prints_no_secret(world, clean_emulator, tmp_path,
                                                   monkeypatch):
    emulator = clean_emulator
    if not has_command("promote"):
        pytest.skip("promote is not there yet")
    with server.start(port=0, db_path=tmp_path / "prod.sqlite3") as prod:
        monkeypatch.setenv("SRC_KEY", KEY)
        monkeypatch.setenv("DST_KEY", KEY2)
        monkeypatch.delenv("ASSEMBLYAI_API_KEY")
        monkeypatch.delenv("AGENTCTL_BASE_URL")
        for name, em, var in (("staging", emulator, "SRC_KEY"), ("prod", prod, "DST_KEY")):
            run_cli("config", "set", "base_url", em.base_url, "--profile", name)
            run_cli("config", "set", "api_key_env", var, "--profile", name)
        for extra in (["--dry-run"], []):
            result = run_cli("--debug", "promote", "alpha", "--from", "staging", "--to", "prod",
                             *extra, exit_code=None)
            assert result.code in (0, 3), str(result)
            assert_no_secret(result)


def test_a_debug_traceback_is_scrubbed_too(world, monkeypatch):
    """Even an unexpected failure whose text holds the key never prints it."""
    from agentctl.api.client import AgentsAPI

    def broken(self, *args, **kwargs):
        raise RuntimeError(f"boom with {KEY} inside")

    monkeypatch.setattr(AgentsAPI, "agent_pages", broken)
    for args in (["list"], ["--debug", "list"], ["--api-key", KEY, "--debug", "list"]):
        result = run_cli(*args, exit_code=1)
        output = result.stdout + result.stderr
        assert KEY not in output and "boom with *** inside" in output


def test_stored_key_never_shown_by_config_commands(isolated):
    run_cli("config", "set", "api_key", "-", "--profile", "prod", stdin=f"{KEY}\n")
    run_cli("config", "use", "prod")
    for args in (["config", "list"], ["config", "show"], ["config", "show", "prod", "-o", "json"],
                 ["config", "list", "-o", "yaml"], ["--debug", "config", "show", "prod"]):
        assert_no_secret(run_cli(*args))


# -- the key in the clear ---------------------------------------------------------------------
REMOTE_HTTP = ["http://example.com", "http://10.0.0.5:8080", "http://127.0.0.1.nip.io",
               "http://0.0.0.0:8765", "HTTP://EXAMPLE.COM", "http://[2001:db8::1]"]


@pytest.mark.parametrize("url", REMOTE_HTTP)
@pytest.mark.parametrize("entry", ["flag", "env", "profile", "profile-env"])
def test_the_key_is_never_sent_over_plain_http_to_a_remote_host(isolated, monkeypatch, url,
                                                                  entry):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    args = ["list"]
    if entry == "flag":
        args = ["--base-url", url, "list"]
    elif entry == "env":
        monkeypatch.setenv("AGENTCTL_BASE_URL", url)
    else:  # a hand-written config file: `config set` itself refuses such a URL
        config = isolated / "config" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'current_profile = "p"\n[profiles.p]\nbase_url = "{url}"\n')
        if entry == "profile-env":
            monkeypatch.setenv("AGENTCTL_PROFILE", "p")
    result = run_cli(*args, exit_code=2)
    assert "refusing to send the API key over plain http" in result.stderr
    assert_no_secret(result)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9",
                                 "http://127.9.9.9:9", "http://dev.localhost:9"])
def test_plain_http_to_loopback_is_allowed(monkeypatch, url, fast_retries_env):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", KEY)
    result = run_cli("--base-url", url, "list", exit_code=7)  # allowed: nobody listens there
    assert "cannot connect" in result.stderr
    assert_no_secret(result)


def test_config_set_refuses_a_remote_http_base_url(isolated):
    result = run_cli("config", "set", "base_url", "http://example.com", "--profile", "p",
                     exit_code=2)
    assert "plain http" in result.stderr
    assert not (isolated / "config" / "config.toml").exists()


@pytest.fixture
def fast_retries_env(monkeypatch):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("AGENTCTL_RETRY_BASE_DELAY", "0.001")


@pytest.mark.parametrize("bad", [f"{KEY}\n", f" {KEY}", f"{KEY[:6]}é{KEY[6:]}",
                                 f"{KEY[:6]}\x00{KEY[6:]}", f"{KEY[:6]} {KEY[6:]}"])
@pytest.mark.parametrize("via", ["flag", "env"])
def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it(clean_emulator,
                                                                       monkeypatch, bad, via):
    monkeypatch.setenv("AGENTCTL_BASE_URL", clean_emulator.base_url)
    if "\x00" in bad and via == "env":
        pytest.skip("the environment cannot hold NUL")
    if via == "env":
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", bad)
        result = run_cli("list", exit_code=2)
    else:
        result = run_cli("--api-key", bad, "list", exit_code=2)
    assert "contains spaces, control or non-ASCII characters" in result.stderr
    assert_no_secret(result)
    assert clean_emulator.requests == []


# -- config file modes ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_a_key_file_readable_by_others_is_warned_about_by_every_command(isolated, mode,
                                                                        clean_emulator):
    run_cli("config", "set", "api_key", "-", "--profile", "prod", stdin=f"{KEY}\n")
    run_cli("config", "set", "base_url", clean_emulator.base_url, "--profile", "prod")
    path = isolated / "config" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(mode)
    for args in (["config", "list"], ["--profile", "prod", "list"]):
        result = run_cli(*args)
        assert f"holds an API key but is readable by others (mode {mode:o})" in result.stderr
        assert_no_secret(result)
    run_cli("config", "set", "timeout", "10", "--profile", "prod")  # any write fixes the mode
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_config_file_without_a_key_is_not_warned_about(isolated):
    run_cli("config", "set", "api_key_env", "MY_KEY", "--profile", "prod")
    path = isolated / "config" / "config.toml"
    path.chmod(0o644)
    assert "readable by others" not in run_cli("config", "list").stderr
