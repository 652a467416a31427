"""validate / diff / apply / promote / schema: the real CLI against real emulators."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from agentctl.emulator import server
from tests.conftest import SUPPORT_YAML, agent_yaml, run_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "agents-repo"
SECRET = "s3cret-weather-value"


def writes(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["method"] in ("POST", "PUT", "DELETE")]


def dead_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}"


# -- validate ----------------------------------------------------------------------------------
BAD = """\
name: bad
system_prompt: hi
greeting: Hello
voice: {voice_id: ivy}
tools:
  - name: t
    description: x
    http:
      url: http://api.example.com
      http_method: GET
---
name: worse
system_prompt: 12
greeting: Hello
voice: {voice_id: ivy}
output: {volume: 300}
"""

WARNINGS = """\
name: risky
system_prompt: You help.
voice: {voice_id: zelda}
tools:
  - name: client_side
    description: Nobody answers this on a phone.
  - name: search
    description: Search.
    parameters:
      type: object
      properties:
        filters: {type: object}
    http:
      url: https://api.example.com/search
      http_method: GET
      headers:
        - {name: Authorization, value: "Bearer literal-token"}
"""


def test_validate_is_offline_and_needs_no_key(write, monkeypatch):
    monkeypatch.setenv("AGENTCTL_BASE_URL", dead_url())  # any request would fail with 7
    monkeypatch.setenv("WEATHER_KEY", SECRET)
    result = run_cli("validate", "-f", write("s.yaml", SUPPORT_YAML))
    assert result.stdout == "1 file, 1 agent: 0 errors, 0 warnings\n"
    assert result.stderr == ""


def test_validate_prints_every_problem_across_files(write, tmp_path):
    bad = write("specs/bad.yaml", BAD)
    broken = write("specs/broken.yaml", "name: [unclosed\n")
    good = write("specs/good.yaml", agent_yaml("fine") + "greeting: Hi\n")
    result = run_cli("validate", "-f", str(tmp_path / "specs"), exit_code=3)
    lines = result.stdout.splitlines()
    assert f"error: {bad}:9: tools[0].http.url: must be an https URL" in lines
    assert f"error: {bad}:13: system_prompt: must be a string, got an integer" in lines
    assert any(line.startswith(f"error: {bad}:16: output.volume:") for line in lines)
    assert any(line.startswith(f"error: {broken}:") and "bad YAML" in line for line in lines)
    assert not any(good in line for line in lines)
    assert lines[-1] == "3 files, 3 agents: 4 errors, 0 warnings"
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_warns_about_likely_mistakes_and_strict_fails(write):
    first = write("risky.yaml", WARNINGS)
    second = write("again.yaml", agent_yaml("risky") + "greeting: Hi\n")
    result = run_cli("validate", "-f", first, "-f", second)
    out = result.stdout
    assert f"warning: {first}:3: voice.voice_id: unknown voice 'zelda'" in out
    assert f"warning: {first}:1: greeting: none set" in out
    assert f"warning: {first}:5: tools[0]: no http block" in out
    assert f"warning: {first}:15: tools[1].http.http_method: GET sends arguments" in out
    assert f"warning: {first}:17: tools[1].http.headers[0].value: looks like a literal secret" in out
    assert f"warning: {second}:1: name: 'risky' is also the name of the agent at {first}:1" in out
    assert out.splitlines()[-1] == "2 files, 2 agents: 0 errors, 6 warnings"
    strict = run_cli("validate", "-f", first, "-f", second, "--strict", exit_code=3)
    assert strict.stdout.splitlines()[-1].endswith("6 warnings (--strict: warnings fail)")


def test_validate_json_is_a_list_of_diagnostics(write):
    path = write("bad.yaml", BAD)
    result = run_cli("validate", "-f", path, "-o", "json", exit_code=3)
    items = json.loads(result.stdout)
    assert {tuple(sorted(i)) for i in items} == {
        ("file", "hint", "line", "message", "path", "severity")}
    assert {"file": path, "line": 9, "path": "tools[0].http.url", "severity": "error",
            "message": "must be an https URL", "hint": None} in items
    assert result.stderr == "1 file, 2 agents: 3 errors, 0 warnings\n"
    assert run_cli("validate", "-f", path, "-o", "id", exit_code=2).stdout == ""


def test_validate_reports_a_missing_variable_as_a_warning(write, monkeypatch):
    spec = agent_yaml("svc") + (
        "greeting: Hi\n"
        "tools:\n"
        "  - name: t\n"
        "    description: d\n"
        "    http:\n"
        "      url: ${SERVICE_URL}\n"  # line 10: unknown offline, so not checked
        "      http_method: POST\n"
        "      headers:\n"
        "        - {name: Authorization, value: 'Bearer ${TOKEN}'}\n"  # line 13
        "        - {name: X-Region, value: '${REGION:-eu}'}\n"  # has a default: fine
    )
    path = write("svc.yaml", spec)
    result = run_cli("validate", "-f", path)
    assert result.stdout.splitlines() == [
        f"warning: {path}:10: tools[0].http.url: environment variable SERVICE_URL is not "
        "set, so this value was not checked",
        f"warning: {path}:13: tools[0].http.headers[0].value: environment variable TOKEN is "
        "not set, so this value was not checked",
        "1 file, 1 agent: 0 errors, 2 warnings",
    ]
    run_cli("validate", "-f", path, "--strict", exit_code=3)
    monkeypatch.setenv("TOKEN", "t")
    monkeypatch.setenv("SERVICE_URL", "http://plain.example.com")  # now it is checked
    result = run_cli("validate", "-f", path, exit_code=3)
    assert f"error: {path}:10: tools[0].http.url: must be an https URL" in result.stdout


def test_validate_env_file_and_stdin(write):
    env = write("vars.env", "WEATHER_KEY=x\n")
    result = run_cli("validate", "-f", "-", "--env-file", env, "--strict", stdin=SUPPORT_YAML)
    assert result.stdout == "1 file, 1 agent: 0 errors, 0 warnings\n"


# -- diff --------------------------------------------------------------------------------------
@pytest.fixture
def support(api_env, write, monkeypatch):
    """The support agent applied; WEATHER_KEY set; the request log cleared."""
    monkeypatch.setenv("WEATHER_KEY", SECRET)
    path = write("agents/support.yaml", SUPPORT_YAML)
    run_cli("apply", "-f", path)
    api_env.requests.clear()
    return path


def test_diff_shows_new_agents_as_creates_and_exits_1(api_env, write, monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", SECRET)
    path = write("s.yaml", SUPPORT_YAML)
    result = run_cli("diff", "-f", path, exit_code=1)
    assert result.stdout.startswith(f"+ agent 'Support Assistant' will be created from {path}:1")
    assert "    + system_prompt: |" in result.stdout  # the prompt as a readable block
    assert "value: '***'" in result.stdout and SECRET not in result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "diff: 1 to create, 0 to update, 0 unchanged"
    assert writes(api_env) == []


def test_diff_same_is_exit_0_and_write_only_values_are_no_change(api_env, support, monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", "a-different-secret")  # cannot be read back: no diff
    result = run_cli("diff", "-f", support)
    assert "no changes" in result.stdout
    assert writes(api_env) == []


def test_diff_shows_field_paths_and_a_line_diff_for_prompts(api_env, support, write):
    changed = (SUPPORT_YAML.replace("Keep responses under two sentences.", "Be brief.")
               .replace("Hi, how can I help?", "Hello!"))
    result = run_cli("diff", "-f", write("agents/support.yaml", changed), exit_code=1)
    out = result.stdout
    assert "~ agent 'Support Assistant' (" in out and "): 2 changes" in out
    assert '~ greeting: "Hi, how can I help?" -> "Hello!"' in out
    lines = [line.strip() for line in out.splitlines()]
    assert "-Keep responses under two sentences." in lines and "+Be brief." in lines
    assert SECRET not in out + result.stderr
    assert writes(api_env) == []


def test_diff_json_is_a_machine_readable_plan(api_env, support, write):
    other = write("agents/new.yaml", agent_yaml("newcomer") + (
        "tools:\n  - name: t\n    description: d\n    http:\n      url: https://x.example.com\n"
        "      headers: [{name: Authorization, value: '${WEATHER_KEY}'}]\n"))
    changed = write("agents/support.yaml", SUPPORT_YAML.replace("Hi, how", "Hey, how"))
    result = run_cli("diff", "-f", changed, "-f", other, "-o", "json", exit_code=1)
    plan = json.loads(result.stdout)
    support_id = api_env.store.list_agents()[0]["id"]
    update, create = plan["agents"]
    assert update == {"name": "Support Assistant", "id": support_id, "action": "update",
                      "changes": [{"path": "greeting", "old": "Hi, how can I help?",
                                   "new": "Hey, how can I help?"}]}
    assert create["action"] == "create" and create["id"] is None
    tools = next(c for c in create["changes"] if c["path"] == "tools")
    assert tools["old"] is None
    assert tools["new"][0]["http"]["headers"][0]["value"] == "***"
    assert SECRET not in result.stdout + result.stderr
    assert result.stderr.endswith("diff: 1 to create, 1 to update, 0 unchanged\n")
    names = run_cli("diff", "-f", changed, "-f", other, "-o", "name", exit_code=1).stdout
    assert names.splitlines() == ["Support Assistant", "newcomer"]


def test_diff_errors_are_above_1(api_env, write, monkeypatch):
    # an unset variable in a compared field (a secret's is never compared: see below)
    broken = write("g.yaml", SUPPORT_YAML.replace("greeting: Hi, how can I help?",
                                                  "greeting: ${GREETING}"))
    assert "GREETING is not set" in run_cli("diff", "-f", broken, exit_code=3).stderr
    path = write("s.yaml", SUPPORT_YAML)
    monkeypatch.setenv("WEATHER_KEY", SECRET)
    monkeypatch.delenv("ASSEMBLYAI_API_KEY")
    run_cli("diff", "-f", path, exit_code=4)


def test_diff_needs_no_secret_values(api_env, write, monkeypatch):
    """Write-only values are never compared, so diff runs without them (CI on a fork's
    pull request, a directory just exported); apply, which sends them, does not."""
    monkeypatch.setenv("WEATHER_KEY", SECRET)
    path = write("s.yaml", SUPPORT_YAML)
    run_cli("apply", "-f", path)
    monkeypatch.delenv("WEATHER_KEY")
    result = run_cli("diff", "-f", path)
    assert "1 unchanged" in result.stdout
    empty = write(".env", "WEATHER_KEY=\n")
    run_cli("diff", "-f", path, "--env-file", empty)
    assert "WEATHER_KEY" in run_cli("apply", "-f", path, exit_code=3).stderr
    assert "is empty" in run_cli("apply", "-f", path, "--env-file", empty, exit_code=3).stderr


# -- apply -------------------------------------------------------------------------------------
def spy_updates(monkeypatch) -> list[dict]:
    """The PUT bodies apply sends (the requests still reach the emulator)."""
    from agentctl.api.client import AgentsAPI

    bodies: list[dict] = []
    original = AgentsAPI.update_agent

    def update_agent(self, agent_id, body):
        bodies.append(body)
        return original(self, agent_id, body)

    monkeypatch.setattr(AgentsAPI, "update_agent", update_agent)
    return bodies


def test_apply_creates_updates_leaves_the_rest_then_writes_nothing(api_env, write, tmp_path,
                                                                   monkeypatch):
    write("agents/a.yaml", agent_yaml("alpha") + "greeting: Hi\n")
    write("agents/b.yaml", agent_yaml("beta") + "greeting: Hi\n")
    first = run_cli("apply", "-f", str(tmp_path / "agents"))
    assert [line.split()[:2] for line in first.stdout.splitlines()[:2]] == [
        ["created", "alpha"], ["created", "beta"]]
    assert first.stdout.splitlines()[-1] == "apply: 2 created, 0 updated, 0 unchanged"
    ids = {a["name"]: a["id"] for a in api_env.store.list_agents()}
    assert ids["alpha"] in first.stdout and ids["beta"] in first.stdout
    alpha_before = api_env.store.get_agent(ids["alpha"])

    write("agents/b.yaml", agent_yaml("beta") + "greeting: Hello there\n")
    write("agents/c.yaml", agent_yaml("gamma") + "greeting: Hi\n")
    api_env.requests.clear()
    bodies = spy_updates(monkeypatch)
    second = run_cli("apply", "-f", str(tmp_path / "agents"))
    assert sorted((r["method"], r["path"].split("/")[-1]) for r in writes(api_env)) == [
        ("POST", "agents"), ("PUT", ids["beta"])]
    assert bodies == [{"greeting": "Hello there"}]  # only what changed
    assert '~ greeting: "Hi" -> "Hello there"' in second.stdout
    assert [line.split()[:3] for line in second.stdout.splitlines()[-4:-1]] == [
        ["unchanged", "alpha", ids["alpha"]], ["updated", "beta", ids["beta"]],
        ["created", "gamma", next(a["id"] for a in api_env.store.list_agents()
                                  if a["name"] == "gamma")]]
    assert second.stdout.splitlines()[-1] == "apply: 1 created, 1 updated, 1 unchanged"
    assert api_env.store.get_agent(ids["alpha"]) == alpha_before

    api_env.requests.clear()
    third = run_cli("apply", "-f", str(tmp_path / "agents"))
    assert writes(api_env) == []
    assert third.stdout.splitlines()[-1] == "apply: 0 created, 0 updated, 3 unchanged"


def test_apply_second_run_is_write_free_with_secrets_llm_keys_and_defaults(api_env, write,
                                                                          monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", SECRET)
    spec = SUPPORT_YAML + (
        "input:\n  turn_detection: {vad_threshold: 0.5, min_silence: 1000}\n"
        "output: {volume: 100, voice: ivy}\n"
        "llm:\n  - {base_url: 'https://llm.example.com/v1', model: m, api_key: '${LLM_KEY}'}\n"
    )
    monkeypatch.setenv("LLM_KEY", "sk-llm-secret")
    path = write("s.yaml", spec)
    run_cli("apply", "-f", path)
    stored = api_env.store.list_agents()[0]
    assert api_env.store.get_agent(stored["id"])["llm"][0]["api_key"] == "sk-llm-secret"
    api_env.requests.clear()
    result = run_cli("apply", "-f", path)
    assert writes(api_env) == [], str(result)
    run_cli("diff", "-f", path)


def test_apply_dry_run_shows_the_plan_and_sends_nothing(api_env, support, write):
    changed = write("agents/support.yaml", SUPPORT_YAML.replace("Hi, how", "Hey, how"))
    result = run_cli("apply", "-f", changed, "-f", write("n.yaml", agent_yaml("new")),
                     "--dry-run")
    assert '~ greeting: "Hi, how can I help?" -> "Hey, how can I help?"' in result.stdout
    assert "+ agent 'new' will be created" in result.stdout
    assert result.stderr == "dry run: 1 to create, 1 to update, 0 unchanged; nothing was sent\n"
    assert writes(api_env) == []


def test_apply_json_and_ids(api_env, write):
    path = write("a.yaml", agent_yaml("alpha"))
    result = run_cli("apply", "-f", path, "-o", "json")
    record = json.loads(result.stdout)
    agent_id = api_env.store.list_agents()[0]["id"]
    assert record["dry_run"] is False
    assert [(a["name"], a["id"], a["action"]) for a in record["agents"]] == [
        ("alpha", agent_id, "create")]
    assert "created    alpha" in result.stderr
    assert run_cli("apply", "-f", path, "-o", "id").stdout == f"{agent_id}\n"


@pytest.fixture
def teams(api_env, write):
    """Agents of two teams on the server; team-a's files define only team-a-keep."""
    for name in ("team-a-keep", "team-a-old", "team-b-one"):
        run_cli("create", "-f", write(f"seed/{name}.yaml", agent_yaml(name)))
    api_env.requests.clear()
    return write("team-a/keep.yaml", agent_yaml("team-a-keep"))


