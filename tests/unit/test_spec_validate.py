"""spec.diagnostics: schema errors placed at file:line: field, read-only fields, Diagnostic."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentctl.errors import SpecError
from agentctl.spec.diagnostics import (
    Diagnostic,
    collect_problems,
    strip_read_only,
    validate_documents,
)
from agentctl.spec.load import SpecDocument, load_specs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
ENV = {"WEATHER_KEY": "w", "LLM_KEY": "l"}


@pytest.fixture
def fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the fixtures dir so sources read `invalid.yaml`, as a user would type."""
    monkeypatch.chdir(FIXTURES)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(name: str, text: str | None = None) -> list[SpecDocument]:
    if text is not None:
        Path(name).write_text(text)
    return load_specs([name], env=ENV)


VALID = "name: a\nsystem_prompt: p\ngreeting: hi\nvoice:\n  voice_id: ivy\n"


@pytest.mark.parametrize(
    "name", ["support.yaml", "support.jsonc", "multi.yaml", "agents.json", "dir", "lint.yaml"]
)
def test_valid_fixtures(fixtures: None, name: str) -> None:
    docs = load_specs([name], env={**ENV, "SEARCH_KEY": "s"})
    assert validate_documents(docs) == []
    assert all(collect_problems(d) == [] for d in docs)


def test_first_error_raised_with_count_of_the_rest(fixtures: None) -> None:
    with pytest.raises(SpecError) as info:
        validate_documents(load("invalid.yaml"))
    assert info.value.message == "invalid.yaml:2: system_prompt: must not be empty"
    assert info.value.hint == "and 3 more problems; run agentctl validate for all"


def test_collect_problems_lists_all_in_file_order(fixtures: None) -> None:
    [doc] = load("invalid.yaml")
    assert [str(d) for d in collect_problems(doc)] == [
        "invalid.yaml:2: system_prompt: must not be empty",
        "invalid.yaml:7: input.turn_detection.vad_threshold: must be between 0 and 1, got 1.5",
        "invalid.yaml:10: tools[0].http.url: must be an https URL",
        "invalid.yaml:11: tools[0].execution_mode: must be one of interactive, hold; "
        "got 'sometimes'",
    ]
    assert all(d.severity == "error" for d in collect_problems(doc))


def test_one_more_problem_is_singular(here: Path) -> None:
    docs = load("a.yaml", "name: a\nsystem_prompt: p\nvoice: {voice_id: 3}\nvoise: 2\n")
    with pytest.raises(SpecError) as info:
        validate_documents(docs)
    assert info.value.message == "a.yaml:3: voice.voice_id: must be a string, got an integer"
    assert info.value.hint == "and 1 more problem; run agentctl validate for all"


def test_single_error_has_no_hint(here: Path) -> None:
    docs = load("a.yaml", VALID + "greting: red\n")
    with pytest.raises(SpecError) as info:
        validate_documents(docs)
    assert info.value.message == "a.yaml:6: greting: unknown field (did you mean 'greeting'?)"
    assert info.value.hint is None


def test_an_unknown_field_with_no_close_known_one_is_a_warning(here: Path) -> None:
    docs = load("a.yaml", VALID + "colour: red\n")
    assert validate_documents(docs) == ["a.yaml:6: colour: unknown field (sent as is)"]
    assert docs[0].data["colour"] == "red"


def test_the_read_mask_as_a_value_is_an_error_with_a_hint(here: Path) -> None:
    text = VALID + ("tools:\n  - name: t\n    description: d\n    http:\n"
                    "      url: https://a.example.com/x\n"
                    "      headers: [{name: X-Key, value: '***'}]\n")
    with pytest.raises(SpecError) as info:
        validate_documents(load("a.yaml", text))
    assert "tools[0].http.headers[0].value" in info.value.message
    assert "leave `value` out to keep the stored one" in info.value.message


def test_missing_required_field_points_at_the_document(here: Path) -> None:
    docs = load("a.yaml", "# my agent\nname: a\nsystem_prompt: p\n")
    with pytest.raises(SpecError) as info:
        validate_documents(docs)
    assert info.value.message == "a.yaml:2: voice: field required"


