"""The emulator's state: agents in one SQLite file.

One connection per store, guarded by a lock: the emulator serves every request from one
event loop thread, but tests and `--local` may touch the store from other threads too.
WAL mode and a busy timeout let a second process (say `emulator serve` and a `--local`
command) share the file without "database is locked" errors.

Files written by an older agentctl are served as they are: their UUID agent ids stay
valid (ids are opaque), their header entries `{name, value}` are this layout's too, and
defaults are filled on read. A file of a newer layout is refused (`StoreVersionError`).

Records are stored whole, as JSON, *including* write-only values (tool header values,
`llm[].api_key`); masking them is the API layer's job (`app.py`), so nothing here ever
decides what a client may see. Every record a method returns is the caller's own (parsed
or built anew for it): the API layer may change it in place.

`id`, `name`, `created_at` and `updated_at` are also columns, so the list endpoint never
parses the JSON, and a page of the list is one range scan of the `agents_newest_first`
index (`agent_page`), whatever the list's length.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# A value a write may hold anywhere in a record: the store replaces it with the write's
# own timestamp (e.g. a header's `last_set_at`), which the caller cannot know in advance.
NOW = "\x00now"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agents_newest_first ON agents (created_at DESC, seq DESC);
"""

# Where an agent stands in the list's order (newest first): (`created_at`, `seq`).
Position = tuple[str, int]

_LIST_ITEMS = "SELECT id, name, created_at, updated_at, seq FROM agents"
_NEWEST_FIRST = "ORDER BY created_at DESC, seq DESC"
_PAGE_FROM_TOP = f"{_LIST_ITEMS} {_NEWEST_FIRST} LIMIT ? OFFSET ?"
# After a position (created_at, seq): the rest of its `created_at`, then the older ones; two
# range scans of the index. Not `WHERE (created_at, seq) < (?, ?)`: SQLite bounds only
# `created_at` with that and walks every agent sharing it (a bulk import may give
# thousands the same `created_at`).
_PAGE_AFTER_SAME_TIME = f"{_LIST_ITEMS} WHERE created_at = ? AND seq < ? {_NEWEST_FIRST} LIMIT ?"
_PAGE_AFTER_OLDER = f"{_LIST_ITEMS} WHERE created_at < ? {_NEWEST_FIRST} LIMIT ?"

_ONE_MICROSECOND = timedelta(microseconds=1)
_UTC = timezone.utc  # noqa: UP017 (datetime.UTC is 3.11+, and we support 3.10)