def test_prune_without_selector_is_a_usage_error(api_env, teams):
    result = run_cli("apply", "-f", teams, "--prune", "--yes", exit_code=2)
    assert "--prune needs --selector PREFIX" in result.stderr
    assert writes(api_env) == []


def test_prune_deletes_only_the_selected_agents_not_in_the_files(api_env, teams):
    planned = run_cli("diff", "-f", teams, "--prune", "--selector", "team-a-", exit_code=1)
    assert "- agent 'team-a-old' (" in planned.stdout and "team-b" not in planned.stdout
    result = run_cli("apply", "-f", teams, "--prune", "--selector", "team-a-", "--yes")
    assert [r["method"] for r in writes(api_env)] == ["DELETE"]
    assert sorted(a["name"] for a in api_env.store.list_agents()) == ["team-a-keep", "team-b-one"]
    assert "deleted    team-a-old" in result.stdout
    assert result.stdout.splitlines()[-1] == "apply: 0 created, 0 updated, 1 unchanged, 1 deleted"


def test_prune_asks_on_a_tty_and_refuses_off_one(api_env, teams, write):
    new = write("team-a/new.yaml", agent_yaml("team-a-new"))
    args = ("apply", "-f", teams, "-f", new, "--prune", "--selector", "team-a-")
    result = run_cli(*args, exit_code=2)
    assert "--yes" in result.stderr
    run_cli(*args, tty=True, stdin="n\n", exit_code=2)
    assert writes(api_env) == []  # refused: not even the create was sent
    run_cli(*args, tty=True, stdin="y\n")
    assert sorted(a["name"] for a in api_env.store.list_agents()) == [
        "team-a-keep", "team-a-new", "team-b-one"]


