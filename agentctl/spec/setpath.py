"""`update --set KEY.PATH=VALUE`: edits applied to a copy of the current record."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from agentctl.errors import UsageError
from agentctl.spec.rules import READ_ONLY_FIELDS

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> tuple[str | int, ...]:
    """'tools[0].http.url' -> ('tools', 0, 'http', 'url')."""
    parts: list[str | int] = []
    pos = 0
    for match in _PART.finditer(text):
        if match.start() != pos and not (text[pos] == "." and match.start() == pos + 1):
            raise UsageError(f"--set: cannot read the field path {text!r}")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if pos != len(text) or not parts or not isinstance(parts[0], str):
        raise UsageError(f"--set: cannot read the field path {text!r}",
                         hint="e.g. --set output.volume=80 or --set tools[0].timeout_seconds=20")
    return tuple(parts)


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, true/false, null, lists, objects), else the string.

    `NaN` and `Infinity` are not JSON: they stay strings (and the schema check says what
    the field needs). A number too large for a float (`1e999`) is a UsageError: no JSON
    request can carry it.
    """
    try:
        value = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return text
    if not _finite(value):
        raise UsageError(f"--set: {text[:40]!r} is a number out of range",
                         hint="numbers must be finite, e.g. --set output.volume=80")
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def check_sets(spec: dict[str, Any], assignments: Sequence[str]) -> None:
    """The schema's verdict on what `--set` changed, before any diff or request: a
    forbidden change is one SpecError (exit 3) naming the field."""
    from agentctl.errors import SpecError
    from agentctl.spec.rules import check_agent, format_path

    touched = [parse_path(a.partition("=")[0].strip()) for a in assignments]
    for problem in check_agent(spec, partial=True):
        path = problem.path
        if any(path[:len(t)] == t or t[:len(path)] == path for t in touched):
            raise SpecError(f"--set {format_path(path)}: {problem.message}",
                            hint="see: agentctl schema")


def apply_sets(current: dict[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """A spec holding the touched top-level fields, each edited from its current value."""
    spec: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep:
            raise UsageError(f"--set {assignment!r}: expected KEY.PATH=VALUE")
        path = parse_path(key.strip())
        top = str(path[0])
        if top in READ_ONLY_FIELDS:
            raise UsageError(f"--set: {top} is read-only")
        if top not in spec:
            spec[top] = copy.deepcopy(current.get(top))
        value = parse_value(raw)
        if len(path) == 1:
            spec[top] = value
            continue
        if spec[top] is None:
            spec[top] = [] if isinstance(path[1], int) else {}
        _assign(spec[top], path[1:], value, key)
    return spec


def _assign(target: Any, path: tuple[str | int, ...], value: Any, text: str) -> None:
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(part, int):
            if not isinstance(target, list) or part >= len(target):
                size = len(target) if isinstance(target, list) else 0
                raise UsageError(
                    f"--set {text}: index {part} is out of range (the list has {size})"
                )
        elif not isinstance(target, dict):
            raise UsageError(f"--set {text}: {part!r} is not inside an object")
        if last:
            target[part] = value
            return
        nxt = target[part] if isinstance(part, int) else target.get(part)
        if nxt is None:
            nxt = [] if isinstance(path[i + 1], int) else {}
            target[part] = nxt
        target = nxt
