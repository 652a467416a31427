"""No input makes load_specs raise anything but SpecError; valid JSON/YAML round-trips."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agentctl.errors import SpecError
from agentctl.spec.diagnostics import collect_problems, strip_read_only
from agentctl.spec.lint import lint_documents
from agentctl.spec.load import load_specs

pytestmark = pytest.mark.slow  # not in the quick loop (pytest -m "not slow")

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# The suite must stay under 5 s: the pure-Python YAML and rules passes cost ~5 ms a case.
FUZZ_SLOW = settings(FUZZ, max_examples=100)
ENV = {"A": "a-value", "EMPTY": ""}

YAML_TOKENS = [
    "name", "a", ":", ": ", " ", "  ", "\n", "\t", "- ", "[", "]", "{", "}", ",", "? ",
    "&x ", "*x", "&y ", "*y", "<<: ", "---\n", "...\n", "!!str ", "!!int ", "!!python/none ",
    "!t ", "'", '"', "\\", "#", "${", "$${", "${A}", "${A:-d}", "${1}", "$", "1", "0x1F",
    "1_000", "1:30", "yes", "on", "~", "null", ".nan", "-.inf", "2026-05-07", "|\n", ">-\n",
    "%YAML 1.1\n", "%TAG !e! tag:e,2000:\n", "\ufeff", "é", "\x85", "\u2028", "\x00",
]
JSON_TOKENS = [
    "{", "}", "[", "]", ",", ":", '"', '"name"', '"a"', '"${A}"', '"${NOPE}"', '"\\u00e9"',
    '"\\ud800"', "\\", "1", "-", "0", ".5", "e9", "1e999", "true", "null", "nul", " ", "\n",
    "//", "/*", "*/", "\t", "\x00",
]


def stdin_of(raw: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")


def only_spec_errors(load: Any) -> list[Any] | None:
    """Run `load`; SpecError is an acceptable outcome, anything else fails the test."""
    try:
        docs = load()
    except SpecError as exc:
        assert exc.message and "\n" not in exc.message
        return None
    for doc in docs:
        assert isinstance(doc.data, dict)
        assert all(isinstance(k, str) for k in doc.data)
        assert isinstance(doc.line_of(("anything", 0)), int)
    return docs


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes_on_stdin(raw: bytes) -> None:
    only_spec_errors(lambda: load_specs(["-"], env=ENV, stdin=stdin_of(raw)))


@FUZZ
@given(raw=st.binary(max_size=300), suffix=st.sampled_from([".yaml", ".json", ".jsonc", ".x"]))
def test_random_bytes_in_files(fuzz_dir: Path, raw: bytes, suffix: str) -> None:
    path = fuzz_dir / f"spec{suffix}"
    path.write_bytes(raw)
    only_spec_errors(lambda: load_specs([str(path)], env=ENV))


@FUZZ
@given(parts=st.lists(st.sampled_from(YAML_TOKENS), max_size=60))
def test_yaml_ish_text(parts: list[str]) -> None:
    text = "".join(parts)
    only_spec_errors(lambda: load_specs(["-"], env=ENV, stdin=io.StringIO(text)))
    # the same text, forced down the YAML path even when it starts like JSON
    only_spec_errors(lambda: load_specs(["-"], env=ENV, stdin=io.StringIO("# x\n" + text)))


@FUZZ
@given(parts=st.lists(st.sampled_from(JSON_TOKENS), max_size=60),
       suffix=st.sampled_from([".json", ".jsonc"]))
def test_json_ish_text(fuzz_dir: Path, parts: list[str], suffix: str) -> None:
    path = fuzz_dir / f"soup{suffix}"
    path.write_text("".join(parts), encoding="utf-8")
    only_spec_errors(lambda: load_specs([str(path)], env=ENV))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@FUZZ
@given(value=json_values)
def test_json_values_round_trip(fuzz_dir: Path, value: Any) -> None:
    text = json.dumps(value, indent=1)
    path = fuzz_dir / "value.json"
    path.write_text(text, encoding="utf-8")
    docs = only_spec_errors(lambda: load_specs([str(path)], env={}))
    if docs is None or "$" in text:
        # refused (not an agent, or a ${...} reference) or changed by interpolation
        if docs is None:
            assert not isinstance(value, dict) or "$" in text
        return
    expected = value if isinstance(value, list) else [value]
    assert [d.data for d in docs] == expected


@FUZZ_SLOW
@given(value=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_yaml_dump_round_trips(value: dict[str, Any]) -> None:
    # Differential: we build values from PyYAML's nodes ourselves, so compare with
    # safe_load rather than `value` (PyYAML's own dump/load does not round-trip "\x85").
    text = yaml.safe_dump(value, allow_unicode=True)
    docs = only_spec_errors(lambda: load_specs(["-"], env={}, stdin=io.StringIO("# a\n" + text)))
    if "$" not in text:
        assert docs is not None and [d.data for d in docs] == [yaml.safe_load(text)]


# Agent-shaped values: the real field names, with anything at all under them.
FIELDS = ["name", "system_prompt", "greeting", "voice", "input", "output", "tools", "llm", "id",
          "voice_id", "http", "headers", "value", "url", "http_method", "parameters",
          "properties", "type", "api_key", "turn_detection"]
agent_values = st.recursive(
    json_values,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4),
    max_leaves=15,
)


@FUZZ_SLOW
@given(value=st.dictionaries(st.sampled_from(FIELDS), agent_values, max_size=6))
@example(value={"tools": [{"name": []}]})  # an unhashable name met a set lookup
def test_validate_and_lint_take_any_loaded_document(value: dict[str, Any]) -> None:
    text = json.dumps(value)
    docs = only_spec_errors(lambda: load_specs(["-"], env=ENV, stdin=io.StringIO(text)))
    for doc in docs or []:
        # errors, and warnings only for unknown fields (sent as is)
        assert all(d.severity == "error" or "unknown field" in d.message
                   for d in collect_problems(doc))
        assert all(d.severity == "warning" for d in strip_read_only(doc))
        assert all(d.severity == "warning" for d in lint_documents([doc]))
        assert all("\n" not in str(d) for d in collect_problems(doc))
