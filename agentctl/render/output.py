"""Output: the only writer. stdout is the product, stderr is the conversation.

With -o json|yaml|name|id stdout holds only that; human text (status lines, diffs)
goes to stdout in table/wide mode and to stderr otherwise. Decoration (colour, boxes)
appears only when that stream is a terminal, and never with --no-color / NO_COLOR.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any

from agentctl.errors import UsageError
from agentctl.render.redact import escape_json_text, has_bidi_controls, safe_data, safe_text

if TYPE_CHECKING:
    from rich.console import Console

    from agentctl.render.table import Column

RECORD_ORDER = (
    "id", "name", "system_prompt", "greeting", "voice", "input", "output", "tools", "llm",
    "created_at", "updated_at",
)


class OutputMode(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"
    id = "id"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    def __init__(
        self,
        mode: OutputMode = OutputMode.table,
        *,
        no_color: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdin: IO[str] | None = None,
    ) -> None:
        self.mode = mode
        self.no_color = no_color
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self._consoles: dict[int, Console] = {}

    # -- streams ----------------------------------------------------------------------
    @property
    def machine(self) -> bool:
        return self.mode in (OutputMode.json, OutputMode.yaml, OutputMode.name, OutputMode.id)

    @property
    def human(self) -> IO[str]:
        """Where status lines and diffs go: stdout for people, stderr beside machine output."""
        return self.stderr if self.machine else self.stdout

    def is_tty(self, stream: IO[str]) -> bool:
        return _isatty(stream)

    def console(self, stream: IO[str]) -> Console:
        key = id(stream)
        if key not in self._consoles:
            from rich.console import Console

            tty = _isatty(stream)
            self._consoles[key] = Console(
                file=stream,
                force_terminal=tty,
                color_system=None if (self.no_color or not tty) else "auto",
                no_color=self.no_color,
                highlight=False,
                soft_wrap=not tty,
                emoji=False,
            )
        return self._consoles[key]

    def styled(self, stream: IO[str], text: str, style: str | None = None) -> None:
        """One line, styled only on a colour terminal; no markup interpretation."""
        text = safe_text(text)
        if style and _isatty(stream) and not self.no_color:
            from rich.text import Text

            self.console(stream).print(Text(text, style=style))
        else:
            stream.write(text + "\n")
            stream.flush()

    # -- conversation (stderr) --------------------------------------------------------
    def info(self, text: str) -> None:
        self.styled(self.stderr, text, "dim")

    def success(self, text: str) -> None:
        self.styled(self.human, text, "green")

    def warn(self, text: str) -> None:
        self.styled(self.stderr, f"warning: {text}", "yellow")

    def error(self, text: str, hint: str | None = None) -> None:
        self.styled(self.stderr, f"error: {text}", "bold red")
        if hint:
            self.styled(self.stderr, f"hint: {hint}", "dim")

    # -- product (stdout) -------------------------------------------------------------
    def data(self, value: Any) -> None:
        """JSON or YAML of plain data, as the -o mode asks (YAML for people)."""
        value = safe_data(value)
        if self.mode == OutputMode.json:
            self.stdout.write(to_json(value) + "\n")
        else:
            self.stdout.write(to_yaml(value))
        self.stdout.flush()

    def documents(self, values: Sequence[Any]) -> None:
        """Several records: a JSON array, or YAML documents separated by ---."""
        if self.mode == OutputMode.json:
            self.data(list(values) if len(values) != 1 else values[0])
            return
        text = "---\n".join(to_yaml(safe_data(v)) for v in values)
        self.stdout.write(text)
        self.stdout.flush()

    def lines(self, values: Iterable[str]) -> None:
        for value in values:
            self.stdout.write(f"{safe_text(value, keep_newlines=False)}\n")
        self.stdout.flush()

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        from agentctl.render.table import columns_of

        if not self.table_pages(columns_of(columns), [rows]):
            self.stdout.write(plain_table(columns, []))  # a small table: its header says enough
            self.stdout.flush()

    def table_pages(self, columns: Sequence[Column], pages: Iterable[Sequence[Sequence[str]]]
                    ) -> int:
        """A table from pages of rows; returns the row count (0: nothing was written).

        On a terminal each page is written as it arrives, with widths fixed up front
        (render/table.py); piped, the plain columns need every row first.
        """
        pages = ([[safe_text(cell, keep_newlines=False) for cell in row] for row in page]
                 for page in pages)
        if not _isatty(self.stdout):
            rows = [row for page in pages for row in page]
            if rows:
                self.stdout.write(plain_table([c.title for c in columns], rows))
                self.stdout.flush()
            return len(rows)
        from agentctl.render.table import stream

        return stream(self.stdout, columns, pages, bold=not self.no_color)

    def text(self, text: str, style: str | None = None) -> None:
        self.styled(self.human, text, style)

    # -- questions --------------------------------------------------------------------
    def confirm(self, question: str, *, flag: str = "--yes") -> bool:
        """Ask only on a terminal; elsewhere refuse (exit 2) and name the flag."""
        if not (_isatty(self.stdin) and _isatty(self.stderr)):
            raise UsageError(
                "refusing to ask for confirmation: stdin is not a terminal", hint=f"pass {flag}"
            )
        self.stderr.write(f"{safe_text(question)} [y/N]: ")
        self.stderr.flush()
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns separated by two spaces, no box drawing: safe for awk and cut."""
    columns = [safe_text(c, keep_newlines=False) for c in columns]
    rows = [[safe_text(cell, keep_newlines=False) for cell in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    out = []
    for row in (columns, *rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


def ordered(record: Any) -> Any:
    """Records in a stable key order: the reference's order, then the rest sorted."""
    if not isinstance(record, dict):
        return record
    keys = [k for k in RECORD_ORDER if k in record]
    keys += sorted(k for k in record if k not in RECORD_ORDER)
    return {k: record[k] for k in keys}


def to_json(value: Any) -> str:
    return escape_json_text(json.dumps(value, indent=2, ensure_ascii=False))


def to_yaml(value: Any) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _str)
    text = yaml.dump(
        value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
        width=100,
    )
    if has_bidi_controls(text):
        # YAML's rules count them printable; escaped, they can't reorder what a reader sees
        text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=False,
                         default_flow_style=False, width=100)
    return text