class StoreVersionError(sqlite3.DatabaseError):
    """The file was written by a newer agentctl: its layout is not known here."""


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and `Z`: fixed width, so strings sort like times."""
    return moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_UTC)


class Store:
    """Agents persisted in SQLite. Every public method is atomic and thread-safe."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._last_timestamp = datetime.min.replace(tzinfo=_UTC)
        _create_private(self.path)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write transaction
        # takes the file's write lock up front instead of failing half-way.
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_ms / 1000
        )
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            with self._transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                row = db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                found = str(row[0]) if row else str(SCHEMA_VERSION)
                if not found.isdigit() or int(found) > SCHEMA_VERSION:
                    raise StoreVersionError(
                        f"its layout is version {found}, newer than this agentctl knows "
                        f"({SCHEMA_VERSION}); upgrade agentctl or use another file")
        except BaseException:
            self._db.close()
            self._db = None
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the emulator store is closed")
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK if the block raises."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _next_timestamp(self, after: str | None = None) -> str:
        """Now, but strictly later than any timestamp this store issued (and than `after`)."""
        moment = datetime.now(_UTC)
        floor = self._last_timestamp
        if after is not None:
            floor = max(floor, parse_timestamp(after))
        if moment <= floor:
            moment = floor + _ONE_MICROSECOND
        self._last_timestamp = moment
        return format_timestamp(moment)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def closed(self) -> bool:
        return self._db is None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- agents -----------------------------------------------------------------------------

    def create_agent(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new agent; assigns `id`, `created_at` and `updated_at`. Returns the record."""
        with self._transaction() as db:
            now = self._next_timestamp()
            agent_id = f"agent_{uuid.uuid4().hex}"  # §4: agent_ + 32 lowercase hex
            record = {**_stamped(fields, now), "id": agent_id, "created_at": now,
                      "updated_at": now}
            db.execute(
                "INSERT INTO agents (id, name, created_at, updated_at, record)"
                " VALUES (?, ?, ?, ?, ?)",
                (record["id"], _name_of(record), now, now, _dumps(record)),
            )
        return record

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT record FROM agents WHERE id = ?", (agent_id,))
                .fetchone()
            )
        return None if row is None else json.loads(row[0])

    def update_agent(
        self, agent_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Read, change and write one agent atomically.

        `change` gets the stored record and returns the new one (it may raise to abort;
        nothing is written then). `id` and `created_at` are kept, `updated_at` moves on.
        Returns the new record, or None if there is no such agent.
        """
        with self._transaction() as db:
            row = db.execute("SELECT record FROM agents WHERE id = ?", (agent_id,)).fetchone()
            if row is None:
                return None
            current = json.loads(row[0])
            changed = change(json.loads(row[0]))
            now = self._next_timestamp(after=current["updated_at"])
            record = {
                **_stamped(changed, now),
                "id": current["id"],
                "created_at": current["created_at"],
                "updated_at": now,
            }
            db.execute(
                "UPDATE agents SET name = ?, updated_at = ?, record = ? WHERE id = ?",
                (_name_of(record), now, _dumps(record), agent_id),
            )
        return record

    def delete_agent(self, agent_id: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
            return cursor.rowcount > 0

    def agent_page(
        self, limit: int, *, after: Position | None = None, skip: int = 0,
    ) -> list[tuple[dict[str, str], Position]]:
        """Up to `limit` list items, newest first, each with its position in that order.

        `after`: the items that come after that position, whether or not the agent that
        stood there still exists; two range scans of the newest-first index, so a page
        costs O(limit) however deep it is (even when many agents share a `created_at`).
        Without it: the items from the `skip`-th on (O(skip + limit), in SQLite).
        """
        with self._lock:
            db = self._conn()
            if after is None:
                rows = db.execute(_PAGE_FROM_TOP, (limit, skip)).fetchall()
            else:
                rows = db.execute(_PAGE_AFTER_SAME_TIME, (*after, limit)).fetchall()
                if len(rows) < limit:
                    rows += db.execute(_PAGE_AFTER_OLDER,
                                       (after[0], limit - len(rows))).fetchall()
        return [({"id": i, "name": n, "created_at": c, "updated_at": u}, (c, seq))
                for i, n, c, u, seq in rows]

    def agent_position(self, agent_id: str) -> Position | None:
        """Where an agent stands in the list's order (`agent_page(after=...)`), or None."""
        with self._lock:
            row = self._conn().execute(
                "SELECT created_at, seq FROM agents WHERE id = ?", (agent_id,)).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def list_agents(self) -> list[dict[str, str]]:
        """Lightweight items, newest first (by `created_at`, then by insertion order)."""
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT id, name, created_at, updated_at FROM agents"
                    " ORDER BY created_at DESC, seq DESC"
                )
                .fetchall()
            )
        return [{"id": i, "name": n, "created_at": c, "updated_at": u} for i, n, c, u in rows]

    def count_agents(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM agents").fetchone()[0])

    def clear(self) -> None:
        """Delete every agent (for tests and `--local` resets)."""
        with self._transaction() as db:
            db.execute("DELETE FROM agents")


def _stamped(value: Any, now: str) -> Any:
    """`value` with every NOW replaced by `now`."""
    if value == NOW:
        return now
    if isinstance(value, dict):
        return {k: _stamped(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_stamped(v, now) for v in value]
    return value


def _name_of(record: dict[str, Any]) -> str:
    name = record.get("name")
    return name if isinstance(name, str) else ""


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _create_private(path: Path) -> None:
    """A new database file is made mode 600 before SQLite opens it (its -wal and -shm files
    take the same mode): it holds header values and LLM keys in plain text."""
    if str(path) == ":memory:" or path.exists():
        return
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process made it first
    except OSError:
        pass  # e.g. no such directory: SQLite's own error says it better
