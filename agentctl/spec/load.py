"""Read spec files into documents that remember where every field came from.

Files (YAML, JSON, JSON with comments), directories, and `-` for stdin become a list of
`SpecDocument`s: one per agent, with `${VAR}` already replaced and a line for every field
path, so every later error can say `file:line: field: what is wrong`.

Every failure is a `SpecError` with one line; no input raises anything else. YAML is parsed
with PyYAML's safe composer only (no object construction): we build plain values from the
node graph ourselves, which gives us line numbers, duplicate-key detection, and a budget
against alias bombs. JSON(C) goes through the small position-tracking parser below, which
the stdlib `json` module cannot replace (it neither reports lines per path nor duplicates).
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from agentctl.errors import SpecError
from agentctl.spec.rules import format_path

if TYPE_CHECKING:
    import yaml

Path = tuple[str | int, ...]

MAX_BYTES = 10 * 1024 * 1024  # a spec is a few KiB; anything this big is a mistake
MAX_DEPTH = 100  # nesting levels; deeper input would hit Python's recursion limit
# Values per file as written, and per document with aliases expanded (the alias-bomb
# budget). A real spec has a few hundred; the cap bounds time and memory long before 10 MiB.
MAX_NODES = 100_000
SPEC_SUFFIXES = (".yaml", ".yml", ".json", ".jsonc")
STDIN_NAME = "<stdin>"


@dataclass
class SpecDocument:
    """One agent from a spec file.

    `index` counts the agents within the file (0-based; empty YAML documents are not
    counted, and for a JSON array it is the array index). `lines` maps a field path to
    its 1-based line; `variables` maps the path of each interpolated string to the
    variable names it used, and `templates` to its text before interpolation, so a
    renderer can show `Bearer ${WEATHER_KEY}` instead of the secret.
    """

    source: str
    index: int
    data: dict[str, Any]
    lines: dict[Path, int] = field(default_factory=dict, repr=False)
    variables: dict[Path, list[str]] = field(default_factory=dict)
    templates: dict[Path, str] = field(default_factory=dict, repr=False)

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of `path`, or of its nearest ancestor present in the file."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def where(self, path: Sequence[str | int] = ()) -> str:
        """`file:line` for a field path."""
        return f"{self.source}:{self.line_of(path)}"

    def error(
        self, path: Sequence[str | int], message: str, *, hint: str | None = None
    ) -> SpecError:
        """A SpecError `file:line: field: message` for a field of this document."""
        where = located(self.source, self.line_of(path), tuple(path), message)
        return SpecError(where, hint=hint)


def located(source: str, line: int | None, path: Path, message: str) -> str:
    """`file:line: field: message`, leaving out the parts that do not apply."""
    where = source if line is None else f"{source}:{line}"
    if path:
        return one_line(f"{where}: {format_path(path)}: {message}")
    return one_line(f"{where}: {message}")


# Control characters and Unicode line breaks, shown escaped: an error is always one line.
_ESCAPE_BREAKS = {c: repr(chr(c))[1:-1] for c in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)}


def one_line(text: str) -> str:
    """`text` with line breaks and control characters escaped (keys can hold them)."""
    return text.translate(_ESCAPE_BREAKS)


def _fail(
    source: str, line: int | None, message: str, *, path: Path = (), hint: str | None = None
) -> NoReturn:
    raise SpecError(located(source, line, path, message), hint=hint)


# -- entry point ------------------------------------------------------------------------


def load_specs(
    paths: Sequence[str], *, env: Mapping[str, str], stdin: TextIO | None = None
) -> list[SpecDocument]:
    """Load every agent from `paths` (files, directories, `-` for stdin), in order.

    `env` supplies `${VAR}` values: build it with `interpolate.build_env`, which merges
    `--env-file` values under the real environment.
    """
    from agentctl.spec.interpolate import interpolate_document

    docs: list[SpecDocument] = []
    stdin_used = False
    for given in paths:
        if given == "-":
            if stdin_used:
                _fail("-", None, "stdin can be read only once")
            stdin_used = True
            raw = _read_stdin(stdin if stdin is not None else sys.stdin)
            docs.extend(_parse(STDIN_NAME, raw, kind=None))
        elif os.path.isdir(given):
            for file in _directory_files(given):
                docs.extend(_parse(file, _read_file(file), kind=_kind_of(file)))
        else:
            docs.extend(_parse(given, _read_file(given), kind=_kind_of(given)))
    for doc in docs:
        interpolate_document(doc, env)
    return docs


def _kind_of(path: str) -> str | None:
    """'yaml', 'json', 'jsonc', or None (sniff the content) from a file name."""
    suffix = os.path.splitext(path)[1].lower()
    return {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonc": "jsonc"}.get(suffix)


def _directory_files(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        _fail(directory, None, f"cannot list directory: {exc.strerror or exc}")
    # Hidden files are skipped: editors and macOS leave `._x.yaml`-style junk behind.
    files = [
        os.path.join(directory, name)
        for name in names
        if not name.startswith(".")
        and name.lower().endswith(SPEC_SUFFIXES)
        and os.path.isfile(os.path.join(directory, name))
    ]
    if not files:
        _fail(
            directory, None, "no spec files in this directory",
            hint="a directory means every *.yaml, *.yml, *.json and *.jsonc file directly in it",
        )
    return files


# -- reading bytes ------------------------------------------------------------------------


def _read_file(path: str) -> str:
    try:
        # read() with a cap rather than stat(): FIFOs and /dev/fd/N have no size. A file
        # that has one is read to its size (+1, to see EOF): read(cap) would allocate the
        # whole 10 MiB buffer for every file, ~40 us each; one that grew since is read on.
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            want = size + 1 if 0 < size <= MAX_BYTES else MAX_BYTES + 1
            raw = fh.read(want)
            if len(raw) == want < MAX_BYTES + 1:
                raw += fh.read(MAX_BYTES + 1 - want)
    except FileNotFoundError:
        _fail(path, None, "no such file or directory")
    except IsADirectoryError:
        _fail(path, None, "is a directory")
    except PermissionError:
        _fail(path, None, "permission denied")
    except OSError as exc:
        _fail(path, None, f"cannot read: {exc.strerror or exc}")
    except ValueError:  # e.g. a NUL byte in the name
        _fail(repr(path), None, "not a usable file name")
    return _decode(path, raw)


def _read_stdin(stream: TextIO) -> str:
    # Prefer the byte stream so decoding (and its error message) is ours, not the locale's.
    buffer = getattr(stream, "buffer", None)
    try:
        if buffer is not None:
            return _decode(STDIN_NAME, buffer.read(MAX_BYTES + 1))
        text = stream.read(MAX_BYTES + 1)
    except UnicodeDecodeError as exc:
        _fail(STDIN_NAME, None, f"not valid UTF-8: {exc.reason}", hint="send UTF-8 text")
    except (OSError, ValueError) as exc:  # ValueError: a closed stream
        _fail(STDIN_NAME, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}")
    if len(text) > MAX_BYTES:
        _too_big(STDIN_NAME)
    return text


def _too_big(source: str) -> NoReturn:
    _fail(source, None, f"larger than {MAX_BYTES // (1024 * 1024)} MiB; a spec is a few KiB")


def _decode(source: str, raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        _too_big(source)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        _fail(source, 1, "the file is UTF-16; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")  # -sig: tolerate a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        _fail(
            source, line,
            f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {column} "
            f"(offset {exc.start})",
            hint="save the file as UTF-8",
        )


# -- parsing ------------------------------------------------------------------------------

_Parsed = tuple[Any, dict[Path, int]]  # one document's value and its line map


def _parse(source: str, text: str, *, kind: str | None) -> list[SpecDocument]:
    if kind is None:
        kind = "jsonc" if _looks_like_json(text) else "yaml"
    if kind == "yaml":
        parsed = _parse_yaml(source, text)
    else:
        parsed = _parse_json(source, text, comments=kind == "jsonc")
    if not parsed:
        _fail(source, None, "no agent in this file (it is empty)")
    docs = []
    for index, (value, lines) in enumerate(parsed):
        if not isinstance(value, dict):
            _fail(
                source, lines.get((), 1),
                f"expected an agent (a mapping) but found {_kind_name(value)}",
            )
        docs.append(SpecDocument(source=source, index=index, data=value, lines=lines))
    return docs


def _kind_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


_JSON_LEAD = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)


def _looks_like_json(text: str) -> bool:
    """`{` or `[` first, after whitespace and JSON comments."""
    end = _JSON_LEAD.match(text).end()  # type: ignore[union-attr]  # always matches
    return text[end : end + 1] in ("{", "[")


def _split_json_array(value: Any, lines: dict[Path, int]) -> list[_Parsed]:
    """A JSON file holds one agent, or an array of them: one document each.

    The line map is split in one pass (grouping by the first path element), so a file of
    N agents costs O(N), not N scans of every line.
    """
    if not isinstance(value, list):
        return [(value, lines)]
    subs: list[dict[Path, int]] = [{} for _ in value]
    for path, line in lines.items():
        if path:
            subs[path[0]][path[1:]] = line  # type: ignore[index]  # an array: int keys
    return list(zip(value, subs, strict=True))


# -- YAML ---------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _SEQ, _MAP, _MERGE = (_TAG + t for t in ("str", "null", "seq", "map", "merge"))
_TEXT_TAGS = (_STR, _TAG + "timestamp")  # timestamps stay text: the API speaks JSON
_YAML_HINTS = {
    "mapping values are not allowed here": "a value containing ': ' must be quoted",
    "found character '\\t' that cannot start any token": "indent YAML with spaces, not tabs",
    "found a tab character that violates indentation": "indent YAML with spaces, not tabs",
}


class _TooBig(Exception):
    """Raised from inside PyYAML's composer; turned into a SpecError with this message."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message


