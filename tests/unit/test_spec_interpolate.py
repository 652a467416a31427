"""spec.interpolate: ${VAR} in spec values, its errors, and --env-file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentctl.errors import SpecError
from agentctl.spec.interpolate import build_env, load_env_file
from agentctl.spec.load import SpecDocument, load_specs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(text: str, env: dict[str, str], name: str = "a.yaml") -> SpecDocument:
    Path(name).write_text(text)
    [doc] = load_specs([name], env=env)
    return doc


def error(text: str, env: dict[str, str], name: str = "a.yaml") -> SpecError:
    Path(name).write_text(text)
    with pytest.raises(SpecError) as info:
        load_specs([name], env=env)
    return info.value


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("Bearer ${A}!", {"A": "tok"}, "Bearer tok!"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": ""}, "dflt"),  # unset or empty, as in docker compose
        ("${A:-dflt}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("${A:-with spaces: and colons}", {}, "with spaces: and colons"),
        ("${A}", {"A": ""}, ""),  # set to empty is set
        ("$${A}", {}, "${A}"),  # the escape
        ("cost: $5 and $$", {}, "cost: $5 and $$"),  # a $ without { is just a character
        ("${_x9}", {"_x9": "ok"}, "ok"),
        ("${A}", {"A": "${B}"}, "${B}"),  # values are not expanded again
    ],
)
def test_expansion(here: Path, value: str, env: dict[str, str], expected: str) -> None:
    doc = load(f"name: '{value}'\n", env)
    assert doc.data["name"] == expected


def test_variables_and_templates_are_recorded(here: Path) -> None:
    text = (
        "name: a\n"
        "tools:\n"
        "  - http:\n"
        "      headers:\n"
        "        - {name: Authorization, value: 'Bearer ${KEY}'}\n"
        "        - {name: X, value: '${A}-${B:-b}-${A}'}\n"
        "plain: '$${NOT_A_VAR}'\n"
    )
    doc = load(text, {"KEY": "s3cret", "A": "a"})
    header0 = ("tools", 0, "http", "headers", 0, "value")
    header1 = ("tools", 0, "http", "headers", 1, "value")
    assert doc.variables == {header0: ["KEY"], header1: ["A", "B"]}
    assert doc.templates[header0] == "Bearer ${KEY}"
    assert doc.data["tools"][0]["http"]["headers"][0]["value"] == "Bearer s3cret"
    assert ("plain",) not in doc.variables


def test_keys_and_non_strings_are_not_interpolated(here: Path) -> None:
    doc = load("name: a\n'${K}': 1\nn: 5\nl: ['${A}', 2]\n", {"K": "key", "A": "x"})
    assert doc.data == {"name": "a", "${K}": 1, "n": 5, "l": ["x", 2]}


def test_fixture_with_env() -> None:
    [doc] = load_specs([str(FIXTURES / "support.yaml")],
                       env={"WEATHER_KEY": "w", "LLM_KEY": "l", "COMPANY": "Acme"})
    assert doc.data["system_prompt"].startswith("You are a friendly support agent for Acme.")
    assert doc.data["llm"][0]["api_key"] == "l"
    assert doc.variables[("system_prompt",)] == ["COMPANY"]


def test_missing_variable_names_file_line_field_and_variable() -> None:
    path = str(FIXTURES / "support.yaml")
    with pytest.raises(SpecError) as info:
        load_specs([path], env={"LLM_KEY": "l"})
    assert info.value.message == (
        f"{path}:38: tools[0].http.headers[0].value: environment variable WEATHER_KEY is not set"
    )
    assert info.value.hint == "export WEATHER_KEY=... or pass --env-file FILE"


def test_several_missing_variables_first_is_the_error_rest_in_hint(here: Path) -> None:
    err = error("name: ${N1}\nsystem_prompt: ${N2} ${N3} ${N1}\n", {})
    assert err.message == "a.yaml:1: name: environment variable N1 is not set"
    assert err.hint == "export N1=... or pass --env-file FILE (also not set: N2, N3)"


def test_missing_variable_in_json(here: Path) -> None:
    err = error('{\n  "name": "x",\n  "greeting": "Hi ${WHO}"\n}', {}, name="a.json")
    assert err.message == "a.json:3: greeting: environment variable WHO is not set"


def test_missing_variable_in_block_scalar_points_at_the_key(here: Path) -> None:
    err = error("name: a\nsystem_prompt: |\n  line one\n  ${GONE}\n", {})
    assert err.message == "a.yaml:2: system_prompt: environment variable GONE is not set"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${", 'unterminated "${" (no closing "}")'),
        ("abc ${A", 'unterminated "${" (no closing "}")'),
        ("${1X}", 'bad variable reference "${1X}": write ${NAME} or ${NAME:-default}, NAME '
                  "being letters, digits and _ and not starting with a digit"),
        ("${}", 'bad variable reference "${}": write ${NAME} or ${NAME:-default}, NAME '
                "being letters, digits and _ and not starting with a digit"),
        ("${A:b}", 'bad variable reference "${A:b}": write ${NAME} or ${NAME:-default}, NAME '
                   "being letters, digits and _ and not starting with a digit"),
        ("${A-b}", 'bad variable reference "${A-b}": write ${NAME} or ${NAME:-default}, NAME '
                   "being letters, digits and _ and not starting with a digit"),
        ("${A:-${B}}", 'nested "${" in the default of "${A:-${B}" is not supported'),
    ],
)
def test_malformed_reference(here: Path, value: str, message: str) -> None:
    err = error(f"name: a\ngreeting: '{value}'\n", {"A": "x", "B": "y"})
    assert err.message == f"a.yaml:2: greeting: {message}"
    assert err.hint == "write $${ for a literal ${"


# -- env files ------------------------------------------------------------------------------


def test_env_file_syntax(here: Path) -> None:
    Path(".env").write_text(
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = padded  \n"
        "INLINE=val # a comment\n"
        "HASH=a#b\n"
        "EQUALS=a=b=c\n"
        "EMPTY=\n"
        "SINGLE='literal $HOME \\n'\n"
        "SINGLE2='keep # this' # not this\n"
        'DOUBLE="line\\nnext \\"q\\" \\\\ \\$"\n'
        "  INDENTED=ok\n"
        "PLAIN=later wins\n"
    )
    assert load_env_file(".env") == {
        "PLAIN": "later wins",
        "EXPORTED": "yes",
        "SPACED": "padded",
        "INLINE": "val",
        "HASH": "a#b",
        "EQUALS": "a=b=c",
        "EMPTY": "",
        "SINGLE": "literal $HOME \\n",
        "SINGLE2": "keep # this",
        "DOUBLE": 'line\nnext "q" \\ $',
        "INDENTED": "ok",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("NOEQUALS", ".env:2: expected KEY=VALUE"),
        ("1BAD=x", ".env:2: '1BAD' is not a variable name"),
        ("BAD-NAME=x", ".env:2: 'BAD-NAME' is not a variable name"),
        ("Q='open", ".env:2: Q: unterminated single quote"),
        ('Q="open', ".env:2: Q: unterminated double quote"),
        ("Q='a' b", ".env:2: Q: unexpected text after the closing quote: 'b'"),
    ],
)
def test_env_file_errors(here: Path, line: str, message: str) -> None:
    Path(".env").write_text(f"OK=1\n{line}\n")
    with pytest.raises(SpecError) as info:
        load_env_file(".env")
    assert info.value.message == message


def test_env_file_missing(here: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_env_file("nope.env")
    assert info.value.message == "nope.env: no such file or directory"


def test_build_env_precedence(here: Path) -> None:
    Path("base.env").write_text("A=base\nB=base\nC=base\n")
    Path("local.env").write_text("B=local\nC=local\n")
    env = build_env(["base.env", "local.env"], {"C": "process"})
    # the real environment over later files over earlier files
    assert env == {"A": "base", "B": "local", "C": "process"}


def test_build_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCTL_TEST_ONLY_VAR", "from-os")
    assert build_env()["AGENTCTL_TEST_ONLY_VAR"] == "from-os"


def test_env_file_feeds_load_specs(here: Path) -> None:
    Path("secrets.env").write_text("export WEATHER_KEY='w'\nLLM_KEY=l\n")
    env = build_env(["secrets.env"], {})
    [doc] = load_specs([str(FIXTURES / "support.yaml")], env=env)
    assert doc.data["tools"][0]["http"]["headers"][0]["value"] == "Bearer w"