def test_selector_must_match_every_spec(api_env, teams, write):
    other = write("team-a/stray.yaml", agent_yaml("team-b-stray"))
    result = run_cli("apply", "-f", teams, "-f", other, "--selector", "team-a-", exit_code=3)
    assert result.stderr.startswith(f"error: {other}:1: name: 'team-b-stray' does not start")
    assert writes(api_env) == []


def test_an_ambiguous_name_is_exit_6_before_any_write(api_env, write):
    twin = write("twin.yaml", agent_yaml("twin"))
    ids = [run_cli("create", "-f", twin, "--allow-duplicate-name", "-o", "id").stdout.strip()
           for _ in range(2)]
    api_env.requests.clear()
    result = run_cli("apply", "-f", write("new.yaml", agent_yaml("new")), "-f", twin,
                     exit_code=6)
    assert ids[0] in result.stderr and ids[1] in result.stderr
    assert writes(api_env) == []
    run_cli("diff", "-f", twin, exit_code=6)


def test_every_document_is_validated_before_the_first_write(api_env, write, tmp_path):
    write("dir/a.yaml", agent_yaml("fine"))
    bad = write("dir/b.yaml", agent_yaml("broken") + "output: {volume: 300}\n")
    result = run_cli("apply", "-f", str(tmp_path / "dir"), exit_code=3)
    assert result.stderr.startswith(f"error: {bad}:")
    assert api_env.requests == []  # not even a read


