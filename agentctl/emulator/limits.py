"""What a long-running emulator keeps in memory, and the bound on each.

The agents live in SQLite; what stays in memory is the request log (`/_emulator/requests`,
`RunningEmulator.requests`) and the live sessions (`LiveService.history`, for tests and
resume). Each keeps only its newest entries, so a soak of any length holds the memory flat
(bench/run.py `emulator_soak` measures it).
"""

from __future__ import annotations

from typing import Any

MAX_REQUEST_LOG = 10_000  # entries of the request log
MAX_SESSION_HISTORY = 1_000  # ended or live sessions remembered (resume needs only the live)


def append_bounded(items: list[Any], item: Any, limit: int) -> None:
    """Append, then drop the oldest entries past `limit` (a tenth at a time, so trimming
    costs O(1) per append on average)."""
    items.append(item)
    if len(items) > limit + max(limit // 10, 1):
        del items[: len(items) - limit]
