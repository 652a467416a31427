"""Issue 13, items 2 and 3: secrets that reach output through variables, and terminal
control sequences in text from the server or a spec file.

The real CLI against the real emulator: a spec field filled from `${ASSEMBLYAI_API_KEY}`
(or any variable whose name says secret, or one used at a write-only path) never appears
in any output mode; control characters are escaped in every human mode, and JSON/YAML
escape them by their own rules.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import TEST_KEY

CI_TOKEN = "ci-TOKEN-value-31415926"
HDR = "hdr-value-used-at-a-header-2718"

LEAKY = """\
name: leaky
system_prompt: "Say ${{CI_DEPLOY_TOKEN}} and ${{HDR}}."
greeting: "Key is ${{ASSEMBLYAI_API_KEY}}"
voice: {{voice_id: ivy}}
tools:
  - name: lookup
    description: Look things up.
    parameters: {{type: object, properties: {{}}}}
    http:
      url: https://api.example.com/lookup
      headers:
        - name: Authorization
          value: "Bearer ${{HDR}}"
"""


@pytest.fixture
def leaky(api_env, write, monkeypatch):
    monkeypatch.setenv("CI_DEPLOY_TOKEN", CI_TOKEN)
    monkeypatch.setenv("HDR", HDR)
    return write("leaky.yaml", LEAKY.format())


def _clean(result, *, spec_read: bool = True) -> None:
    """`spec_read`: the run read the spec, so it knows HDR fills a header (a run that
    reads no spec knows secrets by their variables' names only)."""
    text = result.stdout + result.stderr
    for secret in (TEST_KEY, CI_TOKEN, HDR) if spec_read else (TEST_KEY, CI_TOKEN):
        assert secret not in text, f"{secret!r} leaked:\n{result}"
    assert "internal error" not in result.stderr, str(result)


def test_secret_variables_never_printed(leaky, cli):
    _clean(cli("create", "-f", leaky, "--dry-run"))
    _clean(cli("create", "-f", leaky, "--dry-run", "-o", "json"))
    _clean(cli("diff", "-f", leaky, exit_code=1))
    _clean(cli("apply", "-f", leaky, "-o", "json"))
    _clean(cli("apply", "-f", leaky, "-o", "yaml"))
    _clean(cli("diff", "-f", leaky, "-o", "json"))
    _clean(cli("get", "leaky"), spec_read=False)
    _clean(cli("get", "leaky", "-o", "json"), spec_read=False)
    _clean(cli("get", "leaky", "--export"), spec_read=False)
    _clean(cli("list", "-o", "wide"), spec_read=False)
    # A server that echoes the value back (here: the greeting itself) is masked too.
    shown = cli("get", "leaky", "-o", "json").stdout
    assert json.loads(shown)["greeting"] == "Key is ***"


def test_validate_warns_where_a_secret_fills_a_plain_field(leaky, cli):
    loose = cli("validate", "-f", leaky)
    assert "secret variable ASSEMBLYAI_API_KEY fills a field that is not write-only" in (
        loose.stdout)
    assert "CI_DEPLOY_TOKEN" in loose.stdout and "system_prompt" in loose.stdout
    cli("validate", "--strict", "-f", leaky, exit_code=3)
    _clean(loose)


def test_empty_variable_at_a_write_only_path_is_refused(api_env, write, tmp_path, cli):
    """Issue 16 item 7: `cp .env.example .env` with the values left blank."""
    spec = write("blank.yaml", LEAKY.format().replace("${ASSEMBLYAI_API_KEY}", "hi").replace(
        "${CI_DEPLOY_TOKEN}", "x"))
    env = write(".env", "HDR=\n")
    result = cli("apply", "-f", spec, "--env-file", env, exit_code=3)
    assert "HDR is empty" in result.stderr and "tools[0].http.headers[0].value" in (
        result.stderr)
    assert cli("list", "-o", "name").stdout == ""  # nothing was written
    checked = cli("validate", "--strict", "-f", spec, "--env-file", env, exit_code=3)
    assert "HDR is empty" in checked.stdout


ESC = "\x1b[2J\x1b]0;pwned\x07"


@pytest.fixture
def hostile(api_env, cli, write):
    spec = write("hostile.json", json.dumps({
        "name": f"evil{ESC}name", "system_prompt": f"line one\nline{ESC}two",
        "greeting": f"hi{ESC}\u202eeht", "voice": {"voice_id": "ivy"},
    }))
    cli("create", "-f", spec)
    return spec


def _no_raw_controls(text: str) -> None:
    """None of the hostile sequences raw (on a terminal, colour codes of our own are fine)."""
    for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\u202e"):
        assert raw not in text, repr(text)


@pytest.mark.parametrize("tty", [False, True])
def test_control_characters_escaped_in_human_modes(hostile, cli, tty):
    for args in (["list"], ["list", "-o", "wide"], ["list", "-o", "name"],
                 ["get", "evil\x1b[2J\x1b]0;pwned\x07name"],
                 ["diff", "-f", hostile], ["create", "-f", hostile, "--dry-run"]):
        result = cli(*args, tty=tty, exit_code=None)
        assert result.code in (0, 1), str(result)
        _no_raw_controls(result.stdout + result.stderr)
    listed = cli("list", "-o", "name", tty=tty).stdout
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07name" in listed


def test_control_characters_escaped_in_error_lines(api_env, cli):
    result = cli("get", f"no{ESC}such", exit_code=5)
    _no_raw_controls(result.stderr)
    assert "no\\x1b[2J" in result.stderr


def test_json_and_yaml_escape_by_their_rules(hostile, cli):
    as_json = cli("get", "-o", "json", f"evil{ESC}name").stdout
    _no_raw_controls(as_json)
    assert json.loads(as_json)["greeting"] == f"hi{ESC}\u202eeht"
    as_yaml = cli("get", "-o", "yaml", f"evil{ESC}name").stdout
    assert "\x1b" not in as_yaml and "\x07" not in as_yaml
    assert yaml.safe_load(as_yaml)["name"] == f"evil{ESC}name"


def test_completion_never_offers_raw_control_characters():
    from agentctl.cli.tab import candidates

    items = candidates([("id-1", f"evil{ESC}"), ("id-2", "plain"), (f"id{ESC}", "x")], "")
    assert ("plain", "id-2") in items
    assert ("id-1", "evil\\x1b[2J\\x1b]0;pwned\\x07") in items  # the id, help escaped
    for value, help_text in items:
        _no_raw_controls(value + help_text)