_loader_class: type | None = None


def _loader(text: str) -> yaml.SafeLoader:
    """A SafeLoader that refuses to compose more than MAX_DEPTH levels or MAX_NODES nodes.

    PyYAML's composer is recursive, so `[[[[...` 10,000 deep would otherwise end in a
    RecursionError; and it builds the whole node graph before we see it, so a huge flat
    file is stopped here rather than after minutes. Built on first use so that importing
    this module does not import yaml.
    """
    global _loader_class
    if _loader_class is None:
        import yaml

        class BoundedLoader(yaml.SafeLoader):
            depth = 0
            nodes = 0

            def compose_node(self, parent: Any, index: Any) -> Any:
                self.depth += 1
                self.nodes += 1
                try:
                    line = self.peek_event().start_mark.line + 1
                    # the root is level 1, so a value at path length N is at level N + 1
                    if self.depth > MAX_DEPTH + 1:
                        raise _TooBig(line, f"nested more than {MAX_DEPTH} levels deep")
                    if self.nodes > MAX_NODES:
                        raise _TooBig(line, f"more than {MAX_NODES} values in one file")
                    return super().compose_node(parent, index)
                finally:
                    self.depth -= 1

        _loader_class = BoundedLoader
    return _loader_class(text)  # type: ignore[no-any-return]


