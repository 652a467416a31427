"""create / list / get / update / delete: the real CLI against the real emulator."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import SUPPORT_YAML, TEST_KEY, agent_yaml, run_cli

pytestmark = pytest.mark.usefixtures("api_env")
SECRET = "Bearer s3cret-weather-value"


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PUT", "DELETE")]


def create_support(write, monkeypatch) -> dict:
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather-value")
    path = write("support.yaml", SUPPORT_YAML)
    return json.loads(run_cli("create", "-f", path, "-o", "json").stdout)


# -- create ------------------------------------------------------------------------------
def test_create_substitutes_the_secret_and_never_prints_it(api_env, write, monkeypatch):
    record = create_support(write, monkeypatch)
    stored = api_env.store.get_agent(record["id"])
    assert stored["tools"][0]["http"]["headers"][0]["value"] == SECRET
    assert "value" not in record["tools"][0]["http"]["headers"][0]
    shown = run_cli("get", "Support Assistant", "-o", "yaml")
    assert "s3cret" not in shown.stdout + shown.stderr
    header = yaml.safe_load(shown.stdout)["tools"][0]["http"]["headers"][0]
    assert set(header) == {"name", "last_set_at"}


def test_create_table_mode_reports_on_stdout(write):
    result = run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    assert result.stdout.startswith("created agent 'alpha' (")
    assert result.stderr == ""


def test_create_machine_modes_keep_stdout_clean(api_env, write):
    result = run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")), "-o", "id")
    ids = result.stdout.split()
    assert len(ids) == 1 and api_env.store.get_agent(ids[0])["name"] == "alpha"
    assert "created agent 'alpha'" in result.stderr


def test_missing_variable_is_a_spec_error_and_sends_nothing(api_env, write):
    path = write("support.yaml", SUPPORT_YAML)
    result = run_cli("create", "-f", path, exit_code=3)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {path}:21:")
    assert "WEATHER_KEY" in first
    assert "Traceback" not in result.stderr
    assert writes(api_env) == []


def test_env_file_supplies_variables(api_env, write):
    env = write("vars.env", "WEATHER_KEY=from-env-file\n")
    path = write("support.yaml", SUPPORT_YAML)
    record = json.loads(run_cli("create", "-f", path, "--env-file", env, "-o", "json").stdout)
    stored = api_env.store.get_agent(record["id"])
    assert stored["tools"][0]["http"]["headers"][0]["value"] == "Bearer from-env-file"


def test_create_refuses_an_existing_name(api_env, write):
    path = write("a.yaml", agent_yaml("alpha"))
    run_cli("create", "-f", path)
    result = run_cli("create", "-f", path, exit_code=6)
    assert "already exists" in result.stderr
    assert api_env.store.count_agents() == 1
    run_cli("create", "-f", path, "--allow-duplicate-name")
    assert api_env.store.count_agents() == 2


def test_create_multi_document_directory_and_stdin(api_env, write, tmp_path):
    write("dir/a.yaml", agent_yaml("a1") + "---\n" + agent_yaml("a2"))
    write("dir/b.json", json.dumps({"name": "b1", "system_prompt": "p", "voice": {"voice_id": "ivy"}}))
    run_cli("create", "-f", str(tmp_path / "dir"))
    run_cli("create", "-f", "-", stdin=agent_yaml("from-stdin"))
    names = sorted(a["name"] for a in api_env.store.list_agents())
    assert names == ["a1", "a2", "b1", "from-stdin"]


def test_dry_run_prints_masked_bodies_without_a_key_or_a_request(api_env, write, monkeypatch):
    monkeypatch.delenv("ASSEMBLYAI_API_KEY")
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather-value")
    result = run_cli("create", "-f", write("s.yaml", SUPPORT_YAML), "--dry-run")
    body = yaml.safe_load(result.stdout)
    assert body["name"] == "Support Assistant"
    assert body["tools"][0]["http"]["headers"][0]["value"] == "***"
    assert "s3cret" not in result.stdout + result.stderr
    assert api_env.requests == []


def test_schema_violation_names_file_line_and_field(api_env, write):
    path = write("bad.yaml", agent_yaml("x") + "tools:\n  - name: t\n    description: d\n"
                 "    http:\n      url: http://api.example.com\n")
    result = run_cli("create", "-f", path, exit_code=3)
    assert result.stderr.splitlines()[0] == (
        f"error: {path}:9: tools[0].http.url: must be an https URL"
    )
    assert writes(api_env) == []


def test_bad_yaml_is_exit_3_with_a_line(write):
    path = write("broken.yaml", "name: [unclosed\nvoice: x\n")
    result = run_cli("create", "-f", path, exit_code=3)
    assert result.stderr.startswith(f"error: {path}:")
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


def test_read_only_fields_are_ignored_with_a_warning(api_env, write):
    path = write("a.yaml", "id: 123\ncreated_at: x\n" + agent_yaml("alpha"))
    result = run_cli("create", "-f", path)
    assert "read-only" in result.stderr and "id" in result.stderr
    assert api_env.store.count_agents() == 1


# -- list --------------------------------------------------------------------------------
@pytest.fixture
def three(api_env, write):
    for name in ("support-b", "support-a", "sales"):
        run_cli("create", "-f", write(f"{name}.yaml", agent_yaml(name)))
    return api_env


def test_list_piped_is_plain_columns_newest_first(three):
    result = run_cli("list")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "CREATED", "UPDATED"]
    assert [line.split()[0] for line in lines[1:]] == ["sales", "support-a", "support-b"]
    assert not set("─│┃━╭") & set(result.stdout)
    assert "\x1b[" not in result.stdout


def test_list_on_a_terminal_draws_a_table(three):
    result = run_cli("list", tty=True)
    assert "─" in result.stdout and "support-a" in result.stdout


def test_list_filters_sorts_and_limits(three):
    assert run_cli("list", "--name", "support-*", "-o", "name").stdout.split() == [
        "support-a", "support-b"]
    assert run_cli("list", "--sort", "name", "-o", "name").stdout.split() == [
        "sales", "support-a", "support-b"]
    assert run_cli("list", "--limit", "1", "-o", "name").stdout.split() == ["sales"]


def test_list_json_and_ids_for_scripts(three):
    items = json.loads(run_cli("list", "-o", "json").stdout)
    assert [set(i) for i in items] == [{"id", "name", "created_at", "updated_at"}] * 3
    ids = run_cli("list", "-o", "id").stdout.split()
    assert ids == [i["id"] for i in items]


def test_list_wide_shows_voice_and_tools(api_env, write, monkeypatch):
    create_support(write, monkeypatch)
    result = run_cli("list", "-o", "wide")
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:4] == ["NAME", "ID", "VOICE", "TOOLS"]
    assert " ivy " in row and " 1 " in row


# -- get ---------------------------------------------------------------------------------
def test_get_summary_by_name_and_by_id(api_env, write, monkeypatch):
    record = create_support(write, monkeypatch)
    by_name = run_cli("get", "Support Assistant").stdout
    assert "Voice:" in by_name and "ivy" in by_name
    assert "get_weather: http GET https://api.example.com/weather" in by_name
    assert "Authorization=***" in by_name
    assert run_cli("get", record["id"]).stdout == by_name


def test_get_json_is_the_full_masked_record(api_env, write, monkeypatch):
    record = create_support(write, monkeypatch)
    got = json.loads(run_cli("get", record["id"], "-o", "json").stdout)
    assert got["id"] == record["id"]
    assert got["system_prompt"].startswith("You are a friendly")
    assert got["tools"][0]["http"]["headers"] == [
        {"name": "Authorization", "last_set_at": got["updated_at"]}]
    assert list(got)[:2] == ["id", "name"]


def test_get_unknown_is_exit_5(api_env):
    result = run_cli("get", "nobody", exit_code=5)
    assert result.stderr.startswith("error: no agent with id or name 'nobody'")


def test_ambiguous_name_is_exit_6_listing_ids(api_env, write):
    path = write("a.yaml", agent_yaml("twin"))
    first = run_cli("create", "-f", path, "-o", "id").stdout.strip()
    second = run_cli("create", "-f", path, "--allow-duplicate-name", "-o", "id").stdout.strip()
    result = run_cli("get", "twin", exit_code=6)
    assert first in result.stderr and second in result.stderr


# -- update ------------------------------------------------------------------------------
def test_update_set_shows_a_diff_and_sends_only_changes(api_env, write, monkeypatch):
    record = create_support(write, monkeypatch)
    api_env.requests.clear()
    result = run_cli("update", "Support Assistant", "--set", "greeting=Hello!",
                     "--set", "output.volume=80")
    assert '~ greeting: "Hi, how can I help?" -> "Hello!"' in result.stdout
    assert "+ output.volume: 80" in result.stdout
    assert [r["method"] for r in writes(api_env)] == ["PUT"]
    stored = api_env.store.get_agent(record["id"])
    assert stored["greeting"] == "Hello!" and stored["output"]["volume"] == 80
    assert stored["tools"][0]["http"]["headers"][0]["value"] == SECRET  # untouched


def test_update_file_prompt_shows_a_line_diff(api_env, write, monkeypatch):
    record = create_support(write, monkeypatch)
    changed = SUPPORT_YAML.replace("Keep responses under two sentences.", "Be brief.")
    result = run_cli("update", record["id"], "-f", write("new.yaml", changed))
    assert "~ system_prompt:" in result.stdout
    assert "-Keep responses under two sentences." in result.stdout.replace("    ", "")
    assert "+Be brief." in result.stdout.replace("    ", "")
    assert api_env.store.get_agent(record["id"])["system_prompt"].endswith("Be brief.\n")
    assert api_env.store.get_agent(record["id"])["tools"][0]["http"]["headers"][0]["value"] == SECRET


def test_update_with_no_changes_succeeds_without_writing(api_env, write, monkeypatch):
    create_support(write, monkeypatch)
    api_env.requests.clear()
    result = run_cli("update", "Support Assistant", "-f", write("same.yaml", SUPPORT_YAML))
    assert "no changes" in result.stdout
    assert writes(api_env) == []


def test_get_yaml_feeds_back_into_update_as_no_change(api_env, write, monkeypatch):
    create_support(write, monkeypatch)
    exported = run_cli("get", "Support Assistant", "-o", "yaml").stdout
    api_env.requests.clear()
    result = run_cli("update", "Support Assistant", "-f", write("round.yaml", exported))
    assert "no changes" in result.stdout, str(result)
    assert writes(api_env) == []


def test_update_dry_run_sends_nothing(api_env, write):
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    api_env.requests.clear()
    result = run_cli("update", "alpha", "--set", "system_prompt=New", "--dry-run")
    assert '~ system_prompt: "You help." -> "New"' in result.stdout
    assert writes(api_env) == []


def test_update_forbidden_value_is_a_spec_error_before_any_request(api_env, write):
    # Checked locally against the schema (issue 13): exit 3, no diff, no 422.
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    result = run_cli("update", "alpha", "--set", "output.volume=300", exit_code=3)
    assert "output.volume" in result.stderr and "100" in result.stderr


def test_update_needs_file_or_set(api_env, write):
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    assert "either -f" in run_cli("update", "alpha", exit_code=2).stderr


# -- delete ------------------------------------------------------------------------------
def test_delete_off_a_tty_requires_yes(api_env, write):
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    result = run_cli("delete", "alpha", exit_code=2)
    assert "--yes" in result.stderr
    assert api_env.store.count_agents() == 1
    run_cli("delete", "alpha", "--yes")
    assert api_env.store.count_agents() == 0


def test_delete_asks_on_a_tty(api_env, write):
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    run_cli("delete", "alpha", tty=True, stdin="n\n", exit_code=2)
    assert api_env.store.count_agents() == 1
    result = run_cli("delete", "alpha", tty=True, stdin="y\n")
    assert "Delete 1 agent(s): 'alpha'" in result.stderr
    assert api_env.store.count_agents() == 0


def test_delete_not_found(api_env):
    run_cli("delete", "ghost", "--yes", exit_code=5)
    run_cli("delete", "ghost", "--yes", "--ignore-not-found")


# -- errors, auth, transport ---------------------------------------------------------------
def test_no_key_is_exit_4(api_env, monkeypatch):
    monkeypatch.delenv("ASSEMBLYAI_API_KEY")
    result = run_cli("list", exit_code=4)
    assert result.stderr.startswith("error: no API key")


def test_rejected_key_is_exit_4_and_never_echoed(tmp_path, monkeypatch):
    from agentctl.emulator import server

    with server.start(port=0, db_path=tmp_path / "k.sqlite3", api_keys={"the-right-key"}) as emu:
        monkeypatch.setenv("AGENTCTL_BASE_URL", emu.base_url)
        result = run_cli("list", "--api-key", "wrong-key-value", exit_code=4)
        assert "401" in result.stderr
        assert "wrong-key-value" not in result.stdout + result.stderr
        run_cli("list", "--api-key", "the-right-key")


def test_unreachable_host_is_exit_7_one_line(monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    result = run_cli("list", "--base-url", f"http://127.0.0.1:{port}", "--timeout", "2",
                     exit_code=7)
    assert result.stderr.splitlines()[0].startswith("error: list agents: cannot connect to")
    assert "Traceback" not in result.stderr


def test_global_flags_work_after_the_subcommand(api_env, monkeypatch, write):
    monkeypatch.delenv("ASSEMBLYAI_API_KEY")
    monkeypatch.delenv("AGENTCTL_BASE_URL")
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")),
            "--api-key", TEST_KEY, "--base-url", api_env.base_url)
    result = run_cli("list", "-o", "name", f"--base-url={api_env.base_url}", "--api-key", TEST_KEY)
    assert result.stdout.split() == ["alpha"]


def test_unknown_option_is_exit_2_one_line():
    result = run_cli("list", "--bogus", exit_code=2)
    assert result.stderr.startswith("error: No such option: --bogus")


def test_debug_never_shows_the_key(api_env, write, monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather-value")
    result = run_cli("--debug", "create", "-f", write("s.yaml", SUPPORT_YAML))
    result2 = run_cli("--debug", "get", "Support Assistant", "-o", "json")
    everything = result.stdout + result.stderr + result2.stdout + result2.stderr
    assert "> POST" in result.stderr  # the debug log is there...
    assert TEST_KEY not in everything and "s3cret" not in everything  # ...without secrets


def test_plain_http_to_a_remote_host_is_refused(monkeypatch):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    result = run_cli("list", "--base-url", "http://agents.example.com", exit_code=2)
    assert "plain http" in result.stderr


# -- colour --------------------------------------------------------------------------------
def test_diff_is_coloured_on_a_terminal_only(api_env, write, monkeypatch):
    run_cli("create", "-f", write("a.yaml", agent_yaml("alpha")))
    args = ("update", "alpha", "--set", "system_prompt=New", "--dry-run")
    on_tty = run_cli(*args, tty=True).stdout
    assert "\x1b[33m" in on_tty and "system_prompt" in on_tty  # yellow "~" line
    assert "\x1b[" not in run_cli(*args).stdout  # piped
    assert "\x1b[" not in run_cli(*args, "--no-color", tty=True).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run_cli(*args, tty=True).stdout


def test_create_refuses_the_same_name_twice_in_the_files(api_env, write):
    path = write("two.yaml", agent_yaml("twin") + "---\n" + agent_yaml("twin"))
    result = run_cli("create", "-f", path, exit_code=6)
    assert "--allow-duplicate-name" in result.stderr  # the hint
    assert f"{path}:6: name: 'twin' is also defined at {path}:1" in result.stderr
    assert writes(api_env) == []
    run_cli("create", "-f", path, "--allow-duplicate-name")
    assert api_env.store.count_agents() == 2


def test_dry_run_bodies_as_json_for_scripts(api_env, write):
    paths = [write("a.yaml", agent_yaml("a1") + "---\n" + agent_yaml("a2"))]
    bodies = json.loads(run_cli("create", "-f", *paths, "--dry-run", "-o", "json").stdout)
    assert [b["name"] for b in bodies] == ["a1", "a2"]
    assert api_env.requests == []