def test_the_same_name_twice_in_the_files_is_exit_6(api_env, write):
    first = write("a.yaml", agent_yaml("same"))
    result = run_cli("apply", "-f", first, "-f", write("b.yaml", agent_yaml("same")),
                     exit_code=6)
    assert f"is also defined at {first}:1" in result.stderr
    assert writes(api_env) == []


def test_a_mask_for_a_new_agents_secret_is_refused_before_any_write(api_env, write):
    good = write("a.yaml", agent_yaml("good"))
    masked = write("b.yaml", agent_yaml("masked") + (
        "tools:\n  - name: t\n    description: d\n    http:\n      url: https://x.example.com\n"
        "      headers: [{name: Authorization, value: '***'}]\n"))
    result = run_cli("apply", "-f", good, "-f", masked, exit_code=3)
    assert result.stderr.startswith(f"error: {masked}:10: tools[0].http.headers[0].value:")
    assert writes(api_env) == []


def test_a_rejected_write_reports_what_was_applied(api_env, write, monkeypatch):
    from agentctl.api.client import AgentsAPI
    from agentctl.errors import RejectedError

    original = AgentsAPI.create_agent

    def create_agent(self, body, **kwargs):  # a fault only the server could find
        if body["name"] == "doomed":
            raise RejectedError("create agent 'doomed': rejected by the API (422): quota")
        return original(self, body, **kwargs)

    monkeypatch.setattr(AgentsAPI, "create_agent", create_agent)
    paths = [write(f"{n}.yaml", agent_yaml(n)) for n in ("good", "doomed", "later")]
    args = [a for p in paths for a in ("-f", p)]
    result = run_cli("apply", *args, "--concurrency", "1", exit_code=6)
    assert result.stdout.startswith("created    good")
    assert "2 of 3 change(s) not applied" in result.stderr
    assert "error: create agent 'doomed': rejected by the API (422): quota" in result.stderr
    assert [a["name"] for a in api_env.store.list_agents()] == ["good"]  # no write after it