# The C loader (libyaml) composes ~8x faster than the pure-Python one; it is used when
# present, for files of at most MAX_NODES characters (it has no node budget of its own, and
# a value takes at least a character or so: its graph stays within the budget; its nesting
# limit, 1000, stops runaway depth). Any failure on that path is redone on the pure-Python
# loader, so messages and line numbers are exactly that loader's.
yaml_parses = {"fast": 0, "python": 0}  # counted for tests: which loader read each file


def _parse_yaml(source: str, text: str) -> list[_Parsed]:
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None and len(text) <= MAX_NODES and not _unprintable(text):
        try:
            parsed = _compose_yaml(source, text, fast(text))
        except (SpecError, _TooBig, yaml.YAMLError, RecursionError):
            pass
        else:
            yaml_parses["fast"] += 1
            return parsed
    yaml_parses["python"] += 1
    try:
        # the reader checks for unprintable characters right here
        return _compose_yaml(source, text, _loader(text))
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        _fail(source, line, f"bad YAML: unacceptable character #x{char:04x}: "
                            "special characters are not allowed")


def _unprintable(text: str) -> bool:
    """The pure-Python reader's check (libyaml's differs): such text takes that path."""
    from yaml.reader import Reader

    return Reader.NON_PRINTABLE.search(text) is not None


