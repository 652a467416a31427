"""Paged lists (reference §5), for any collection: agents, sessions, calls, numbers, ...

The service answers `{"<items>": [...], "has_more": bool, "response_metadata":
{"next_cursor": "..."}}` and takes `limit` and `cursor`. `iter_pages` follows the cursor
and stops on an empty cursor, on `has_more: false`, or on a cursor equal to the one just
sent (a service that would loop). A bare JSON array (the docs' older agents list) is
one page, the whole list.

Plain Python over a `fetch(params) -> body` callable: no httpx here, so it is easy to
reuse and to test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agentctl.errors import UnavailableError

MAX_LIMIT = 200  # §5: 1-200 on every list


@dataclass(frozen=True)
class Page:
    """One page: its items, and the cursor of the next one ("" on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str
    number: int  # 1 for the first page


def parse_page(body: Any, key: str, what: str) -> tuple[list[Any], bool, str]:
    """(items, has_more, next_cursor) from a list answer in either shape."""
    if isinstance(body, list):
        return body, False, ""
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise UnavailableError(
            f"{what}: the service answered with an unexpected shape "
            f"(no {key!r} list)", hint="is the base URL a Voice Agent API?")
    meta = body.get("response_metadata")
    cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
    cursor = cursor if isinstance(cursor, str) else ""
    has_more = body.get("has_more")
    # No has_more at all: trust the cursor alone.
    more = bool(cursor) if has_more is None else has_more is True and bool(cursor)
    return body[key], more, cursor


def iter_pages(
    fetch: Callable[[dict[str, Any]], Any], key: str, *, what: str,
    limit: int | None = None, params: dict[str, Any] | None = None,
) -> Iterator[Page]:
    """Every page of a list. `fetch(params)` sends one GET and returns the parsed body.

    `limit` is the page size asked for (None: the most the service allows, so a whole
    list costs the fewest requests). Items that are not
    objects with an `id` are a shape error (exit 7), not something to skip silently.
    """
    sent: str | None = None
    number = 0
    while True:
        query = dict(params or {})
        query["limit"] = MAX_LIMIT if limit is None else max(1, min(limit, MAX_LIMIT))
        if sent:
            query["cursor"] = sent
        items, more, cursor = parse_page(fetch(query), key, what)
        number += 1
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                raise UnavailableError(
                    f"{what}: item {i} of page {number} has no id",
                    hint="the service answered in a shape agentctl does not know")
        yield Page(items, cursor if more else "", number)
        if not more or not cursor or cursor == sent:
            return
        sent = cursor


def iter_items(
    fetch: Callable[[dict[str, Any]], Any], key: str, *, what: str,
    limit: int | None = None, params: dict[str, Any] | None = None,
    on_page: Callable[[Page], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of every page, in order; `on_page` is told of each page as it lands."""
    for page in iter_pages(fetch, key, what=what, limit=limit, params=params):
        if on_page is not None:
            on_page(page)
        yield from page.items