def test_an_interrupted_apply_starts_no_further_write(api_env, write, monkeypatch):
    from agentctl.api.client import AgentsAPI

    original = AgentsAPI.create_agent

    def create_agent(self, body, **kwargs):
        if body["name"] == "second":
            raise KeyboardInterrupt
        return original(self, body, **kwargs)

    monkeypatch.setattr(AgentsAPI, "create_agent", create_agent)
    paths = [write(f"{n}.yaml", agent_yaml(n)) for n in ("first", "second", "third")]
    run_cli("apply", *[a for p in paths for a in ("-f", p)], "--concurrency", "1",
            exit_code=130)
    assert [a["name"] for a in api_env.store.list_agents()] == ["first"]


def test_apply_many_files_concurrently(api_env, write, tmp_path):
    for i in range(24):
        write(f"many/agent-{i:02}.yaml", agent_yaml(f"agent-{i:02}"))
    result = run_cli("apply", "-f", str(tmp_path / "many"), "--concurrency", "6")
    assert api_env.store.count_agents() == 24
    assert result.stdout.splitlines()[-1] == "apply: 24 created, 0 updated, 0 unchanged"
    assert result.stderr == ""  # not a terminal: no progress, nothing extra
    api_env.requests.clear()
    run_cli("apply", "-f", str(tmp_path / "many"), "--concurrency", "6")
    assert writes(api_env) == []


