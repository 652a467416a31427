"""Tables on a terminal, streamed: widths decided up front, each row written as it comes.

A table that waits for its last row shows nothing until then (10k agents arrive in many
pages), and one sized by a layout engine over every row costs seconds. Here the widths
are decided once, from the terminal's width and the first rows, and every later row is cut
to them. What never happens: an id wrapped or cut (copying one from the screen must work).
What gives way instead, in this order: cuttable columns shrink (with `…`) to their minimum,
then whole columns are dropped, lowest priority first.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from agentctl.render.redact import escape_controls

GAP = 2  # spaces between columns
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    """A table column: its title and how it gives way on a narrow terminal.

    `cut`: may be shortened (with `…`) down to `min_width`; ids are never cut.
    `drop`: columns are dropped lowest `drop` first when shrinking is not enough; 0 never.
    `grow`: with room to spare, a cuttable column is made this wide even if the first
    page's values are shorter, so later pages' longer values are not cut needlessly.
    """

    title: str
    cut: bool = False
    min_width: int = 0
    drop: int = 0
    grow: int = 0


def columns_of(titles: Sequence[str]) -> tuple[Column, ...]:
    """Plain titles (a small table: config, settings): every column may be cut, none dropped."""
    return tuple(Column(t, cut=True, min_width=max(len(t), 8)) for t in titles)


def clean(text: str) -> str:
    """A cell is always one line: control characters and line breaks shown escaped (the
    one rule for that is render.redact's)."""
    return escape_controls(text, keep_newlines=False)


def cell_width(text: str) -> int:
    """Columns `text` takes on a terminal (East Asian wide characters take two)."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def fit(text: str, width: int) -> str:
    """`text` cut to `width` columns (ending in `…` when cut), padded to exactly `width`."""
    used = cell_width(text)
    if used > width:
        if text.isascii():
            text = text[: max(width - 1, 0)] + ELLIPSIS
        else:
            out, used = [], 0
            for char in text:
                w = cell_width(char)
                if used + w > width - 1:
                    break
                out.append(char)
                used += w
            text = "".join(out) + ELLIPSIS
        used = cell_width(text)
    return text + " " * (width - used)


def layout(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], total: int
) -> list[int | None]:
    """A width for each column (None: dropped) so a line fits in `total` columns."""
    natural = [cell_width(c.title) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            natural[i] = max(natural[i], cell_width(cell))
    widths: list[int | None] = list(natural)
    droppable = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop)
    while True:
        shown = [i for i, w in enumerate(widths) if w is not None]
        need = sum(widths[i] or 0 for i in shown) + GAP * (len(shown) - 1)
        excess = need - total
        if excess <= 0:
            _grow(columns, widths, -excess)
            return widths
        room = sum(
            max((widths[i] or 0) - max(columns[i].min_width, 1), 0)
            for i in shown if columns[i].cut
        )
        if room >= excess or not droppable:
            _shrink(columns, widths, excess)
            return widths
        widths[droppable.pop(0)[1]] = None


def _grow(columns: Sequence[Column], widths: list[int | None], spare: int) -> None:
    for i, col in enumerate(columns):
        width = widths[i]
        if width is not None and col.grow > width and spare > 0:
            extra = min(col.grow - width, spare)
            widths[i] = width + extra
            spare -= extra


def _shrink(columns: Sequence[Column], widths: list[int | None], excess: int) -> None:
    """Take `excess` columns from the widest cuttable columns first."""
    while excess > 0:
        best, spare = None, 0
        for i, col in enumerate(columns):
            width = widths[i]
            if width is None or not col.cut:
                continue
            room = width - max(col.min_width, 1)
            if room > spare:
                best, spare = i, room
        if best is None:
            return  # nothing left to cut: the line is longer than the terminal
        widths[best] = (widths[best] or 0) - 1
        excess -= 1


def terminal_width(stream: IO[str], default: int = 80) -> int:
    """$COLUMNS if set, else the terminal's width, else `default`."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(stream.fileno()).columns or default
    except (AttributeError, ValueError, OSError):
        return default


def render_line(cells: Sequence[str], widths: Sequence[int | None]) -> str:
    parts = [fit(clean(cell), w) for cell, w in zip(cells, widths, strict=False) if w is not None]
    return (" " * GAP).join(parts).rstrip()


def stream(
    out: IO[str],
    columns: Sequence[Column],
    pages: Iterable[Sequence[Sequence[str]]],
    *,
    bold: bool = False,
    width: int | None = None,
) -> int:
    """Write a table to a terminal page by page as the pages arrive; returns the row count.

    The first non-empty page sizes the columns (a short table is one page: all of it);
    nothing is written before it, so an empty table writes nothing at all (the caller says
    so in one line). Each page is flushed as soon as it is written.
    """
    total = width or terminal_width(out)
    widths: list[int | None] | None = None
    count = 0
    for page in pages:
        if not page:
            continue
        if widths is None:
            widths = layout(columns, [[clean(c) for c in row] for row in page], total)
            header = render_line([c.title for c in columns], widths)
            rule = "─" * min(cell_width(header), total)
            if bold:
                header = f"\x1b[1m{header}\x1b[0m"
            out.write(header + "\n" + rule + "\n")
        out.write("".join(render_line(row, widths) + "\n" for row in page))
        out.flush()
        count += len(page)
    return count
