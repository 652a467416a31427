"""Agents on screen: lists, summaries, records, request bodies and diffs, per -o mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentctl.render.output import OutputMode, ordered
from agentctl.render.redact import mask_record, safe_text
from agentctl.render.views import LIST_COLUMNS, WIDE_COLUMNS, list_rows, summary, wide_rows

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.spec.plan import Change


def show_list(out: Output, items: list[dict[str, Any]]) -> None:
    if out.mode in (OutputMode.json, OutputMode.yaml):
        out.data([ordered(i) for i in items])
    elif out.mode in (OutputMode.name, OutputMode.id):
        out.lines(str(i.get(out.mode.value, "")) for i in items)
    else:
        out.table(LIST_COLUMNS, list_rows(items))


def show_wide(out: Output, records: list[dict[str, Any]]) -> None:
    out.table(WIDE_COLUMNS, wide_rows(records))


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

            text = Text(head.ljust(width), style="bold")
            text.append(value)
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