def test_errors_across_documents_are_counted_together(here: Path) -> None:
    docs = load("a.yaml", VALID + "tols: 1\n---\n" + VALID + "lm: 2\n")
    with pytest.raises(SpecError) as info:
        validate_documents(docs)
    assert info.value.message == "a.yaml:6: tols: unknown field (did you mean 'tools'?)"
    assert info.value.hint == "and 1 more problem; run agentctl validate for all"
    assert str(collect_problems(docs[1])[0]) == \
        "a.yaml:13: lm: unknown field (did you mean 'llm'?)"


def test_json_errors_have_lines(here: Path) -> None:
    text = '[\n {"name": "a", "system_prompt": "p", "voice": {"voice_id": "ivy"}},\n' \
           ' {"name": "b",\n  "system_prompt": "p",\n  "voice": {"voice_id": ""}}\n]'
    docs = load("a.json", text)
    assert collect_problems(docs[0]) == []
    assert [str(d) for d in collect_problems(docs[1])] == [
        "a.json:5: voice.voice_id: must not be empty"
    ]


def test_partial_requires_nothing(here: Path) -> None:
    docs = load("a.yaml", "greeting: Hello again.\n")
    assert validate_documents(docs, partial=True) == []
    with pytest.raises(SpecError):
        validate_documents(load("a.yaml"))


def test_loopback_urls_only_when_allowed(here: Path) -> None:
    text = VALID + "tools:\n  - name: t\n    description: d\n" \
        "    http: {url: 'http://127.0.0.1:8080/x'}\n"
    [doc] = load("a.yaml", text)
    assert [str(d) for d in collect_problems(doc)] == [
        "a.yaml:9: tools[0].http.url: must be an https URL"
    ]
    assert collect_problems(doc, allow_loopback_urls=True) == []


def test_read_only_fields_are_removed_with_warnings(fixtures: None) -> None:
    docs = load("exported.yaml")
    assert validate_documents(docs) == [
        "exported.yaml:2: id: read-only field ignored",
        "exported.yaml:9: tools[0].id: read-only field ignored",
        "exported.yaml:17: tools[0].http.headers[0].last_set_at: read-only field ignored",
        "exported.yaml:18: created_at: read-only field ignored",
        "exported.yaml:19: updated_at: read-only field ignored",
    ]
    data = docs[0].data
    assert not {"id", "created_at", "updated_at"} & data.keys()
    assert "id" not in data["tools"][0] and data["tools"][0]["name"] == "book"


def test_strip_read_only_returns_warning_diagnostics(here: Path) -> None:
    [doc] = load("a.yaml", "id: x\n" + VALID)
    [warning] = strip_read_only(doc)
    assert warning == Diagnostic("a.yaml", 1, "id", "read-only field ignored", "warning")
    assert strip_read_only(doc) == []  # already gone


def test_collect_problems_does_not_modify_the_document(here: Path) -> None:
    [doc] = load("a.yaml", "id: x\n" + VALID)
    assert collect_problems(doc) == []
    assert doc.data["id"] == "x"


def test_editor_schema_key_is_dropped_silently(here: Path) -> None:
    docs = load("a.json", '{"$schema": "./schema.json", "name": "a", "system_prompt": "p", '
                          '"voice": {"voice_id": "ivy"}}')
    assert collect_problems(docs[0]) == []
    assert validate_documents(docs) == []
    assert "$schema" not in docs[0].data


def test_diagnostic_str() -> None:
    assert str(Diagnostic("a.yaml", 3, "tools[0].http.url", "must be an https URL")) == (
        "a.yaml:3: tools[0].http.url: must be an https URL"
    )
    assert str(Diagnostic("a.yaml", 1, "", "expected an object", "warning")) == (
        "a.yaml:1: expected an object"
    )


def test_diagnostics_escape_line_breaks_in_keys(here: Path) -> None:
    [doc] = load("a.json", '{"name": "a", "system_prompt": "p", "voice": {"voice_id": "ivy"},\n'
                           ' "x\\ny": 1}')
    assert [str(d) for d in collect_problems(doc)] == ["a.json:2: x\\ny: unknown field (sent as is)"]
