"""Test files: conversation tests for `agentctl test` (the model and its offline checks).

A test file is YAML or JSON read by the spec loader (so `${VAR}`, line numbers and errors
work as in spec files); what tells it from an agent spec is its top-level `tests:` list,
a field no agent has. Layout (see docs/testing.md):

    agent: support-frontdesk          # defaults for every test below (each may override):
    # spec: ../agents/frontdesk.yaml  #   a stored agent (name or id) xor a spec file
    tools: {lookup_order: {result: {status: shipped}}}
    expect: [{no_session_error: true}, {ended_cleanly: true}]
    tests:
      - name: answers an order question
        caller: {turns: [audio/order.wav]}      # or {persona: {...}}, or none
        expect:
          - said: "shipped|on its way"
            turn: 1
          - tool_called: lookup_order
            arguments: {order_number: "123456"}

Paths (`spec`, WAV files, `./` commands) are relative to the test file's directory.
Patterns are regular expressions searched case-insensitively. In expected `arguments`
(and a tool answer's `match`), a mapping matches a subset of the call's keys and a string
written `/REGEX/` matches by pattern; other values must be equal.

Everything here is pure: `check_test_document` lists the problems (for `validate`),
`parse_test_document` raises the first one (for `test`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentctl.errors import SpecError
    from agentctl.spec.load import Path, SpecDocument

MARKER = "tests"  # the top-level key that makes a document a test file
FILE_KEYS = ("$schema", "tests", "agent", "spec", "caller", "tools", "expect", "timeout")
TEST_KEYS = ("name", "agent", "spec", "caller", "tools", "expect", "timeout")
CALLER_KEYS = ("turns", "persona")
PERSONA_KEYS = ("system_prompt", "voice", "opening_line", "max_turns", "done_when")
TOOL_KEYS = ("result", "match", "command")
MATCH_KEYS = ("arguments", "result")
# Each expectation is a mapping with one of these keys, and the modifiers listed for it.
EXPECT_KINDS: dict[str, tuple[str, ...]] = {
    "said": ("turn",),
    "not_said": ("turn",),
    "tool_called": ("arguments", "turn"),
    "tool_not_called": (),
    "max_turns": (),
    "first_audio_ms": (),
    "ended_cleanly": (),
    "no_session_error": (),
}
DEFAULT_TIMEOUT = 300.0  # seconds of wall time for one test, at --speed 1
DEFAULT_PERSONA_TURNS = 6
WAV_SUFFIXES = (".wav", ".wave")


def is_test_document(data: Any) -> bool:
    return isinstance(data, dict) and MARKER in data


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentRef:
    """The agent under test: a stored one (`agent`: name or id) or a spec file connected
    inline (`spec`: path; `agent` then picks a document of a multi-agent file by name)."""

    stored: str | None = None
    spec: str | None = None
    where: str = ""

    def describe(self) -> str:
        if self.spec is not None:
            return f"{self.spec}" + (f" ({self.stored})" if self.stored else "")
        return str(self.stored)


@dataclass(frozen=True)
class Persona:
    system_prompt: str
    voice: str | None = None
    opening_line: str | None = None
    max_turns: int = DEFAULT_PERSONA_TURNS
    done_when: str | None = None  # a pattern: the caller saying it ends the conversation


@dataclass(frozen=True)
class Caller:
    """Recorded turns (WAV paths, one per user turn), a simulated caller, or neither
    (the session hears the greeting and ends)."""

    turns: tuple[str, ...] = ()
    persona: Persona | None = None


@dataclass(frozen=True)
class ToolRule:
    arguments: Any  # None: any call
    result: str


@dataclass(frozen=True)
class ToolStub:
    """How the test answers one client tool: a fixed result, a result per argument
    match (first match wins), or a command (as `connect --tool NAME=COMMAND`)."""

    name: str
    result: str | None = None
    match: tuple[ToolRule, ...] = ()
    command: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Expectation:
    kind: str
    value: Any
    turn: int | str | None = None  # an int (user turn, from 1) or "greeting"
    arguments: Any = None
    where: str = ""

    def describe(self) -> str:
        """A short, stable label (a line of output, a JUnit property)."""
        at = "" if self.turn is None else (
            " in the greeting" if self.turn == "greeting" else f" in turn {self.turn}")
        if self.kind == "said":
            return f"said /{self.value}/{at}"
        if self.kind == "not_said":
            return f"never said /{self.value}/{at}"
        if self.kind == "tool_called":
            args = "" if self.arguments is None else f" with {_short(self.arguments)}"
            return f"called {self.value}{args}{at}"
        if self.kind == "tool_not_called":
            return f"did not call {self.value}"
        if self.kind == "max_turns":
            return f"at most {self.value} turn{'s' if self.value != 1 else ''}"
        if self.kind == "first_audio_ms":
            parts = [f"{k} <= {v:g} ms" for k, v in self.value.items()]
            return "first reply audio " + ", ".join(parts)
        if self.kind == "ended_cleanly":
            return "session ended cleanly"
        return "no session.error"


@dataclass(frozen=True)
class TestCase:
    name: str
    source: str  # the test file
    line: int
    agent: AgentRef
    caller: Caller = field(default_factory=Caller)
    tools: dict[str, ToolStub] = field(default_factory=dict)
    expect: tuple[Expectation, ...] = ()
    timeout: float = DEFAULT_TIMEOUT

    @property
    def id(self) -> str:
        return f"{self.source}::{self.name}"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


# -- matching (shared by expectations and tool answers) -------------------------------------


def search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def matches(expected: Any, actual: Any) -> bool:
    """A mapping matches a subset of keys; `/REGEX/` a string by pattern; lists item by
    item; anything else by equality (1 == 1.0, but "1" != 1)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            matches(e, a) for e, a in zip(expected, actual, strict=True))
    pattern = regex_of(expected)
    if pattern is not None:
        return isinstance(actual, str) and search(pattern, actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def regex_of(value: Any) -> str | None:
    if isinstance(value, str) and len(value) >= 2 and value.startswith("/") and (
            value.endswith("/")):
        return value[1:-1]
    return None


# -- reading and checking -------------------------------------------------------------------


class _Problems:
    """Problems found in one document: (field path, message)."""

    def __init__(self, doc: SpecDocument) -> None:
        self.doc = doc
        self.items: list[tuple[Path, str]] = []

    def add(self, path: Path, message: str) -> None:
        if (path, message) not in self.items:  # a file-level default is read per test
            self.items.append((path, message))

    def first_error(self) -> SpecError | None:
        if not self.items:
            return None
        path, message = self.items[0]
        more = len(self.items) - 1
        hint = "see: agentctl validate -f FILE (every problem), docs/testing.md"
        return self.doc.error(path, message + (f" (and {more} more)" if more else ""),
                              hint=hint)


def check_test_document(doc: SpecDocument) -> list[tuple[Path, str]]:
    """Every problem in a test file, as (field path, message): for `validate`."""
    problems = _Problems(doc)
    _read(doc, problems)
    return problems.items


def parse_test_document(doc: SpecDocument) -> list[TestCase]:
    """The tests of one test file; the first problem as a SpecError (file:line: field)."""
    problems = _Problems(doc)
    tests = _read(doc, problems)
    error = problems.first_error()
    if error is not None:
        raise error
    return tests


def _read(doc: SpecDocument, problems: _Problems) -> list[TestCase]:
    data = doc.data
    base = os.path.dirname(doc.source) if doc.source not in ("<stdin>", "-") else "."
    for key in data:
        if key not in FILE_KEYS:
            problems.add((key,), f"unknown field (a test file has {', '.join(FILE_KEYS[1:])})")
    raw_tests = data.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        problems.add(("tests",), "must be a non-empty list of tests")
        return []
    defaults: dict[str, Any] = {}
    file_tools = _tools(doc, ("tools",), data.get("tools"), base, problems) if (
        "tools" in data) else {}
    file_expect = _expectations(doc, ("expect",), data.get("expect"), problems) if (
        "expect" in data) else []
    for key in ("agent", "spec", "caller", "timeout"):
        if key in data:
            defaults[key] = ((key,), data[key])
    names: dict[str, int] = {}
    tests: list[TestCase] = []
    for i, raw in enumerate(raw_tests):
        at: Path = ("tests", i)
        if not isinstance(raw, dict):
            problems.add(at, "must be a mapping (name, agent or spec, caller, tools, expect)")
            continue
        for key in raw:
            if key not in TEST_KEYS:
                problems.add((*at, key), f"unknown field (a test has {', '.join(TEST_KEYS)})")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.add((*at, "name"), "required: a name for the test")
            name = f"test {i + 1}"
        elif name in names:
            problems.add((*at, "name"), f"{name!r} is also the name of tests[{names[name]}]")
        names.setdefault(name, i)

        def pick(key: str, raw: dict[str, Any] = raw, at: Path = at) -> tuple[Path, Any]:
            if key in raw:
                return (*at, key), raw[key]
            return defaults.get(key, ((*at, key), None))

        agent = _agent_ref(doc, pick, raw, base, problems, at)
        caller_path, caller_raw = pick("caller")
        caller = _caller(doc, caller_path, caller_raw, base, problems)
        tools = dict(file_tools)
        if "tools" in raw:
            tools.update(_tools(doc, (*at, "tools"), raw["tools"], base, problems))
        expect = list(file_expect)
        if "expect" in raw:
            expect.extend(_expectations(doc, (*at, "expect"), raw["expect"], problems))
        timeout_path, timeout = pick("timeout")
        if isinstance(timeout, str):  # e.g. from ${TEST_TIMEOUT}
            with contextlib.suppress(ValueError):
                timeout = float(timeout)
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        elif isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            problems.add(timeout_path, "must be a number of seconds above 0")
            timeout = DEFAULT_TIMEOUT
        tests.append(TestCase(
            name=name, source=doc.source, line=doc.line_of(at), agent=agent, caller=caller,
            tools=tools, expect=tuple(expect), timeout=float(timeout)))
    return tests


def _agent_ref(doc: SpecDocument, pick: Any, raw: dict[str, Any], base: str,
               problems: _Problems, at: Path) -> AgentRef:
    # A test's own agent or spec replaces both defaults (a stored agent in the test and a
    # spec file at the top would otherwise combine into "pick this name from that file").
    if "agent" in raw or "spec" in raw:
        agent_path, agent = ((*at, "agent"), raw.get("agent"))
        spec_path, spec = ((*at, "spec"), raw.get("spec"))
    else:
        agent_path, agent = pick("agent")
        spec_path, spec = pick("spec")
    if agent is not None and (not isinstance(agent, str) or not agent.strip()):
        problems.add(agent_path, "must be an agent's name or id")
        agent = None
    if spec is not None and (not isinstance(spec, str) or not spec.strip()):
        problems.add(spec_path, "must be the path of a spec file")
        spec = None
    if spec is not None:
        spec = os.path.normpath(os.path.join(base, spec))
        if not os.path.isfile(spec):
            problems.add(spec_path, f"no such spec file: {spec}")
    # No agent at all is fine here: `--agent` may supply it (checked when the test runs).
    return AgentRef(stored=agent, spec=spec, where=doc.where(spec_path if spec else agent_path))


def _caller(doc: SpecDocument, path: Path, raw: Any, base: str,
            problems: _Problems) -> Caller:
    if raw is None:
        return Caller()
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping: turns (WAV files) or persona")
        return Caller()
    for key in raw:
        if key not in CALLER_KEYS:
            problems.add((*path, key), "unknown field (expected turns or persona)")
    if "turns" in raw and "persona" in raw:
        problems.add(path, "give turns (recorded) or persona (simulated), not both")
        return Caller()
    if "turns" in raw:
        turns = raw["turns"]
        if not isinstance(turns, list) or not turns:
            problems.add((*path, "turns"), "must be a non-empty list of WAV files")
            return Caller()
        files = []
        for j, item in enumerate(turns):
            if not isinstance(item, str) or not item.lower().endswith(WAV_SUFFIXES):
                problems.add((*path, "turns", j), "must be the path of a .wav file")
                continue
            wav = os.path.normpath(os.path.join(base, item))
            if not os.path.isfile(wav):
                problems.add((*path, "turns", j), f"no such file: {wav}")
            files.append(wav)
        return Caller(turns=tuple(files))
    if "persona" in raw:
        return Caller(persona=_persona(doc, (*path, "persona"), raw["persona"], problems))
    return Caller()


def _persona(doc: SpecDocument, path: Path, raw: Any, problems: _Problems) -> Persona | None:
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping (system_prompt, voice, opening_line, max_turns)")
        return None
    for key in raw:
        if key not in PERSONA_KEYS:
            problems.add((*path, key), f"unknown field (expected {', '.join(PERSONA_KEYS)})")
    prompt = raw.get("system_prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.add((*path, "system_prompt"), "required: who the caller is and what they want")
        prompt = ""
    texts: dict[str, str | None] = {}
    for key in ("voice", "opening_line", "done_when"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.add((*path, key), "must be a non-empty string")
            value = None
        texts[key] = value
    if texts["done_when"] is not None:
        _check_pattern(texts["done_when"], (*path, "done_when"), problems)
    turns = raw.get("max_turns", DEFAULT_PERSONA_TURNS)
    if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= 100:
        problems.add((*path, "max_turns"), "must be a whole number from 1 to 100")
        turns = DEFAULT_PERSONA_TURNS
    return Persona(system_prompt=prompt, voice=texts["voice"],
                   opening_line=texts["opening_line"], max_turns=turns,
                   done_when=texts["done_when"])


def _result_text(value: Any) -> str:
    """A tool result as sent: a string as it is, other data as JSON."""
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _tools(doc: SpecDocument, path: Path, raw: Any, base: str,
           problems: _Problems) -> dict[str, ToolStub]:
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping of tool name to its answer")
        return {}
    stubs: dict[str, ToolStub] = {}
    for name, spec in raw.items():
        at = (*path, name)
        if not isinstance(spec, dict):  # shorthand: the fixed result itself
            stubs[name] = ToolStub(name, result=_result_text(spec))
            continue
        for key in spec:
            if key not in TOOL_KEYS:
                problems.add((*at, key), "unknown field (expected result, match or command)")
        given = [k for k in TOOL_KEYS if k in spec]
        if len(given) != 1:
            problems.add(at, "give exactly one of result, match, command")
            continue
        if "result" in spec:
            stubs[name] = ToolStub(name, result=_result_text(spec["result"]))
        elif "command" in spec:
            argv = _command(spec["command"], (*at, "command"), base, problems)
            stubs[name] = ToolStub(name, command=argv)
        else:
            rules = _match_rules(spec["match"], (*at, "match"), problems)
            stubs[name] = ToolStub(name, match=rules)
    return stubs


def _command(raw: Any, path: Path, base: str, problems: _Problems) -> tuple[str, ...] | None:
    if isinstance(raw, str):
        try:
            argv = shlex.split(raw)
        except ValueError as exc:
            problems.add(path, f"cannot parse the command: {exc}")
            return None
    elif isinstance(raw, list) and all(isinstance(a, str) for a in raw):
        argv = list(raw)
    else:
        problems.add(path, "must be a command line (a string, or a list of arguments)")
        return None
    if not argv or not argv[0]:
        problems.add(path, "empty command")
        return None
    if argv[0].startswith(("./", "../")):  # relative to the test file, not the cwd
        argv[0] = os.path.normpath(os.path.join(base, argv[0]))
    return tuple(argv)


def _match_rules(raw: Any, path: Path, problems: _Problems) -> tuple[ToolRule, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(path, "must be a non-empty list of {arguments, result}")
        return ()
    rules = []
    for j, item in enumerate(raw):
        at = (*path, j)
        if not isinstance(item, dict) or "result" not in item:
            problems.add(at, "must be a mapping with a result (and arguments to match)")
            continue
        for key in item:
            if key not in MATCH_KEYS:
                problems.add((*at, key), "unknown field (expected arguments, result)")
        arguments = item.get("arguments")
        if arguments is not None:
            _check_value_patterns(arguments, (*at, "arguments"), problems)
        rules.append(ToolRule(arguments, _result_text(item["result"])))
    return tuple(rules)


def _expectations(doc: SpecDocument, path: Path, raw: Any,
                  problems: _Problems) -> list[Expectation]:
    if not isinstance(raw, list):
        problems.add(path, "must be a list of expectations")
        return []
    found = []
    for j, item in enumerate(raw):
        at = (*path, j)
        if not isinstance(item, dict):
            problems.add(at, f"must be a mapping, e.g. {{said: PATTERN}} (kinds: "
                         f"{', '.join(EXPECT_KINDS)})")
            continue
        kinds = [k for k in item if k in EXPECT_KINDS]
        if len(kinds) != 1:
            problems.add(at, "must have exactly one of " + ", ".join(EXPECT_KINDS))
            continue
        kind = kinds[0]
        for key in item:
            if key != kind and key not in EXPECT_KINDS[kind]:
                allowed = EXPECT_KINDS[kind]
                problems.add((*at, key), f"not a modifier of {kind}" + (
                    f" (it takes {', '.join(allowed)})" if allowed else ""))
        expectation = _expectation(doc, at, kind, item, problems)
        if expectation is not None:
            found.append(expectation)
    return found


def _expectation(doc: SpecDocument, at: Path, kind: str, item: dict[str, Any],
                 problems: _Problems) -> Expectation | None:
    value = item[kind]
    where = doc.where((*at, kind))
    turn = item.get("turn")
    if turn is not None and turn != "greeting" and (
            isinstance(turn, bool) or not isinstance(turn, int) or turn < 1):
        problems.add((*at, "turn"), 'must be a user turn number (from 1) or "greeting"')
        turn = None
    if kind in ("said", "not_said"):
        if not isinstance(value, str) or not value:
            problems.add((*at, kind), "must be a pattern (a regular expression)")
            return None
        _check_pattern(value, (*at, kind), problems)
    elif kind in ("tool_called", "tool_not_called"):
        if not isinstance(value, str) or not value.strip():
            problems.add((*at, kind), "must be a tool name")
            return None
        arguments = item.get("arguments")
        if arguments is not None:
            if not isinstance(arguments, dict):
                problems.add((*at, "arguments"), "must be a mapping (a subset of the call's "
                             "arguments)")
            else:
                _check_value_patterns(arguments, (*at, "arguments"), problems)
    elif kind == "max_turns":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.add((*at, kind), "must be a whole number (0 or more)")
            return None
    elif kind == "first_audio_ms":
        if not isinstance(value, dict) or not value or any(
                k not in ("median", "max") for k in value):
            problems.add((*at, kind), "must be a mapping with median and/or max (ms)")
            return None
        for key, bound in value.items():
            if isinstance(bound, bool) or not isinstance(bound, int | float) or bound <= 0:
                problems.add((*at, kind, key), "must be a number of milliseconds above 0")
                return None
        value = {k: float(value[k]) for k in ("median", "max") if k in value}
    elif value is not True:
        problems.add((*at, kind), "must be true (leave it out to not check it)")
        return None
    return Expectation(kind=kind, value=value, turn=turn, arguments=item.get("arguments"),
                       where=where)


def _check_pattern(pattern: str, path: Path, problems: _Problems) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        problems.add(path, f"not a valid regular expression: {exc}")


def _check_value_patterns(value: Any, path: Path, problems: _Problems) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_value_patterns(item, (*path, key), problems)
    elif isinstance(value, list):
        for j, item in enumerate(value):
            _check_value_patterns(item, (*path, j), problems)
    else:
        pattern = regex_of(value)
        if pattern is not None:
            _check_pattern(pattern, path, problems)


def load_tests(paths: Sequence[str], env: Any) -> list[TestCase]:
    """Every test in `paths` (files and directories of test files), in order."""
    from agentctl.spec.load import load_specs

    tests: list[TestCase] = []
    for doc in load_specs(list(paths), env=env):
        if not is_test_document(doc.data):
            raise doc.error((), "not a test file: it has no `tests:` list (an agent spec? "
                            "give agents with --agent, or as `spec:` in a test file)",
                            hint="see docs/testing.md")
        tests.extend(parse_test_document(doc))
    return tests


def load_test_schema() -> dict[str, Any]:
    """The JSON Schema of a test file (`agentctl schema --kind test`), for editors."""
    import json
    from importlib import resources

    text = resources.files("agentctl.spec").joinpath("testfile.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
