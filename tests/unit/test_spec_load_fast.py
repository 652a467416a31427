"""Spec loading at scale: libyaml when it can, the same results and errors as PyYAML's own
loader, and work linear in the number of documents whatever the file layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agentctl.errors import SpecError
from agentctl.spec import load as load_module
from agentctl.spec.load import load_specs
from tests.conftest import SUPPORT_YAML

pytestmark = pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False),
                                reason="PyYAML without libyaml")

SPECS = {
    "support.yaml": SUPPORT_YAML,
    "anchors.yaml": "x-base: &b {voice_id: ivy}\nname: a\nsystem_prompt: x\nvoice:\n"
                    "  <<: *b\n  speed: 1.5\n",
    "multi.yaml": "name: a\nsystem_prompt: |\n  two\n  lines\n---\n---\nname: b\n"
                  "system_prompt: 'x'\ngreeting: null\ninput: {keyterms: [a, 'b', 3, 1.5, true]}\n",
}
BAD = {
    "indent.yaml": "name: a\n  system_prompt: b\n",
    "colon.yaml": "name: a\ngreeting: Hi: there\n",
    "dup.yaml": "name: a\nvoice:\n  voice_id: x\n  voice_id: y\n",
    "tab.yaml": "name: a\n\tgreeting: x\n",
    "tag.yaml": "name: !!python/name:os.system x\n",
    "key.yaml": "name: a\n1: b\n",
    "ctrl.yaml": "name: a\x07\n",
    "deep.yaml": "a: " + "[" * 150 + "]" * 150 + "\n",
    "flow.yaml": "a: [1, 2\n",
}


def load(path: Path) -> list[tuple[dict, dict]]:
    return [(d.data, d.lines) for d in load_specs([str(path)], env={"WEATHER_KEY": "k"})]


def error(path: Path) -> tuple[str, str | None]:
    with pytest.raises(SpecError) as info:
        load_specs([str(path)], env={})
    return info.value.message, info.value.hint


def without_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(yaml, "CSafeLoader")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_libyaml_gives_the_same_values_and_lines(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_text(SPECS[name], "utf-8")
    before = dict(load_module.yaml_parses)
    fast = load(path)
    assert load_module.yaml_parses["fast"] == before["fast"] + 1  # libyaml read it
    without_libyaml(monkeypatch)
    assert load(path) == fast


@pytest.mark.parametrize("name", sorted(BAD))
def test_errors_are_the_pure_python_loaders_own(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_text(BAD[name], "utf-8")
    with_fast = error(path)
    without_libyaml(monkeypatch)
    assert error(path) == with_fast
    assert with_fast[0].startswith(f"{path}:")


def test_a_json_array_of_agents_is_split_in_one_pass(tmp_path, monkeypatch):
    """Counting the line-map entries visited: linear means each is visited once, where
    splitting by a scan per agent visits N times as many."""
    visits = 0
    split = load_module._split_json_array

    class Counted(dict):
        def items(self):
            nonlocal visits
            for pair in super().items():
                visits += 1
                yield pair

    monkeypatch.setattr(load_module, "_split_json_array",
                        lambda value, lines: split(value, Counted(lines)))
    for count in (50, 200):
        visits = 0
        path = tmp_path / f"{count}.json"
        path.write_text(json.dumps([{"name": f"a{i}", "system_prompt": "x",
                                     "voice": {"voice_id": "ivy"}} for i in range(count)],
                                   indent=2), "utf-8")
        docs = load_specs([str(path)], env={})
        assert len(docs) == count and docs[-1].where(("voice", "voice_id")) == (
            f"{path}:{count * 7 - 1}")
        entries = 1 + count * 4  # the root, and per agent: itself, name, prompt, voice, voice_id
        assert visits <= entries + count
