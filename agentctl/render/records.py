"""Agents on screen: lists, summaries, records, request bodies and diffs.

What an agent looks like (its columns, its summary, its masked record); how each -o mode
writes it is render.output's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from agentctl.render.output import View, ordered
from agentctl.render.redact import mask_record
from agentctl.render.views import LIST_COLUMNS, WIDE_COLUMNS, list_rows, summary, wide_rows

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.spec.plan import Change

AGENTS = View(LIST_COLUMNS, list_rows, wide=View(WIDE_COLUMNS, wide_rows))


def show_list(out: Output, pages: Iterable[list[dict[str, Any]]], *, empty: str) -> int:
    """Agents page by page as they arrive; returns how many (none: `empty` said on stderr).

    The table streams on a terminal (render/table.py); -o json streams page by page.
    """
    return out.records(([ordered(i) for i in page] for page in pages), view=AGENTS,
                       empty=empty)


def masked(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as shown: write-only values masked, keys in the stable order."""
    return [ordered(mask_record(r)) for r in records]


def show_result(out: Output, message: str | None, records: list[dict[str, Any]]) -> None:
    """After a write: the status line, and the records written (json/yaml, names/ids)."""
    out.result(message, records=masked(records))


def show_record(out: Output, record: dict[str, Any]) -> None:
    out.record(masked([record])[0], summary=summary)


def show_bodies(out: Output, bodies: list[dict[str, Any]]) -> None:
    """Request bodies of a dry run, secrets masked: JSON with -o json, YAML otherwise."""
    out.documents([mask_record(b) for b in bodies])  # YAML unless -o json


def show_diff(out: Output, changes: list[Change], *, title: str) -> None:
    from agentctl.render.diffview import STYLES, diff_lines

    out.text(f"changes to {title}:", "bold")
    for style, line in diff_lines(changes):
        out.text(line, STYLES[style])
