"""Output: the only writer. stdout is the product, stderr is the conversation.

With -o json|yaml|name|id stdout holds only that; human text (status lines, diffs)
goes to stdout in table/wide mode and to stderr otherwise. Decoration (colour, boxes)
appears only when that stream is a terminal, and never with --no-color / NO_COLOR.

The -o mode is decided here and only here: a command hands over what it has with
`records` (a list), `record` (one), `result` (what a write did) or `data` (plain data),
and each primitive writes it as the mode says (as `hf`'s output helpers do). Commands
and the other render modules never ask which mode is on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any

from agentctl.errors import UsageError
from agentctl.record import RECORD_ORDER  # the record's own field order
from agentctl.render.redact import escape_json_text, has_bidi_controls, safe_data, safe_text
from agentctl.secretset import SecretSet

if TYPE_CHECKING:
    from rich.console import Console

    from agentctl.render.table import Column


class OutputMode(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"
    id = "id"


Record = dict[str, Any]


@dataclass(frozen=True)
class View:
    """Records as a table: the columns (render.table.Column, or plain titles) and the rows
    of a page of records; `wide` is the view for -o wide (default: this one)."""

    columns: Sequence[Column | str]
    rows: Callable[[list[Record]], Sequence[Sequence[str]]]
    wide: View | None = None


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
        secrets: SecretSet | None = None,
    ) -> None:
        self.mode = mode
        # the run's secrets (settings.Environment.secrets): scrubbed from all that is written
        self.secrets = secrets if secrets is not None else SecretSet()
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
        text = safe_text(text, self.secrets)
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

    # -- product (stdout), per mode ----------------------------------------------------
    @property
    def wide(self) -> bool:
        """Whether the table wants the wide view (its rows may need fuller records)."""
        return self.mode == OutputMode.wide

    def records(self, pages: Iterable[list[Record]], *, view: View, empty: str | None = None,
                name_key: str = "name", id_key: str = "id") -> int:
        """A list, page by page as it arrives; returns how many records.

        A table for people (the wide view with -o wide; `empty`, if given, is said on
        stderr instead of a bare header), a JSON array streamed page by page, YAML, or
        each record's `name_key` / id, one per line.
        """
        if self.mode == OutputMode.json:
            return write_json_array(self.stdout, pages)
        if self.mode == OutputMode.yaml:
            items = [i for page in pages for i in page]
            self.data(items)
            return len(items)
        if self.mode in (OutputMode.name, OutputMode.id):
            key = name_key if self.mode == OutputMode.name else id_key
            count = 0
            for page in pages:
                self.lines(str(i.get(key, "")) for i in page)
                count += len(page)
            return count
        if self.wide and view.wide is not None:
            view = view.wide
        from agentctl.render.table import columns_of

        columns = [c for c in view.columns if not isinstance(c, str)] or columns_of(
            [str(c) for c in view.columns])
        count = self.table_pages(columns, (view.rows(page) for page in pages))
        if not count:
            if empty is not None:
                self.info(empty)
            else:  # a small table: its header says enough
                self.stdout.write(plain_table([c.title for c in columns], [], self.secrets))
                self.stdout.flush()
        return count

    def record(self, record: Record, *, summary: Callable[[Record], list[tuple[str, str]]],
               name_key: str = "name", id_key: str = "id",
               headers: tuple[str, str] | None = None) -> None:
        """One record: JSON or YAML, its `name_key` / id, or for people its summary's
        `label: value` lines (a two-column table under `headers`, if given)."""
        if self.mode in (OutputMode.json, OutputMode.yaml):
            self.data(record)
        elif self.mode in (OutputMode.name, OutputMode.id):
            key = name_key if self.mode == OutputMode.name else id_key
            self.lines([str(record.get(key, ""))])
        elif headers is not None:
            self.table(headers, summary(record))
        else:
            self._summary(summary(record))

    def result(self, message: str | None = None, *, records: Sequence[Record] = (),
               gone: Sequence[Record] = (), name_key: str = "name", id_key: str = "id"
               ) -> None:
        """What a write did: `message` for people (on stderr beside machine output), then
        the records written as JSON/YAML documents, or their names/ids one per line. For
        people the message says it all. `gone`: records removed, named by -o name|id only.
        """
        if message is not None:
            self.success(message)
        if self.mode in (OutputMode.json, OutputMode.yaml):
            if records:
                self.documents(list(records))
        elif self.mode in (OutputMode.name, OutputMode.id):
            key = name_key if self.mode == OutputMode.name else id_key
            self.lines(str(r.get(key, "")) for r in (*records, *gone))

    def document(self, value: Any, *, text: Iterable[str]) -> None:
        """Plain data (a timeline, a report) for -o json|yaml; these lines for people."""
        if self.mode in (OutputMode.json, OutputMode.yaml):
            self.data(value)
        else:
            self.lines(text)

    def file_text(self, value: Any) -> tuple[str, str]:
        """(suffix, text) of plain data for a file: JSON with -o json, YAML otherwise."""
        if self.mode == OutputMode.json:
            return ".json", to_json(value) + "\n"
        return ".yaml", to_yaml(value)

    def _summary(self, rows: list[tuple[str, str]]) -> None:
        """`label: value` lines, the values aligned; on a terminal the labels in bold."""
        width = max(len(label) for label, _ in rows) + 2
        tty = _isatty(self.stdout) and not self.no_color
        for label, raw in rows:
            value = safe_text(raw, self.secrets, keep_newlines=False)
            head = f"{label}:" if label else ""
            if tty:
                from rich.text import Text

                # Only the label is bold: a style given to Text() would cover the value too.
                text = Text()
                text.append(head, style="bold")
                text.append(" " * (width - len(head)) + value)
                self.console(self.stdout).print(text)
            else:
                self.stdout.write(f"{head.ljust(width)}{value}".rstrip() + "\n")
        self.stdout.flush()

    def data(self, value: Any, *, people: str = "yaml") -> None:
        """JSON or YAML of plain data, as the -o mode asks; `people` (yaml or json) is
        what the other modes get."""
        value = safe_data(value, self.secrets)
        if self.mode == OutputMode.json or (
                self.mode != OutputMode.yaml and people == OutputMode.json):
            self.stdout.write(to_json(value) + "\n")
        else:
            self.stdout.write(to_yaml(value))
        self.stdout.flush()

    def documents(self, values: Sequence[Any]) -> None:
        """Several records: a JSON array, or YAML documents separated by ---."""
        if self.mode == OutputMode.json:
            self.data(list(values) if len(values) != 1 else values[0])
            return
        text = "---\n".join(to_yaml(safe_data(v, self.secrets)) for v in values)
        self.stdout.write(text)
        self.stdout.flush()

    def lines(self, values: Iterable[str]) -> None:
        for value in values:
            self.stdout.write(f"{safe_text(value, self.secrets, keep_newlines=False)}\n")
        self.stdout.flush()

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        from agentctl.render.table import columns_of

        if not self.table_pages(columns_of(columns), [rows]):
            # a small table: its header says enough
            self.stdout.write(plain_table(columns, [], self.secrets))
            self.stdout.flush()

    def table_pages(self, columns: Sequence[Column], pages: Iterable[Sequence[Sequence[str]]]
                    ) -> int:
        """A table from pages of rows; returns the row count (0: nothing was written).

        On a terminal each page is written as it arrives, with widths fixed up front
        (render/table.py); piped, the plain columns need every row first.
        """
        pages = ([[safe_text(cell, self.secrets, keep_newlines=False) for cell in row]
                  for row in page]
                 for page in pages)
        if not _isatty(self.stdout):
            rows = [row for page in pages for row in page]
            if rows:
                self.stdout.write(plain_table([c.title for c in columns], rows, self.secrets))
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
        self.stderr.write(f"{safe_text(question, self.secrets)} [y/N]: ")
        self.stderr.flush()
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")


def write_json_array(stream: IO[str], pages: Iterable[list[dict[str, Any]]]) -> int:
    """A JSON array written page by page, byte for byte what `to_json` writes for it.

    `json.dumps(indent=2)` runs the pure-Python encoder (most of `list -o json`'s time at
    50k agents); flat records (the list's items) go through the C encoder instead, with the
    line breaks and indentation put in by the separators.
    """
    count = 0
    for page in pages:
        if not page:
            continue
        text = json.dumps(page, ensure_ascii=False, separators=(",\n    ", ": "))
        if all(page) and '": {' not in text and '": [' not in text:  # every item flat
            text = "  {\n    " + text[2:-2].replace("},\n    {", "\n  },\n  {\n    ") + "\n  }"
        else:  # something nested: the slow encoder (its items are already one level in)
            text = to_json(page)[2:-2]
        stream.write(("[\n" if not count else ",\n") + text)
        count += len(page)
    stream.write("\n]\n" if count else "[]\n")
    stream.flush()
    return count


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]],
                secrets: Iterable[str] = ()) -> str:
    """Columns separated by two spaces, no box drawing: safe for awk and cut."""
    columns = [safe_text(c, secrets, keep_newlines=False) for c in columns]
    rows = [[safe_text(cell, secrets, keep_newlines=False) for cell in row] for row in rows]
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
