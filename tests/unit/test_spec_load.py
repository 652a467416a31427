"""spec.load: files, directories, stdin, YAML/JSON(C), line maps, and every load error."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from agentctl.errors import SpecError
from agentctl.exit_codes import ExitCode
from agentctl.spec import load as load_module
from agentctl.spec.load import MAX_BYTES, SpecDocument, load_specs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"
ENV = {"WEATHER_KEY": "w-secret", "LLM_KEY": "l-secret"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in a temp dir so messages carry the short relative names a user types."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_bytes(data)
    return name


def load_one(name: str, text: str | bytes, env: dict[str, str] | None = None) -> SpecDocument:
    docs = load_specs([write(name, text)], env=env or {})
    assert len(docs) == 1
    return docs[0]


def error_of(paths: list[str], *, env: dict[str, str] | None = None, stdin=None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_specs(paths, env=env or {}, stdin=stdin)
    assert "\n" not in info.value.message  # always one line
    return info.value


def load_error(name: str, text: str | bytes) -> SpecError:
    return error_of([write(name, text)])


# -- YAML ---------------------------------------------------------------------------------


def test_yaml_fixture_values_and_lines() -> None:
    path = str(FIXTURES / "support.yaml")
    [doc] = load_specs([path], env=ENV)
    assert doc.source == path and doc.index == 0
    assert doc.data["name"] == "Support Assistant"
    assert doc.data["input"]["turn_detection"] == {
        "vad_threshold": 0.5, "min_silence": 1000, "max_silence": 3000,
        "interrupt_response": True,
    }
    assert doc.data["tools"][0]["http"]["headers"][0]["value"] == "Bearer w-secret"
    assert doc.line_of(()) == 2  # the first key, after the comment
    assert doc.line_of(("name",)) == 2
    assert doc.line_of(("system_prompt",)) == 3
    assert doc.line_of(("voice", "voice_id")) == 8
    assert doc.line_of(("tools", 0)) == 23
    assert doc.line_of(("tools", 0, "http", "url")) == 34
    assert doc.line_of(("tools", 0, "http", "headers", 0, "value")) == 38
    assert doc.line_of(("llm", 0, "api_key")) == 42
    assert doc.where(("tools", 0, "http", "url")) == f"{path}:34"


def test_line_of_missing_path_uses_nearest_ancestor() -> None:
    [doc] = load_specs([str(FIXTURES / "support.yaml")], env=ENV)
    assert doc.line_of(("tools", 0, "http", "nope", 3)) == 33  # the `http:` line
    assert doc.line_of(("absent",)) == 2  # the document's first line


def test_yaml_types_timestamps_and_merge_keys(here: Path) -> None:
    doc = load_one("a.yaml", (
        "name: a\n"
        "n: 3\n"
        "f: 0.25\n"
        "b: yes\n"
        "z: ~\n"
        "when: 2026-05-07T12:00:00Z\n"
        "base: &base {x: 1, y: 2}\n"
        "m:\n"
        "  <<: *base\n"
        "  y: 3\n"
    ))
    assert doc.data["n"] == 3 and doc.data["f"] == 0.25 and doc.data["b"] is True
    assert doc.data["z"] is None
    assert doc.data["when"] == "2026-05-07T12:00:00Z"  # stays text: the API speaks JSON
    assert doc.data["m"] == {"x": 1, "y": 3}
    assert doc.line_of(("m", "y")) == 10 and doc.line_of(("m", "x")) == 7


def test_multi_document_yaml_skips_empty_documents() -> None:
    path = str(FIXTURES / "multi.yaml")
    docs = load_specs([path], env={})
    assert [(d.index, d.data["name"]) for d in docs] == [(0, "First"), (1, "Second")]
    assert docs[0].line_of(("name",)) == 2
    assert docs[1].line_of(("voice", "voice_id")) == 12  # lines count from the file's top


# -- JSON / JSONC -------------------------------------------------------------------------


def test_json_array_is_one_document_per_element() -> None:
    path = str(FIXTURES / "agents.json")
    docs = load_specs([path], env={})
    assert [(d.index, d.data["name"]) for d in docs] == [(0, "Json One"), (1, "Json Two")]
    assert docs[0].line_of(()) == 2 and docs[1].line_of(()) == 8
    assert docs[1].line_of(("voice", "voice_id")) == 12


def test_jsonc_comments_trailing_commas_and_lines() -> None:
    [doc] = load_specs([str(FIXTURES / "support.jsonc")], env={})
    assert doc.data["voice"] == {"voice_id": "mary"}
    assert doc.data["system_prompt"] == "You answer questions about the weather."
    assert doc.data["tools"][0]["http"]["url"] == "https://api.example.com/a//b/*c*/"
    assert doc.line_of(("name",)) == 3
    assert doc.line_of(("system_prompt",)) == 6  # after a two-line block comment
    assert doc.line_of(("tools", 0, "http")) == 13


def test_json_strings_numbers_and_escapes(here: Path) -> None:
    doc = load_one("a.json", r'{"s": "a\"b\\\n\u00e9\ud83d\ude00", "i": -12, "f": 1.5e2, '
                             r'"t": true, "n": null, "l": []}')
    assert doc.data == {"s": 'a"b\\\né😀', "i": -12, "f": 150.0, "t": True, "n": None, "l": []}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1\n "b": 2}', "a.json:2: bad JSON: expected ',' or '}', found '\"' (column 2)"),
        ('{"a": 1,}', "a.json:1: bad JSON: trailing comma before '}' (column 9)"),
        ("[1,]", "a.json:1: bad JSON: trailing comma before ']' (column 4)"),
        ('{"a": // c\n1}', "a.json:1: bad JSON: comments are not allowed in JSON (column 7)"),
        ('{a: 1}', "a.json:1: bad JSON: expected a key in double quotes, found 'a' (column 2)"),
        ('{"a": 01}', "a.json:1: bad JSON: expected ',' or '}', found '1' (column 8)"),
        ('{"a": NaN}', "a.json:1: bad JSON: expected a value, found 'N' (column 7)"),
        ('{"a": 1e999}', "a.json:1: bad JSON: number out of range: 1e999 (column 12)"),
        ('{"a": "x', "a.json:1: bad JSON: unterminated string (column 9)"),
        ('{"a": "x\ny"}', "a.json:1: bad JSON: a line break inside a string (write it as an "
                          "escape) (column 9)"),
        (r'{"a": "\x"}', "a.json:1: bad JSON: invalid escape \\x (column 8)"),
        (r'{"a": "\ud800"}', "a.json:1: bad JSON: invalid \\u escape: lone surrogate \\ud800 "
                             "(column 8)"),
        ("{} {}", "a.json:1: bad JSON: unexpected content after the JSON value (column 4)"),
        ('{"a": 1', "a.json:1: bad JSON: expected ',' or '}', found the end of the file "
                    "(column 8)"),
    ],
)
def test_bad_json(here: Path, text: str, message: str) -> None:
    assert load_error("a.json", text).message == message


def test_json_comment_and_trailing_comma_hint_at_jsonc(here: Path) -> None:
    error = load_error("a.json", '{"a": 1,}')
    assert error.hint == "comments and trailing commas need the .jsonc extension"
    assert load_one("a.jsonc", '{"a": 1,}').data == {"a": 1}


def test_jsonc_unterminated_block_comment(here: Path) -> None:
    assert load_error("a.jsonc", '{"a": 1 /* oops\n\n').message == (
        "a.jsonc:1: bad JSON: unterminated /* comment (column 9)"
    )


def test_json_array_element_that_is_not_an_agent(here: Path) -> None:
    assert load_error("a.json", '[\n {"name": "x"},\n "oops"\n]').message == (
        "a.json:3: expected an agent (a mapping) but found a string"
    )


# -- sniffing, directories, stdin -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('  // leading comment\n/* and another */ {"name": "j",}', {"name": "j"}),
        ("\n[\n{\"name\": \"arr\"}\n]", {"name": "arr"}),
        ("# yaml comment\nname: y\n", {"name": "y"}),
    ],
)
def test_unknown_extension_is_sniffed(here: Path, text: str, expected: dict) -> None:
    assert load_one("agent.txt", text).data == expected


def test_directory_loads_spec_files_sorted_by_name() -> None:
    directory = str(FIXTURES / "dir")
    docs = load_specs([directory], env={})
    assert [d.data["name"] for d in docs] == ["Dir A", "Dir B"]  # a.json before b.yaml
    assert [d.source for d in docs] == [
        os.path.join(directory, "a.json"), os.path.join(directory, "b.yaml")
    ]  # notes.txt is not a spec file


def test_directory_skips_hidden_files_and_subdirectories(here: Path) -> None:
    write("agents/x.yml", "name: x\n")
    write("agents/.x.yaml", b"\xff\xfe junk")
    write("agents/sub/y.yaml", "name: y\n")
    docs = load_specs(["agents/"], env={})
    assert [d.source for d in docs] == ["agents/x.yml"]


def test_empty_directory(here: Path) -> None:
    Path("agents").mkdir()
    write("agents/readme.md", "# nothing here")
    error = error_of(["agents"])
    assert error.message == "agents: no spec files in this directory"
    assert error.hint and "*.jsonc" in error.hint


def test_stdin_text_stream_is_sniffed() -> None:
    docs = load_specs(["-"], env={}, stdin=io.StringIO('{"name": "from stdin"}'))
    assert docs[0].source == "<stdin>" and docs[0].data == {"name": "from stdin"}


def test_stdin_byte_stream_and_errors_name_stdin() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"name: a\nb: [\n"), encoding="utf-8")
    error = error_of(["-"], stdin=stream)
    assert error.message.startswith("<stdin>:3: bad YAML:")
    stream = io.TextIOWrapper(io.BytesIO(b"name: \xc3\x28\n"), encoding="utf-8")
    assert error_of(["-"], stdin=stream).message == (
        "<stdin>:1: not valid UTF-8: byte 0xc3 at column 7 (offset 6)"
    )


def test_stdin_only_once() -> None:
    error = error_of(["-", "-"], stdin=io.StringIO("name: a\n"))
    assert error.message == "-: stdin can be read only once"


def test_several_paths_keep_order(here: Path) -> None:
    write("b.yaml", "name: b\n")
    write("a.yaml", "name: a\n")
    docs = load_specs(["b.yaml", "a.yaml"], env={})
    assert [d.data["name"] for d in docs] == ["b", "a"]


# -- file-level errors ----------------------------------------------------------------------


def test_file_not_found(here: Path) -> None:
    error = error_of(["agents/missing.yaml"])
    assert error.message == "agents/missing.yaml: no such file or directory"
    assert error.exit_code == ExitCode.SPEC


def test_unreadable_file(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: the tests may run as root, for whom chmod 000 does not stop reading.
    write("a.yaml", "name: a\n")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(load_module, "open", denied, raising=False)
    assert error_of(["a.yaml"]).message == "a.yaml: permission denied"


def test_a_file_is_read_whole_whatever_size_it_reported(here: Path, monkeypatch) -> None:
    # read to the size fstat gives (+1): one that grew since, or a FIFO (size 0), reads on
    path = write("grows.yaml", "name: grows\nsystem_prompt: " + "x" * 5000 + "\n")
    real = os.fstat
    for reported in (0, 10, 5030):
        monkeypatch.setattr(load_module.os, "fstat", lambda fd, n=reported: os.stat_result(
            (*real(fd)[:6], n, *real(fd)[7:])))
        [doc] = load_specs([path], env={})
        assert doc.data["system_prompt"] == "x" * 5000
    monkeypatch.setattr(load_module.os, "fstat", lambda fd: os.stat_result(
        (*real(fd)[:6], 10, *real(fd)[7:])))
    write("big.yaml", b"#" * (MAX_BYTES + 1))
    assert error_of(["big.yaml"]).message.startswith("big.yaml: larger than 10 MiB")


def test_too_big(here: Path) -> None:
    write("big.yaml", b"#" * (MAX_BYTES + 1))
    assert error_of(["big.yaml"]).message == "big.yaml: larger than 10 MiB; a spec is a few KiB"
    too_big = io.StringIO("#" * (MAX_BYTES + 1))
    assert error_of(["-"], stdin=too_big).message.startswith("<stdin>: larger than 10 MiB")


def test_invalid_utf8_names_line_and_byte(here: Path) -> None:
    error = load_error("a.yaml", b"name: a\nsystem_prompt: caf\xe9\n")
    assert error.message == "a.yaml:2: not valid UTF-8: byte 0xe9 at column 19 (offset 26)"
    assert error.hint == "save the file as UTF-8"


def test_utf16_and_utf8_bom(here: Path) -> None:
    assert load_error("a.yaml", "name: a\n".encode("utf-16")).message == (
        "a.yaml:1: the file is UTF-16; save it as UTF-8"
    )
    assert load_one("b.yaml", b"\xef\xbb\xbfname: b\n").data == {"name": "b"}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n---\n", "  \n"])
def test_empty_file(here: Path, text: str) -> None:
    assert load_error("a.yaml", text).message == "a.yaml: no agent in this file (it is empty)"


def test_empty_json_file(here: Path) -> None:
    assert load_error("a.json", " \n").message == "a.json: no agent in this file (it is empty)"


# -- YAML errors ----------------------------------------------------------------------------


def test_bad_yaml(here: Path) -> None:
    error = load_error("a.yaml", "name: a\nsystem_prompt: Note: this breaks\n")
    assert error.message == "a.yaml:2: bad YAML: mapping values are not allowed here"
    assert error.hint == "a value containing ': ' must be quoted"


def test_bad_yaml_tab(here: Path) -> None:
    error = load_error("a.yaml", "name: a\nvoice:\n\tvoice_id: ivy\n")
    assert error.message == "a.yaml:3: bad YAML: found character '\\t' that cannot start any token"
    assert error.hint == "indent YAML with spaces, not tabs"


def test_unprintable_character(here: Path) -> None:
    assert load_error("a.yaml", "name: a\nb: \x07\n").message == (
        "a.yaml:2: bad YAML: unacceptable character #x0007: special characters are not allowed"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- name: a\n", "a.yaml:1: expected an agent (a mapping) but found a list"),
        ("just words\n", "a.yaml:1: expected an agent (a mapping) but found a string"),
        ("name: a\n---\n42\n", "a.yaml:3: expected an agent (a mapping) but found a number"),
    ],
)
def test_top_level_not_a_mapping(here: Path, text: str, message: str) -> None:
    assert load_error("a.yaml", text).message == message


def test_duplicate_key_yaml_names_key_and_both_lines(here: Path) -> None:
    text = "name: a\ntools:\n  - name: t\n    description: x\n    name: u\n"
    assert load_error("a.yaml", text).message == (
        "a.yaml:5: tools[0].name: duplicate key 'name' (first on line 3)"
    )


def test_duplicate_key_json_names_key_and_both_lines(here: Path) -> None:
    text = '{\n  "voice": {"voice_id": "ivy",\n            "voice_id": "eve"}\n}'
    assert load_error("a.json", text).message == (
        "a.json:3: voice.voice_id: duplicate key 'voice_id' (first on line 2)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1: a\n", "a.yaml:1: keys must be strings; '1' reads as a number"),
        ("name: a\non: b\n", "a.yaml:2: keys must be strings; 'on' reads as a boolean "
                             "(YAML 1.1: yes/no/on/off too)"),
        ("voice:\n  ~: x\n", "a.yaml:2: voice: keys must be strings; '~' reads as null"),
        ("? [a]\n: b\n", "a.yaml:1: keys must be strings, not a list or mapping"),
    ],
)
def test_non_string_keys(here: Path, text: str, message: str) -> None:
    assert load_error("a.yaml", text).message == message


def test_non_string_key_hint(here: Path) -> None:
    assert load_error("a.yaml", "1: a\n").hint == 'quote the key: "1":'


def test_alias_bomb_is_stopped(here: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    error = load_error("bomb.yaml", "\n".join(lines) + "\n")
    # 11 + 111 + 1111 + 11111 values, then `e` (111111) crosses the budget
    assert error.message == (
        "bomb.yaml:5: e: too many aliases: the document expands to more than 100000 values"
    )


def test_recursive_alias(here: Path) -> None:
    assert load_error("a.yaml", "name: a\nx: &x [1, *x]\n").message == (
        "a.yaml:2: x[1]: recursive alias (an anchor that contains itself)"
    )


def test_undefined_alias(here: Path) -> None:
    assert load_error("a.yaml", "name: *nope\n").message == (
        "a.yaml:1: bad YAML: found undefined alias 'nope'"
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("flow.yaml", "[" * 5000 + "]" * 5000, "flow.yaml:1: nested more than 100 levels deep"),
        ("block.yaml", "".join(" " * i + "a:\n" for i in range(150)),
         "block.yaml:101: nested more than 100 levels deep"),
        ("deep.json", "[" * 5000 + "]" * 5000,
         "deep.json:1: bad JSON: nested more than 100 levels deep (column 102)"),
    ],
)
def test_deep_nesting_is_an_error_not_a_recursion_error(
    here: Path, name: str, text: str, message: str
) -> None:
    assert load_error(name, text).message == message


def test_unsafe_tags_are_refused_not_run(here: Path) -> None:
    text = "name: !!python/object/apply:os.system ['touch pwned']\n"
    assert load_error("a.yaml", text).message == (
        "a.yaml:1: name: unsupported YAML tag !!python/object/apply:os.system"
    )
    assert not Path("pwned").exists()
    assert load_error("b.yaml", "x: !custom 1\n").message == "b.yaml:1: x: unsupported YAML tag !custom"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v: .nan\n", "a.yaml:1: v: .nan is not a number JSON can carry"),
        ("v: -.inf\n", "a.yaml:1: v: -.inf is not a number JSON can carry"),
        ("v: " + "9" * 5000 + "\n", "a.yaml:1: v: '99999999999999999999...' is not a valid !!int"),
        ("v: !!int ''\n", "a.yaml:1: v: '' is not a valid !!int"),
        ("v: !!bool maybe\n", "a.yaml:1: v: 'maybe' is not a valid !!bool"),
    ],
)
def test_numbers_json_cannot_carry(here: Path, text: str, message: str) -> None:
    assert load_error("a.yaml", text).message == message


def test_merge_of_a_non_mapping(here: Path) -> None:
    assert load_error("a.yaml", "l: &l [1]\nm:\n  <<: *l\n").message == (
        "a.yaml:1: m: '<<' can only merge a mapping"
    )


def test_exactly_the_depth_limit_is_fine(here: Path) -> None:
    # 100 nested levels below the root: the limit is inclusive, in both formats.
    flow = "x: " + "[" * 99 + "1" + "]" * 99 + "\n"
    doc = load_one("ok.yaml", flow)
    assert doc.line_of(("x",) + (0,) * 99) == 1
    block = "".join(" " * i + "a:\n" for i in range(99)) + " " * 99 + "a: 1\n"
    assert load_one("ok2.yaml", block).line_of(("a",) * 100) == 100
    doc = load_one("ok.json", '{"x": ' + "[" * 99 + "1" + "]" * 99 + "}")
    assert doc.line_of(("x",) + (0,) * 99) == 1
    assert load_error("deep.yaml", block.replace("a: 1", "a: [1]")).message == (
        "deep.yaml:100: nested more than 100 levels deep"
    )


def test_unusable_file_name_and_closed_stdin() -> None:
    assert error_of(["a\x00b.yaml"]).message == "'a\\x00b.yaml': not a usable file name"
    closed = io.StringIO("name: a\n")
    closed.close()
    assert error_of(["-"], stdin=closed).message == (
        "<stdin>: cannot read: I/O operation on closed file"
    )


def test_too_many_values(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_module, "MAX_NODES", 50)  # the real cap takes ~1 s to reach
    flat = "".join(f"k{i}: {i}\n" for i in range(40))  # 81 nodes as written
    assert load_error("a.yaml", flat).message == "a.yaml:25: more than 50 values in one file"
    assert load_error("a.json", "[" + ",".join(["1"] * 60) + "]").message == (
        "a.json:1: bad JSON: more than 50 values in one file (column 100)"
    )
    # few nodes as written, many once aliases are expanded
    bomb = "a: &a [1, 2, 3, 4, 5, 6, 7, 8]\nb: [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    assert load_error("b.yaml", bomb).message == (
        "b.yaml:2: b: too many aliases: the document expands to more than 50 values"
    )


def test_messages_stay_on_one_line_whatever_the_keys_hold(here: Path) -> None:
    text = '{"voice": {"a\\nb": 1,\n "a\\nb": 2}}'
    assert load_error("a.json", text).message == (
        "a.json:2: voice.a\\nb: duplicate key 'a\\nb' (first on line 1)"
    )
    assert load_error("b.yaml", 'name: "${A\n  B}"\n').message == (
        'b.yaml:1: name: bad variable reference "${A B}": write ${NAME} or ${NAME:-default}, '
        "NAME being letters, digits and _ and not starting with a digit"
    )  # YAML folds the line break inside the quoted scalar into a space
    assert load_error("c.json", '{"name": "${A\\u2028B}"}').message == (
        'c.json:1: name: bad variable reference "${A\\u2028B}": write ${NAME} or '
        "${NAME:-default}, NAME being letters, digits and _ and not starting with a digit"
    )
