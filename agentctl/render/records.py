"""Agents on screen: lists, summaries, records, request bodies and diffs, per -o mode."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from agentctl.render.output import OutputMode, ordered, to_json
from agentctl.render.redact import mask_record, safe_text
from agentctl.render.views import LIST_COLUMNS, WIDE_COLUMNS, list_rows, summary, wide_rows

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.spec.plan import Change


def show_list(out: Output, pages: Iterable[list[dict[str, Any]]], *, empty: str) -> int:
    """Agents page by page as they arrive; returns how many (none: `empty` said on stderr).

    The table streams on a terminal (render/table.py); -o json streams item by item in
    the same layout as `json.dumps(indent=2)`; `empty` replaces a bare header row.
    """
    if out.mode == OutputMode.json:
        count = write_json_array(out.stdout, ([ordered(i) for i in page] for page in pages))
    elif out.mode == OutputMode.yaml:
        items = [ordered(i) for page in pages for i in page]
        out.data(items)
        count = len(items)
    elif out.mode in (OutputMode.name, OutputMode.id):
        count = 0
        for page in pages:
            out.lines(str(i.get(out.mode.value, "")) for i in page)
            count += len(page)
    else:
        columns, rows = (WIDE_COLUMNS, wide_rows) if out.mode == OutputMode.wide else (
            LIST_COLUMNS, list_rows)
        count = out.table_pages(columns, (rows(page) for page in pages))
        if not count:
            out.info(empty)
    return count


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


def show_records(out: Output, records: list[dict[str, Any]], *, quiet_table: bool = False) -> None:
    """Records after a write: the full record for json/yaml, ids/names one per line.

    In table mode the status line already said it (`quiet_table`).
    """
    masked = [ordered(mask_record(r)) for r in records]
    if out.mode in (OutputMode.json, OutputMode.yaml):
        out.documents(masked)
    elif out.mode in (OutputMode.name, OutputMode.id):
        out.lines(str(r.get(out.mode.value, "")) for r in masked)
    elif not quiet_table:
        for record in masked:
            show_summary(out, record)


def show_record(out: Output, record: dict[str, Any]) -> None:
    masked = ordered(mask_record(record))
    if out.mode in (OutputMode.json, OutputMode.yaml):
        out.data(masked)
    elif out.mode in (OutputMode.name, OutputMode.id):
        out.lines([str(masked.get(out.mode.value, ""))])
    else:
        show_summary(out, masked)


def show_summary(out: Output, record: dict[str, Any]) -> None:
    rows = summary(record)
    width = max(len(label) for label, _ in rows) + 2
    tty = out.is_tty(out.stdout) and not out.no_color
    for label, raw in rows:
        value = safe_text(raw, keep_newlines=False)
        head = f"{label}:" if label else ""
        if tty:
            from rich.text import Text

            # Only the label is bold: a style given to Text() would cover the value too.
            text = Text()
            text.append(head, style="bold")
            text.append(" " * (width - len(head)) + value)
            out.console(out.stdout).print(text)
        else:
            out.stdout.write(f"{head.ljust(width)}{value}".rstrip() + "\n")
    out.stdout.flush()


def show_bodies(out: Output, bodies: list[dict[str, Any]]) -> None:
    """Request bodies of a dry run, secrets masked: JSON with -o json, YAML otherwise."""
    out.documents([mask_record(b) for b in bodies])  # YAML unless -o json


def show_diff(out: Output, changes: list[Change], *, title: str) -> None:
    from agentctl.render.diffview import STYLES, diff_lines

    out.text(f"changes to {title}:", "bold")
    for style, line in diff_lines(changes):
        out.text(line, STYLES[style])
