"""`list -o wide`: each listed agent's full record, from the cache or with one GET.

List items carry only `id, name, created_at, updated_at` (§7.1); the wide view shows voice,
tools and greeting. A record cached by an earlier listing whose list fields are unchanged
is used as it is (`record_cache`); the others are fetched `in_flight` at a time over the
one client's keep-alive pool, while the next page of the list is read, and the pages come
out in the list's order. An item that is already a whole record (a list answered with
full agents) costs nothing. An agent deleted between the list and its GET (404) is left
out: it is gone. Prints nothing: progress goes to `on_progress`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from agentctl.errors import NotFoundError
from agentctl.usecases.record_cache import is_current

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI
    from agentctl.usecases.record_cache import RecordCache

Record = dict[str, Any]
IN_FLIGHT = 8  # GETs at a time: enough to hide a real service's round trip, and polite
Progress = Callable[[int, int, int], None]  # (agents so far, of which fetched, cached)


def full_records(
    api: AgentsAPI, pages: Iterable[list[Record]], *, cache: RecordCache | None = None,
    complete: bool = False, in_flight: int = IN_FLIGHT, on_progress: Progress | None = None,
) -> Iterator[list[Record]]:
    """The pages of list items as pages of full records, in order.

    `cache`: reuse and update it (None: one GET per agent, nothing stored). `complete`:
    the pages are the whole list (no filter, no limit), so cached agents it does not show
    are dropped from the cache once every page has been read.
    """
    from concurrent.futures import ThreadPoolExecutor

    listed: list[Record] = []  # what was shown, in order: the cache's next contents
    reused: set[str] = set()
    fetched = done = 0
    finished = False
    pool = ThreadPoolExecutor(max_workers=max(1, in_flight), thread_name_prefix="wide")
    # The cache file is read while the first page of the list is on its way.
    loading = pool.submit(cache.load) if cache is not None else None
    cached: dict[str, Record] = {}

    def slots(page: list[Record]) -> list[Record | Future[Record]]:
        nonlocal cached, loading
        if loading is not None:
            cached, loading = loading.result(), None
        out: list[Record | Future[Record]] = []
        for item in page:
            record = cached.get(item["id"])
            if "system_prompt" in item:
                out.append(item)
            elif is_current(record, item):
                reused.add(item["id"])
                out.append(record)  # type: ignore[arg-type]
            else:
                out.append(pool.submit(api.get_agent, str(item["id"])))
        return out

    def resolved(page: list[Record | Future[Record]]) -> list[Record]:
        nonlocal fetched, done
        records = []
        for slot in page:
            if isinstance(slot, Future):
                try:
                    slot = slot.result()
                except NotFoundError:
                    continue  # deleted since the list was read
                fetched += 1
            records.append(slot)
        listed.extend(records)
        done += len(records)
        if on_progress is not None:
            on_progress(done, fetched, len(reused))
        return records

    try:
        # After the first page (shown as soon as it can be), one page ahead: the next page
        # of the list is read while this one's GETs run.
        ahead: deque[list[Record | Future[Record]]] = deque()
        first = True
        for page in pages:
            ahead.append(slots(page))
            if len(ahead) > 1 or first:
                first = False
                yield resolved(ahead.popleft())
        while ahead:
            yield resolved(ahead.popleft())
        finished = True
    finally:
        if loading is not None:  # no page came: an empty list still prunes the cache
            cached = loading.result()
        pool.shutdown(wait=True, cancel_futures=True)
        whole = complete and finished
        if cache is not None and (fetched or (whole and len(cached) > len(reused))):
            cache.save(listed, complete=whole)
