"""A local cache of full agent records, validated by the list (`list -o wide`).

The list gives each agent's `id, name, created_at, updated_at` (§7.1); the wide view needs
the whole record (voice, tools, greeting), one GET each. A record fetched earlier whose
list fields are all still the same (the service moves `updated_at` on every change) needs
no GET: it is the record the GET would return. So each listing reuses what it can and
stores what it fetched.

One file per (API origin, account): named by a hash of both, never the key; mode 600 in
700 directories; replaced atomically (a temporary file, then a rename), so two runs at
once leave one whole file or the other. A file that is unreadable, broken, of another
format or another account is ignored, never an error; one that cannot be written is no
error either. Write-only values are stripped before a record is stored (the service never
returns them; this makes sure). Bounded: at most `MAX_RECORDS` records and `MAX_BYTES`
bytes, the latest listing's first; a full listing drops every id it did not show.

Stdlib only (and agentctl's shared modules): plain dicts in and out.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentctl.api.client import shape_problem
from agentctl.record import LIST_ITEM_FIELDS, without_write_only, write_only_values

Record = dict[str, Any]

FORMAT = 1
MAX_RECORDS = 100_000
MAX_BYTES = 64 * 1024 * 1024
SUBDIR = "records"


def account_digest(origin: str, api_key: str | None) -> str:
    """Who the records belong to: the API's origin and the key, hashed (the key itself is
    never stored, nor is this enough to recover it)."""
    return hashlib.sha256(f"{FORMAT}\0{origin}\0{api_key or ''}".encode()).hexdigest()[:32]


def is_current(cached: Mapping[str, Any] | None, item: Mapping[str, Any]) -> bool:
    """Whether `cached` is the record of list item `item` as it is now: every field the
    list shows is equal, and the item has an `updated_at` to compare (without one, no
    cached record is trusted)."""
    if cached is None or not isinstance(item.get("updated_at"), str) or not item["updated_at"]:
        return False
    return all(cached.get(key) == item.get(key) for key in LIST_ITEM_FIELDS)


class RecordCache:
    """The records of one account, loaded once, saved once at the end of a listing."""

    def __init__(self, directory: Path, origin: str, api_key: str | None) -> None:
        self.account = account_digest(origin, api_key)
        self.path = Path(directory) / SUBDIR / f"agents-{self.account[:24]}.json"
        self._records: dict[str, Record] | None = None

    def load(self) -> dict[str, Record]:
        """id -> record, as last saved; {} when there is no usable file."""
        if self._records is None:
            self._records = self._read()
        return self._records

    def _read(self) -> dict[str, Record]:
        try:
            with open(self.path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size > MAX_BYTES + 1024:
                    return {}
                data = json.loads(handle.read())
        except (OSError, ValueError, RecursionError):
            return {}
        if not (isinstance(data, dict) and data.get("format") == FORMAT
                and data.get("account") == self.account
                and isinstance(data.get("records"), list)):
            return {}
        records: dict[str, Record] = {}
        for record in data["records"]:
            # Only what a GET would have passed (api.client checks the same shapes).
            if isinstance(record, dict) and isinstance(record.get("id"), str) and (
                    shape_problem(record) is None):
                records[record["id"]] = record
        return records

    def save(self, listed: Iterable[Record], *, complete: bool) -> bool:
        """Store the records of a listing (in its order). `complete`: the listing showed
        every agent, so a cached id it did not show is gone and is dropped; otherwise
        the other cached records are kept after these. False when nothing could be
        written (no error: the next listing fetches again)."""
        from agentctl.errors import UsageError
        from agentctl.fileio import write_private

        seen: set[str] = set()
        parts: list[str] = []
        size = 0

        def add(record: Record) -> bool:
            nonlocal size
            record_id = record.get("id")
            if not isinstance(record_id, str) or record_id in seen:
                return True
            text = json.dumps(_storable(record), separators=(",", ":"))  # ASCII: len = bytes
            if len(parts) >= MAX_RECORDS or size + len(text) + 1 > MAX_BYTES:
                return False
            seen.add(record_id)
            parts.append(text)
            size += len(text) + 1
            return True

        kept = all(add(record) for record in listed)
        if kept and not complete:
            for record in self.load().values():
                if not add(record):
                    break
        head = json.dumps({"format": FORMAT, "account": self.account})
        try:
            write_private(self.path, head[:-1] + ', "records": [' + ",\n".join(parts) + "]}\n")
        except (UsageError, OSError):
            return False
        return True


def _storable(record: Record) -> Record:
    """The record without any write-only value (a copy only when there is one)."""
    for _ in write_only_values(record):
        return without_write_only(record)  # type: ignore[no-any-return]
    return record
