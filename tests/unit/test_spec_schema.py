"""spec/schema.json: well-formed, documented, and in step with rules.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentctl.spec import rules
from agentctl.spec.diagnostics import collect_problems, load_schema
from agentctl.spec.load import load_specs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
ENV = {"WEATHER_KEY": "w", "LLM_KEY": "l", "SEARCH_KEY": "s"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


def subschemas(node: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property and array-item schema, with a readable location."""
    for name, sub in node.get("properties", {}).items():
        yield f"{where}.{name}", sub
        yield from subschemas(sub, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        yield f"{where}[]", node["items"]
        yield from subschemas(node["items"], f"{where}[]")


def test_is_draft_2020_12_json(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    text = (Path(rules.__file__).parent / "schema.json").read_text()
    assert json.loads(text) == schema


def test_every_field_has_a_description(schema: dict[str, Any]) -> None:
    missing = [where for where, sub in subschemas(schema) if not sub.get("description")]
    assert missing == []


def test_top_level_fields_match_the_rules(schema: dict[str, Any]) -> None:
    assert set(schema["properties"]) == {*rules.TOP_LEVEL, *rules.READ_ONLY_FIELDS, "$schema"}
    assert schema["required"] == list(rules.REQUIRED)


def test_strict_objects(schema: dict[str, Any]) -> None:
    # The API is strict everywhere except inside a tool's own JSON Schema.
    loose = {".tools[].parameters"}
    objects = [(w, s) for w, s in [("", schema), *subschemas(schema)] if "properties" in s]
    assert len(objects) > 10
    for where, sub in objects:
        if where in loose:
            assert "additionalProperties" not in sub, where
        else:
            assert sub.get("additionalProperties") is False, where


def test_enums_and_limits_match_the_rules(schema: dict[str, Any]) -> None:
    props = dict(subschemas(schema))
    assert props[".tools[].execution_mode"]["enum"] == list(rules.EXECUTION_MODES)
    assert props[".tools[].http.http_method"]["enum"] == list(rules.HTTP_METHODS)
    assert set(props[".input.format.sample_rate"]["enum"]) == set(rules.ENCODINGS.values())
    assert props[".input.format.encoding"]["enum"] == list(rules.ENCODINGS)
    assert props[".tools[].timeout_seconds"]["maximum"] == 300
    assert schema["properties"]["pre_connect_requests"]["maxItems"] == 2
    assert props[".voice.voice_id"]["examples"] == list(rules.KNOWN_VOICES)
    td = ".input.turn_detection.vad_threshold"
    assert (props[td]["minimum"], props[td]["maximum"]) == (0, 1)
    assert (props[".output.volume"]["minimum"], props[".output.volume"]["maximum"]) == (0, 100)
    assert schema["properties"]["llm"]["maxItems"] == 1
    for where in (".id", ".created_at", ".updated_at", ".tools[].id"):
        assert props[where]["description"].startswith("Read-only"), where


# A tiny subset of JSON Schema, enough to run our schema over our fixtures.
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def violations(value: Any, node: dict[str, Any], path: tuple = ()) -> Iterator[tuple]:
    kinds = node.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        ok = any(
            (k == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (k == "number" and isinstance(value, int | float) and not isinstance(value, bool))
            or (k in _TYPES and isinstance(value, _TYPES[k]) and not (
                k != "boolean" and isinstance(value, bool)))
            for k in kinds
        )
        if not ok:
            yield path
            return
    if "enum" in node and value not in node["enum"]:
        yield path
    if "const" in node and value != node["const"]:
        yield path
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value < node.get("minimum", float("-inf")) or value > node.get("maximum", float("inf"))
    ):
        yield path
    if isinstance(value, str) and len(value) < node.get("minLength", 0):
        yield path
    if isinstance(value, list):
        if len(value) > node.get("maxItems", len(value)):
            yield path
        for i, item in enumerate(value):
            yield from violations(item, node.get("items", {}), (*path, i))
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key in node.get("required", []):
            if key not in value:
                yield (*path, key)
        for key, item in value.items():
            if key in props:
                yield from violations(item, props[key], (*path, key))
            elif node.get("additionalProperties") is False:
                yield (*path, key)


@pytest.mark.parametrize(
    "name",
    ["support.yaml", "support.jsonc", "multi.yaml", "agents.json", "exported.yaml", "lint.yaml"],
)
def test_valid_fixtures_satisfy_the_schema(schema: dict[str, Any], name: str) -> None:
    for doc in load_specs([str(FIXTURES / name)], env=ENV):
        assert list(violations(doc.data, schema)) == []


def test_schema_flags_a_subset_of_what_the_rules_flag(schema: dict[str, Any]) -> None:
    [doc] = load_specs([str(FIXTURES / "invalid.yaml")], env={})
    by_schema = set(violations(doc.data, schema))
    by_rules = {d.path for d in collect_problems(doc)}
    assert {rules.format_path(p) for p in by_schema} == {
        "system_prompt", "input.turn_detection.vad_threshold", "tools[0].execution_mode"
    }
    assert {rules.format_path(p) for p in by_schema} <= by_rules