def _compose_yaml(source: str, text: str, loader: Any) -> list[_Parsed]:
    import yaml

    out: list[_Parsed] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
                continue  # an empty document (`---` with nothing after it)
            builder = _YamlBuilder(source, loader)
            value = builder.build(node, ())
            builder.lines[()] = node.start_mark.line + 1
            out.append((value, builder.lines))
    except _TooBig as exc:
        _fail(source, exc.line, exc.message)
    except yaml.reader.ReaderError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        _fail(
            source, mark.line + 1 if mark else None, f"bad YAML: {problem}",
            hint=_YAML_HINTS.get(problem),
        )
    except yaml.YAMLError as exc:
        _fail(source, None, f"bad YAML: {' '.join(str(exc).split())}")
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()
    return out


class _YamlBuilder:
    """Plain values from a composed node graph, recording the line of every path."""

    def __init__(self, source: str, loader: Any) -> None:
        import yaml

        self.yaml = yaml
        self.source = source
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.count = 0
        self.active: set[int] = set()  # nodes being built: an alias back to one is a cycle
        self.constructors = {
            _TAG + "bool": loader.construct_yaml_bool,
            _TAG + "int": loader.construct_yaml_int,
            _TAG + "float": loader.construct_yaml_float,
        }

    def fail(self, node: Any, message: str, path: Path = ()) -> NoReturn:
        _fail(self.source, node.start_mark.line + 1, message, path=path)

    def build(self, node: Any, path: Path) -> Any:
        yaml = self.yaml
        # Aliases are shared nodes in the graph; counting every build counts expansions.
        self.count += 1
        if self.count > MAX_NODES:
            # `node` sits where its anchor was defined; the top-level key is what expanded
            _fail(self.source, self.lines.get(path[:1], node.start_mark.line + 1),
                  f"too many aliases: the document expands to more than {MAX_NODES} values",
                  path=path[:1])
        if len(path) > MAX_DEPTH:
            self.fail(node, f"nested more than {MAX_DEPTH} levels deep")
        if id(node) in self.active:
            self.fail(node, "recursive alias (an anchor that contains itself)", path)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
                return self.sequence(node, path)
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        self.fail(node, f"unsupported YAML tag {_short_tag(node.tag)}", path)

    def scalar(self, node: Any, path: Path) -> Any:
        tag = node.tag
        if tag in _TEXT_TAGS:
            return node.value
        if tag == _NULL:
            return None
        construct = self.constructors.get(tag)
        if construct is None:
            self.fail(node, f"unsupported YAML tag {_short_tag(tag)}", path)
        try:
            value = construct(node)
        except Exception:  # PyYAML's constructors raise IndexError, KeyError, ValueError...
            # e.g. `!!int ''`, `!!bool maybe`, or an integer over Python's 4300-digit limit
            shown = node.value if len(node.value) <= 20 else node.value[:20] + "..."
            self.fail(node, f"{shown!r} is not a valid {_short_tag(tag)}", path)
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, f"{node.value} is not a number JSON can carry", path)
        return value

    def sequence(self, node: Any, path: Path) -> list[Any]:
        out = []
        for i, item in enumerate(node.value):
            self.lines[(*path, i)] = item.start_mark.line + 1
            out.append(self.build(item, (*path, i)))
        return out

    def mapping(self, node: Any, path: Path) -> dict[str, Any]:
        yaml = self.yaml
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges = [v for k, v in node.value if k.tag == _MERGE]
        # `<<: *base` (or a list of them): earlier sources win, explicit keys win over all.
        for source_node in reversed(merges):
            sources = source_node.value if isinstance(source_node, yaml.SequenceNode) else [
                source_node
            ]
            for src in reversed(sources):
                if not isinstance(src, yaml.MappingNode):
                    self.fail(src, "'<<' can only merge a mapping", path)
                value = self.build(src, path)
                merged.update(value)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.fail(
                    key_node, f"duplicate key {key!r} (first on line {first_line[key]})",
                    (*path, key),
                )
            first_line[key] = line
            self.lines[(*path, key)] = line
            explicit[key] = self.build(value_node, (*path, key))
        return {**merged, **explicit}

    def key(self, node: Any, path: Path) -> str:
        if isinstance(node, self.yaml.ScalarNode):
            if node.tag == _STR:
                return str(node.value)
            kind = _YAML_KEY_KINDS.get(node.tag, node.tag)
            _fail(
                self.source, node.start_mark.line + 1,
                f"keys must be strings; {node.value!r} reads as {kind}",
                path=path, hint=f'quote the key: "{node.value}":',
            )
        self.fail(node, "keys must be strings, not a list or mapping", path)


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


