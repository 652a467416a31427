"""Client-side tools: how `tool.call`s are answered (`--tool NAME=COMMAND|@FILE`).

A command gets the call's arguments as JSON on stdin, and its stdout (trailing newline
removed) is the result. It runs without a shell (split like a shell would split it; use
`sh -c '...'` for pipes), with a timeout. `@FILE` answers every call with the file's text.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentctl.errors import UsageError

MAX_RESULT_CHARS = 64 * 1024
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class ToolAnswer:
    """How one tool is answered: a command (argv) or a fixed text."""

    name: str
    argv: tuple[str, ...] | None = None
    text: str | None = None
    source: str = ""  # what the user wrote after `=`, for messages

    def run(self, arguments: Any, timeout: float) -> tuple[str, str | None]:
        """(result, problem): the text to send back, and why it is an error result if so."""
        if self.text is not None:
            return self.text, None
        assert self.argv is not None
        try:
            done = subprocess.run(
                list(self.argv), input=json.dumps(arguments), capture_output=True, text=True,
                timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            problem = f"tool {self.name}: the command did not finish within {timeout:g} s"
            return json.dumps({"error": problem}), problem
        except OSError as exc:
            problem = f"tool {self.name}: cannot run {self.argv[0]!r}: {exc.strerror or exc}"
            return json.dumps({"error": problem}), problem
        output = done.stdout[:MAX_RESULT_CHARS].rstrip("\n")
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or [""]
            problem = f"tool {self.name}: the command exited with {done.returncode}" + (
                f" ({tail[0][:200]})" if tail[0] else "")
            return json.dumps({"error": problem}), problem
        return output, None


def parse_tool(option: str) -> ToolAnswer:
    """`NAME=COMMAND` or `NAME=@FILE` -> ToolAnswer; a bad option is a UsageError."""
    name, sep, value = option.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise UsageError(f"--tool {option!r}: expected NAME=COMMAND or NAME=@FILE",
                         hint="e.g. --tool lookup='./lookup.py' or --tool lookup=@result.json")
    if not set(name) <= _NAME_CHARS:
        raise UsageError(f"--tool {option!r}: {name!r} is not a tool name")
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"--tool {name}: cannot read {path}: {reason}") from None
        return ToolAnswer(name, text=text.strip(), source=value)
    try:
        argv = tuple(shlex.split(value))
    except ValueError as exc:
        raise UsageError(f"--tool {name}: cannot parse the command: {exc}") from None
    if not argv:
        raise UsageError(f"--tool {name}: empty command")
    return ToolAnswer(name, argv=argv, source=value)


def parse_tools(options: list[str]) -> dict[str, ToolAnswer]:
    tools: dict[str, ToolAnswer] = {}
    for option in options:
        answer = parse_tool(option)
        if answer.name in tools:
            raise UsageError(f"--tool {answer.name} is given twice")
        tools[answer.name] = answer
    return tools