def test_apply_shows_progress_on_a_terminal(api_env, write, tmp_path):
    for i in range(3):
        write(f"few/a{i}.yaml", agent_yaml(f"a{i}"))
    result = run_cli("apply", "-f", str(tmp_path / "few"), tty=True)
    assert "applying" in result.stderr
    assert api_env.store.count_agents() == 3


def test_apply_local_runs_the_readme_example_twice(monkeypatch):
    example = str(REPO / "examples" / "support-agent.yaml")
    first = run_cli("--local", "apply", "-f", example)
    assert "created    Support Assistant" in first.stdout
    second = run_cli("--local", "apply", "-f", example)
    assert "unchanged  Support Assistant" in second.stdout


# -- promote -----------------------------------------------------------------------------------
STAGING_KEY, PROD_KEY = "staging-key-0123456789", "prod-key-0123456789"


@pytest.fixture
def accounts(tmp_path, monkeypatch):
    """Two emulators = two accounts, each behind its own profile and key."""
    with server.start(port=0, db_path=tmp_path / "staging.sqlite3",
                      api_keys={STAGING_KEY}) as staging, \
            server.start(port=0, db_path=tmp_path / "prod.sqlite3", api_keys={PROD_KEY}) as prod:
        for name, emu, var in (("staging", staging, "STAGING_KEY"), ("prod", prod, "PROD_KEY")):
            run_cli("config", "set", "base_url", emu.base_url, "--profile", name)
            run_cli("config", "set", "api_key_env", var, "--profile", name)
        monkeypatch.setenv("STAGING_KEY", STAGING_KEY)
        monkeypatch.setenv("PROD_KEY", PROD_KEY)
        monkeypatch.setenv("WEATHER_KEY", SECRET)
        (tmp_path / "s.yaml").write_text(SUPPORT_YAML)
        run_cli("create", "-f", str(tmp_path / "s.yaml"), "--profile", "staging")
        monkeypatch.delenv("WEATHER_KEY")
        # The everyday variables (which beat a profile elsewhere) must not steer either
        # side of a promote.
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", "everyday-key-0123456789")
        monkeypatch.setenv("AGENTCTL_BASE_URL", dead_url())
        staging.requests.clear()
        yield staging, prod