_YAML_KEY_KINDS = {
    _TAG + "bool": "a boolean (YAML 1.1: yes/no/on/off too)",
    _TAG + "int": "a number",
    _TAG + "float": "a number",
    _TAG + "null": "null",
    _TAG + "timestamp": "a date",
}


# -- JSON / JSONC -------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_STRING_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
            "t": "\t"}
_JSONC_HINT = "comments and trailing commas need the .jsonc extension"


def _parse_json(source: str, text: str, *, comments: bool) -> list[_Parsed]:
    parser = _JsonParser(source, text, comments=comments)
    parser.skip()
    if parser.pos >= len(text):
        return []
    value = parser.value((), 0)
    parser.lines[()] = parser.root_line
    parser.skip()
    if parser.pos < len(text):
        parser.fail("unexpected content after the JSON value")
    return _split_json_array(value, parser.lines)


class _JsonParser:
    """Recursive descent over JSON (optionally with comments and trailing commas).

    Records the line of every object member's key and every array element. Recursion is
    bounded by MAX_DEPTH, so no input can reach Python's recursion limit.
    """

    def __init__(self, source: str, text: str, *, comments: bool) -> None:
        self.source = source
        self.text = text
        self.comments = comments
        self.pos = 0
        self.line = 1
        self.line_start = 0  # offset of the current line, for column numbers
        self.root_line = 1
        self.lines: dict[Path, int] = {}
        self.nodes = 0

    def fail(self, message: str, *, hint: str | None = None) -> NoReturn:
        column = self.pos - self.line_start + 1
        _fail(self.source, self.line, f"bad JSON: {message} (column {column})", hint=hint)

    def _newlines(self, start: int, end: int) -> None:
        count = self.text.count("\n", start, end)
        if count:
            self.line += count
            self.line_start = self.text.rfind("\n", start, end) + 1

    def skip(self) -> None:
        """Skip whitespace and, in JSONC, comments."""
        text = self.text
        while True:
            end = _WS.match(text, self.pos).end()  # type: ignore[union-attr]
            self._newlines(self.pos, end)
            self.pos = end
            if not text.startswith("/", end):
                return
            if not self.comments:
                if text.startswith(("//", "/*"), end):
                    self.fail("comments are not allowed in JSON", hint=_JSONC_HINT)
                return
            if text.startswith("//", end):
                stop = text.find("\n", end)
                self.pos = len(text) if stop < 0 else stop
            elif text.startswith("/*", end):
                stop = text.find("*/", end + 2)
                if stop < 0:
                    self.fail("unterminated /* comment")
                self._newlines(end, stop)
                self.pos = stop + 2
            else:
                return

    def found(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the file"
        return repr(self.text[self.pos])

    def value(self, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(f"more than {MAX_NODES} values in one file")
        if not path:
            self.root_line = self.line
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            return self.object(path, depth)
        if char == "[":
            return self.array(path, depth)
        if char == '"':
            return self.string()
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        match = _NUMBER.match(self.text, self.pos)
        if match and match.end() > self.pos:
            return self.number(match)
        self.fail(f"expected a value, found {self.found()}")

    def number(self, match: re.Match[str]) -> int | float:
        digits = match.group()
        self.pos = match.end()
        try:
            if match.group(1) or match.group(2):
                value = float(digits)
                if math.isfinite(value):
                    return value
            else:
                return int(digits)
        except ValueError:
            pass
        self.fail(f"number out of range: {digits[:20]}")

    def string(self) -> str:
        text = self.text
        self.pos += 1  # the opening quote
        parts: list[str] = []
        while True:
            end = _STRING_CHUNK.match(text, self.pos).end()  # type: ignore[union-attr]
            parts.append(text[self.pos : end])
            self.pos = end
            if end >= len(text):
                self.fail("unterminated string")
            char = text[end]
            if char == '"':
                self.pos += 1
                return "".join(parts)
            if char != "\\":
                what = "a line break" if char in "\r\n" else f"control character {char!r}"
                self.fail(f"{what} inside a string (write it as an escape)")
            code = text[end + 1 : end + 2]
            if code in _ESCAPES:
                parts.append(_ESCAPES[code])
                self.pos += 2
            elif code == "u":
                parts.append(self.unicode_escape())
            else:
                self.fail(f"invalid escape \\{code}")

    def unicode_escape(self) -> str:
        start = self.pos
        unit = self._hex4(self.pos + 2)
        self.pos += 6
        if 0xD800 <= unit <= 0xDBFF and self.text.startswith("\\u", self.pos):
            low = self._hex4(self.pos + 2)
            if 0xDC00 <= low <= 0xDFFF:
                self.pos += 6
                return chr(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        if 0xD800 <= unit <= 0xDFFF:
            # A lone surrogate cannot be encoded as UTF-8 later; refuse it here.
            self.pos = start
            self.fail(f"invalid \\u escape: lone surrogate \\u{unit:04x}")
        return chr(unit)

    def _hex4(self, at: int) -> int:
        digits = self.text[at : at + 4]
        if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            self.fail("invalid \\u escape: expected four hex digits")
        return int(digits, 16)

    def object(self, path: Path, depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return out
        while True:
            if not self.text.startswith('"', self.pos):
                self.fail(f"expected a key in double quotes, found {self.found()}")
            line = self.line
            key = self.string()
            if key in first_line:
                # valid JSON syntax, but one value would silently win: say where both are
                _fail(self.source, line, f"duplicate key {key!r} (first on line "
                      f"{first_line[key]})", path=(*path, key))
            first_line[key] = line
            self.lines[(*path, key)] = line
            self.skip()
            if not self.text.startswith(":", self.pos):
                self.fail(f"expected ':' after a key, found {self.found()}")
            self.pos += 1
            self.skip()
            out[key] = self.value((*path, key), depth + 1)
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            if not self.text.startswith(",", self.pos):
                self.fail(f"expected ',' or '}}', found {self.found()}")
            self.pos += 1
            self.skip()
            if self.text.startswith("}", self.pos):
                if not self.comments:
                    self.fail("trailing comma before '}'", hint=_JSONC_HINT)
                self.pos += 1
                return out

    def array(self, path: Path, depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return out
        while True:
            self.lines[(*path, len(out))] = self.line
            out.append(self.value((*path, len(out)), depth + 1))
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return out
            if not self.text.startswith(",", self.pos):
                self.fail(f"expected ',' or ']', found {self.found()}")
            self.pos += 1
            self.skip()
            if self.text.startswith("]", self.pos):
                if not self.comments:
                    self.fail("trailing comma before ']'", hint=_JSONC_HINT)
                self.pos += 1
                return out
