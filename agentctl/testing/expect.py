"""Expectations, checked against what happened in a test's session (deterministically).

Each expectation of a test becomes one `Check` (pass or fail, and why); so do the checks
every test gets: every tool call answered, and the conversation ran to its end.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from agentctl.spec.testfile import Expectation, matches, search


@dataclass(frozen=True)
class Line:
    """One line of the transcript: who spoke (`agent` or `user`), in which user turn
    (0 before the first: the greeting), and what was said."""

    who: str
    turn: int
    text: str
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"who": self.who, "turn": self.turn, "text": self.text,
                "interrupted": self.interrupted}


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Any
    turn: int
    answered: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "turn": self.turn,
                "answered": self.answered}


@dataclass
class Observed:
    """What the agent's session showed: transcript, tool calls, latencies, errors."""

    lines: list[Line] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    user_turns: int = 0
    first_audio_ms: list[int] = field(default_factory=list)  # one per measured user turn
    session_errors: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False  # session.ended was received
    outcome: str = ""  # the session runner's: done, timeout, ended, ...
    unanswered: list[str] = field(default_factory=list)  # why calls went unanswered
    incomplete: str | None = None  # why the conversation did not run to its end


@dataclass(frozen=True)
class Check:
    label: str
    passed: bool
    detail: str = ""
    where: str = ""  # file:line of the expectation ("" for the checks every test gets)
    kind: str = ""
    turn: int | None = None  # the user turn the failure is about, for the transcript shown

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "passed": self.passed,
                "detail": self.detail or None, "where": self.where or None}


def turn_number(turn: int | str | None) -> int | None:
    return 0 if turn == "greeting" else turn if isinstance(turn, int) else None


def evaluate(expectations: tuple[Expectation, ...], seen: Observed) -> list[Check]:
    checks = [_check(e, seen) for e in expectations]
    checks.append(Check(
        "every tool call answered", not seen.unanswered, "; ".join(seen.unanswered),
        kind="tools_answered"))
    checks.append(Check(
        "the conversation ran to its end", seen.incomplete is None, seen.incomplete or "",
        kind="completed", turn=seen.user_turns or None))
    return checks


def _check(e: Expectation, seen: Observed) -> Check:
    label = e.describe()
    turn = turn_number(e.turn)

    def result(passed: bool, detail: str = "", at: int | None = turn) -> Check:
        return Check(label, passed, "" if passed else detail, e.where, e.kind, at)

    if e.kind in ("said", "not_said"):
        said = [ln for ln in seen.lines if ln.who == "agent" and (turn is None or ln.turn == turn)]
        hits = [ln for ln in said if search(e.value, ln.text)]
        if e.kind == "said":
            if hits:
                return result(True)
            if not said:
                where = "" if turn is None else (
                    " in the greeting" if turn == 0 else f" in turn {turn}")
                return result(False, f"the agent said nothing{where}")
            return result(False, f"no agent line matched; last: {said[-1].text!r}")
        if hits:
            return result(False, f"the agent said {hits[0].text!r}", hits[0].turn)
        return result(True)
    if e.kind == "tool_called":
        calls = [c for c in seen.tool_calls
                 if c.name == e.value and (turn is None or c.turn == turn)]
        if any(e.arguments is None or matches(e.arguments, c.arguments) for c in calls):
            return result(True)
        if not calls:
            names = sorted({c.name for c in seen.tool_calls})
            return result(False, f"{e.value} was not called" + (
                f" (called: {', '.join(names)})" if names else " (no tool calls)"))
        shown = ", ".join(_json(c.arguments) for c in calls[:3])
        return result(False, f"{e.value} was called with {shown}", calls[0].turn)
    if e.kind == "tool_not_called":
        calls = [c for c in seen.tool_calls if c.name == e.value]
        if calls:
            return result(False, f"{e.value} was called in turn {calls[0].turn} with "
                          f"{_json(calls[0].arguments)}", calls[0].turn)
        return result(True)
    if e.kind == "max_turns":
        return result(seen.user_turns <= e.value,
                      f"the conversation took {seen.user_turns} turns", seen.user_turns)
    if e.kind == "first_audio_ms":
        values = seen.first_audio_ms
        if not values:
            return result(False, "no user turn was answered with audio, so nothing was "
                          "measured")
        problems = []
        median = statistics.median(values)
        if "median" in e.value and median > e.value["median"]:
            problems.append(f"median {median:g} ms")
        if "max" in e.value and max(values) > e.value["max"]:
            problems.append(f"max {max(values)} ms")
        return result(not problems, ", ".join(problems) + f" (over {len(values)} turn"
                      f"{'s' if len(values) != 1 else ''}: {values})")
    if e.kind == "ended_cleanly":
        if seen.ended and seen.outcome in ("done", "ended"):
            return result(True)
        why = {"timeout": "the test timed out", "interrupted": "interrupted"}.get(
            seen.outcome, "no session.ended from the service")
        return result(False, why)
    # no_session_error
    if seen.session_errors:
        first = seen.session_errors[0]
        more = len(seen.session_errors) - 1
        return result(False, f"{first.get('code')}: {first.get('message')}" + (
            f" (and {more} more)" if more else ""))
    return result(True)


def _json(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
