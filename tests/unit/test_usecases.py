"""Use cases against the real emulator: they return data, report progress through the
callbacks they are given, and write nothing to stdout or stderr themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentctl.api.client import AgentsAPI
from agentctl.api.retry import RetryPolicy
from agentctl.api.transport import build_client
from agentctl.emulator import server
from agentctl.errors import RejectedError, SpecError
from agentctl.spec.load import load_specs
from tests.conftest import TEST_KEY

AGENT = "name: {name}\nsystem_prompt: You help.\nvoice: {{voice_id: ivy}}\n"


@pytest.fixture
def api(emulator: server.RunningEmulator) -> Iterator[AgentsAPI]:
    with build_client(emulator.base_url, TEST_KEY, 5.0) as http:
        yield AgentsAPI(http, RetryPolicy(attempts=1))


def specs(tmp_path: Path, *names: str):
    path = tmp_path / "agents.yaml"
    path.write_text("---\n".join(AGENT.format(name=n) for n in names), "utf-8")
    return load_specs([str(path)], env={})


def test_create_reports_each_agent_through_its_callback_and_prints_nothing(
        api, tmp_path, capsys):
    from agentctl.usecases.create import create_agents

    heard: list[str] = []
    created = create_agents(api, specs(tmp_path, "a", "b"),
                            on_created=lambda r: heard.append(r["name"]))
    assert [r["name"] for r in created] == heard == ["a", "b"]
    assert sorted(a["name"] for a in api.list_agents()) == ["a", "b"]
    assert capsys.readouterr() == ("", "")


def test_create_checks_names_before_it_writes(api, tmp_path):
    from agentctl.usecases.create import create_agents

    create_agents(api, specs(tmp_path, "taken"))
    with pytest.raises(RejectedError, match="an agent named 'taken' already exists"):
        create_agents(api, specs(tmp_path, "new", "taken"))
    with pytest.raises(RejectedError, match="'twice' is also defined at"):
        create_agents(api, specs(tmp_path, "twice", "twice"))
    assert [a["name"] for a in api.list_agents()] == ["taken"]  # nothing else written
    create_agents(api, specs(tmp_path, "taken"), allow_duplicate_name=True)
    assert [a["name"] for a in api.list_agents()].count("taken") == 2


def test_inline_config_warns_through_its_callback(tmp_path):
    from agentctl.spec.read import read_specs
    from agentctl.usecases.connect import inline_config

    path = tmp_path / "inline.yaml"
    path.write_text("name: x\nsystem_prompt: Hi.\nvoice: {voice_id: ivy}\nllm: []\n", "utf-8")
    warnings: list[str] = []
    docs = read_specs([str(path)], {}, stdin=None, on_secrets=list, warn=warnings.append,
                      partial=True)
    config, session = inline_config(docs, warn=warnings.append)
    assert config["name"] == "x"
    # llm is an inline field of session.update (reference §15.2), so it is sent.
    assert session == {"system_prompt": "Hi.", "output": {"voice": "ivy"}, "llm": []}
    assert warnings == []
    # a field a session cannot use (loaded only: the record's rules may not know it)
    path.write_text("name: x\nsystem_prompt: Hi.\nwebhook: {}\n", "utf-8")
    inline_config(load_specs([str(path)], env={}), warn=warnings.append)
    assert warnings == [f"{path}:3: webhook: not part of an inline session; ignored"]
    path.write_text("name: x\n", "utf-8")
    with pytest.raises(SpecError, match="system_prompt: field required"):
        inline_config(load_specs([str(path)], env={}), warn=print)


def test_one_reading_hands_over_secrets_before_it_checks(tmp_path):
    """The fail-first reading: secrets to `on_secrets` first, the first error raised."""
    from agentctl.spec.read import read_specs

    path = tmp_path / "a.yaml"
    path.write_text("name: ${NAME}\nsystem_prompt: 1\nvoice: {voice_id: ivy}\n"
                    "llm: [{api_key: '${LLM_KEY}'}]\n", "utf-8")
    secrets: list[str] = []
    with pytest.raises(SpecError, match=r"a.yaml:2: system_prompt"):
        read_specs([str(path)], {"NAME": "n", "LLM_KEY": "k-12345"}, stdin=None,
                   on_secrets=secrets.extend, warn=print)
    assert secrets == ["k-12345"]