def test_promote_creates_in_the_target_taking_the_secret_from_the_environment(accounts,
                                                                               monkeypatch):
    staging, prod = accounts
    result = run_cli("promote", "Support Assistant", "--from", "staging", "--to", "prod",
                     exit_code=3)
    assert "GET_WEATHER_AUTHORIZATION" in result.stderr.splitlines()[0]
    assert writes(prod) == [] and prod.store.count_agents() == 0

    monkeypatch.setenv("GET_WEATHER_AUTHORIZATION", "Bearer prod-weather-key")
    result = run_cli("promote", "Support Assistant", "--from", "staging", "--to", "prod")
    copied = prod.store.list_agents()
    assert [a["name"] for a in copied] == ["Support Assistant"]
    assert f"created agent 'Support Assistant' ({copied[0]['id']}) in profile 'prod'" in (
        result.stdout)
    stored = prod.store.get_agent(copied[0]["id"])
    assert stored["tools"][0]["http"]["headers"][0]["value"] == "Bearer prod-weather-key"
    original = staging.store.list_agents()[0]
    assert stored["system_prompt"] == staging.store.get_agent(original["id"])["system_prompt"]
    assert writes(staging) == []
    assert "prod-weather-key" not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_promote_update_keeps_the_targets_secret_and_sends_no_mask(accounts, monkeypatch):
    staging, prod = accounts
    monkeypatch.setenv("GET_WEATHER_AUTHORIZATION", "Bearer prod-weather-key")
    run_cli("promote", "Support Assistant", "--from", "staging", "--to", "prod")
    monkeypatch.delenv("GET_WEATHER_AUTHORIZATION")  # not needed any more: prod keeps its own
    run_cli("update", "Support Assistant", "--set", "greeting=Hello from staging",
            "--set", "tools[0].timeout_seconds=25",
            "--base-url", staging.base_url, "--api-key", STAGING_KEY)
    prod.requests.clear()
    dry = run_cli("promote", "Support Assistant", "--from", "staging", "--to", "prod",
                  "--dry-run")
    assert '~ greeting: "Hi, how can I help?" -> "Hello from staging"' in dry.stdout
    plan = json.loads(run_cli("promote", "Support Assistant", "--from", "staging", "--to",
                              "prod", "--dry-run", "-o", "json").stdout)
    assert plan["dry_run"] is True and plan["agents"][0]["action"] == "update"
    assert writes(prod) == []
    run_cli("promote", "Support Assistant", "--from", "staging", "--to", "prod")
    assert [r["method"] for r in writes(prod)] == ["PUT"]
    stored = prod.store.get_agent(prod.store.list_agents()[0]["id"])
    assert stored["greeting"] == "Hello from staging"
    assert stored["tools"][0]["timeout_seconds"] == 25
    assert stored["tools"][0]["http"]["headers"][0]["value"] == "Bearer prod-weather-key"
    prod.requests.clear()
    again = run_cli("promote", "Support Assistant", "--from", "staging", "--to", "prod")
    assert "no changes to agent 'Support Assistant' in profile 'prod'" in again.stdout
    assert writes(prod) == []


def test_promote_usage_errors(accounts):
    run_cli("promote", "Support Assistant", "--from", "prod", "--to", "prod", exit_code=2)
    result = run_cli("promote", "Support Assistant", "--from", "staging", "--to", "nope",
                     exit_code=2)
    assert "no profile named 'nope'" in result.stderr
    run_cli("promote", "nobody", "--from", "staging", "--to", "prod", exit_code=5)


# -- schema and the example repository ---------------------------------------------------------
def test_schema_prints_the_spec_schema():
    from agentctl.spec.diagnostics import load_schema

    assert json.loads(run_cli("schema").stdout) == load_schema()
    assert yaml.safe_load(run_cli("schema", "-o", "yaml").stdout) == load_schema()


def test_the_example_repository_schema_is_current():
    shipped = json.loads((EXAMPLE / "agent.schema.json").read_text())
    assert shipped == json.loads(run_cli("schema").stdout), (
        "regenerate: agentctl schema > examples/agents-repo/agent.schema.json")


def test_the_example_repository_validates_diffs_and_applies(api_env, monkeypatch):
    agents = str(EXAMPLE / "agents")
    monkeypatch.setenv("ORDERS_API_TOKEN", "orders-token")
    monkeypatch.setenv("BILLING_API_KEY", "billing-key")
    assert run_cli("validate", "-f", agents, "--strict").stdout.endswith(
        "2 files, 2 agents: 0 errors, 0 warnings\n")
    run_cli("diff", "-f", agents, "--prune", "--selector", "support-", exit_code=1)
    run_cli("apply", "-f", agents, "--prune", "--selector", "support-", "--yes")
    assert sorted(a["name"] for a in api_env.store.list_agents()) == [
        "support-billing", "support-frontdesk"]
    api_env.requests.clear()
    run_cli("diff", "-f", agents, "--prune", "--selector", "support-")
    run_cli("apply", "-f", agents, "--prune", "--selector", "support-", "--yes")
    assert writes(api_env) == []
