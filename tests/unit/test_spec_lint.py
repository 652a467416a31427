"""spec.lint: offline warnings for likely mistakes, each placed at file:line: field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentctl.spec.lint import Diagnostic, lint_documents
from agentctl.spec.load import load_specs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
BASE = "name: a\nsystem_prompt: p\ngreeting: hi\nvoice: {voice_id: ivy}\n"  # lines 1-4


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(text: str, *, env: dict[str, str] | None = None, partial: bool = False) -> list[str]:
    Path("a.yaml").write_text(text)
    docs = load_specs(["a.yaml"], env=env or {})
    found = lint_documents(docs, partial=partial)
    assert all(isinstance(d, Diagnostic) and d.severity == "warning" for d in found)
    return [str(d) for d in found]


def test_clean_agent_has_no_warnings(here: Path) -> None:
    assert lint(BASE) == []


def test_lint_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    docs = load_specs(["lint.yaml"], env={"SEARCH_KEY": "s"})
    assert [str(d) for d in lint_documents(docs)] == [
        "lint.yaml:1: greeting: none set, so the agent waits for the caller to speak first",
        "lint.yaml:3: voice.voice_id: unknown voice 'bob': the service refuses voices it does "
        "not know (the known ones: docs/specs.md)",
        "lint.yaml:5: tools[0]: no http block, so 'client_only' is a client-side tool: nobody "
        "answers it on a phone call",
        "lint.yaml:16: tools[1].http.http_method: GET sends arguments in the query string, but "
        "'filters' is nested (object or array); use POST to send them as a JSON body",
        "lint.yaml:21: tools[1].http.headers[1].value: looks like a literal secret; use ${VAR}",
        "lint.yaml:27: llm[0].api_key: looks like a literal secret; use ${VAR}",
    ]


def test_no_greeting_only_for_whole_agents(here: Path) -> None:
    text = "name: a\nsystem_prompt: p\nvoice: {voice_id: ivy}\n"
    assert lint(text) == [
        "a.yaml:1: greeting: none set, so the agent waits for the caller to speak first"
    ]
    assert lint(text, partial=True) == []
    assert lint(text + "greeting: ''\n") != []  # an empty greeting is no greeting


def test_unknown_output_voice(here: Path) -> None:
    assert lint(BASE + "output: {voice: zed}\n") == [
        "a.yaml:5: output.voice: unknown voice 'zed': the service refuses voices it does not "
        "know (the known ones: docs/specs.md)"
    ]


def test_header_from_variable_is_fine_literal_is_not(here: Path) -> None:
    tool = (
        "tools:\n"
        "  - name: t\n"
        "    http:\n"
        "      url: https://api.example.com/t\n"
        "      headers:\n"
        "        - {name: Authorization, value: 'Bearer ${TOKEN}'}\n"
        "        - {name: X-Key, value: abc123}\n"
        "        - {name: content-type, value: application/json}\n"
        "        - {name: X-Empty, value: ''}\n"
    )
    # ${TOKEN} resolves to a literal-looking value, but it came from a variable: fine
    assert lint(BASE + tool, env={"TOKEN": "xyz"}) == [
        "a.yaml:11: tools[0].http.headers[1].value: looks like a literal secret; use ${VAR}"
    ]


def test_only_credential_headers_must_come_from_variables(here: Path) -> None:
    """A version or content header is configuration; a key, token or Bearer value is not."""
    headers = [
        ("cal-api-version", "2024-09-04", False),
        ("Content-Type", "application/json", False),
        ("Accept", "application/json", False),
        ("X-Request-Source", "agentctl", False),
        ("Authorization", "Bearer abc", True),
        ("X-Api-Key", "abc123", True),
        ("X-Auth-Token", "abc", True),
        ("Client-Secret", "abc", True),
        ("Cookie", "sid=abc", True),
        ("X-Custom", "Bearer abc", True),  # the value says what it is
    ]
    tool = "tools:\n  - name: t\n    http:\n      url: https://api.example.com/t\n" \
           "      headers:\n" + "".join(
               f"        - {{name: {n}, value: '{v}'}}\n" for n, v, _ in headers)
    warned = [line.split(".value:")[0].rsplit("[", 1)[1].rstrip("]")
              for line in lint(BASE + tool)]
    assert warned == [str(i) for i, (_, _, secret) in enumerate(headers) if secret]


def test_masked_header_value(here: Path) -> None:
    tool = (
        "tools:\n"
        "  - name: t\n"
        "    http:\n"
        "      url: https://api.example.com/t\n"
        "      headers: [{name: X-Key, value: '***'}]\n"
    )
    # validate refuses it (test_spec_validate); lint adds no second finding
    assert lint(BASE + tool) == []
    assert lint(BASE + tool, partial=True) == []


def test_llm_api_key(here: Path) -> None:
    llm = "llm:\n  - model: m\n    api_key: ${LLM_KEY}\n"
    assert lint(BASE + llm, env={"LLM_KEY": "k"}) == []
    assert lint(BASE + llm.replace("${LLM_KEY}", "sk-123")) == [
        "a.yaml:7: llm[0].api_key: looks like a literal secret; use ${VAR}"
    ]


@pytest.mark.parametrize(
    ("method", "properties", "warned"),
    [
        ("GET", "{q: {type: string}, n: {type: integer}}", None),
        ("GET", "{q: {type: string}, tags: {type: array, items: {type: string}}}", "'tags' is"),
        ("GET", "{a: {type: [object, 'null']}, b: {items: {}}}", "'a', 'b' are"),
        ("POST", "{a: {type: object}}", None),
    ],
)
def test_get_with_body_shaped_parameters(
    here: Path, method: str, properties: str, warned: str | None
) -> None:
    tool = (
        "tools:\n"
        "  - name: t\n"
        f"    parameters: {{type: object, properties: {properties}}}\n"
        f"    http: {{url: 'https://api.example.com/t', http_method: {method}}}\n"
    )
    expected = [] if warned is None else [
        f"a.yaml:8: tools[0].http.http_method: GET sends arguments in the query string, but "
        f"{warned} nested (object or array); use POST to send them as a JSON body"
    ]
    assert lint(BASE + tool) == expected


def test_http_tool_is_not_client_side(here: Path) -> None:
    tool = "tools:\n  - name: t\n    http: {url: 'https://api.example.com/t'}\n"
    assert lint(BASE + tool) == []
    assert lint(BASE + "tools:\n  - description: nameless\n") == [
        "a.yaml:6: tools[0]: no http block, so this tool is a client-side tool: nobody answers "
        "it on a phone call"
    ]


def test_duplicate_names_across_files_name_both_places(here: Path) -> None:
    Path("one.yaml").write_text(BASE)
    Path("two.yaml").write_text("# again\n" + BASE + "---\n" + BASE.replace("name: a", "name: b"))
    docs = load_specs(["one.yaml", "two.yaml"], env={})
    assert [str(d) for d in lint_documents(docs)] == [
        "two.yaml:2: name: 'a' is also the name of the agent at one.yaml:1; agents are matched "
        "by name"
    ]


def test_lint_survives_wrong_types(here: Path) -> None:
    # lint runs on what validate would reject too; it must not crash on odd shapes
    text = ("name: [x]\nvoice: 3\noutput: []\ntools: [1, {http: 5}, {http: {headers: [1]}},\n"
            "  {http: {http_method: GET}, parameters: {properties: {a: 1}}}]\nllm: {a: 1}\n")
    assert lint(text) == [
        "a.yaml:1: greeting: none set, so the agent waits for the caller to speak first"
    ]
