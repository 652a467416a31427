"""Shared parts of the emulator's non-agent resources (numbers, calls, sessions, webhooks).

- `ResourceStore`: the records in the emulator's SQLite file, in tables of their own
  (`platform_*`), through a connection of its own, so `store.py` (agents) is untouched.
  Objects are JSON records keyed by (kind, id), newest first by insertion order; blobs
  (recordings, timelines) sit beside them.
- `api_error`, `endpoint`, `page`: thin names over the shared REST plumbing
  (`plumbing.py`: the §3 error envelope with `X-Request-Id`, the §5 pages).
- `idempotent`: `Idempotency-Key` replay, `idempotency_key_reuse`, `idempotency_in_progress`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentctl.emulator.plumbing import (
    ApiError,
    authorized,
    detail_entry,
    key_from_authorization,
    paged,
    read_object,
)

_UTC = timezone.utc  # noqa: UP017 (3.10)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS platform_objects (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    parent     TEXT,
    record     TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE TABLE IF NOT EXISTS platform_blobs (
    id   TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS platform_idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status      INTEGER,
    body        TEXT
);
"""


def now_iso() -> str:
    return datetime.now(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(prefix: str) -> str:
    """`<prefix>_<32 hex>`: the SDK fixtures' prefixes with a random tail (inferred)."""
    return f"{prefix}_{uuid.uuid4().hex}"


class ResourceStore:
    """JSON records by (kind, id) and blobs, in the emulator's SQLite file. Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=5.0
        )
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("PRAGMA synchronous = NORMAL")  # WAL (set by store.py): safe
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise RuntimeError("the emulator store is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def put(self, kind: str, record: dict[str, Any], *, parent: str | None = None,
            key: str | None = None) -> dict[str, Any]:
        """Insert or replace (keeping its place in the order) the record under `key` (its id)."""
        ident = key or str(record["id"])
        text = json.dumps(record, separators=(",", ":"))
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE platform_objects SET record = ?, parent = COALESCE(?, parent)"
                " WHERE kind = ? AND id = ?", (text, parent, kind, ident))
            if cursor.rowcount == 0:
                db.execute(
                    "INSERT INTO platform_objects (kind, id, parent, record) VALUES (?, ?, ?, ?)",
                    (kind, ident, parent, text))
        return record

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        with self._transaction() as db:
            row = db.execute("SELECT record FROM platform_objects WHERE kind = ? AND id = ?",
                             (kind, ident)).fetchone()
        return None if row is None else json.loads(row[0])

    def update(self, kind: str, ident: str,
               change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any] | None:
        """Read, change and write one record atomically; None if there is none."""
        with self._transaction() as db:
            row = db.execute("SELECT record FROM platform_objects WHERE kind = ? AND id = ?",
                             (kind, ident)).fetchone()
            if row is None:
                return None
            record = change(json.loads(row[0]))
            db.execute("UPDATE platform_objects SET record = ? WHERE kind = ? AND id = ?",
                       (json.dumps(record, separators=(",", ":")), kind, ident))
        return record

    def delete(self, kind: str, ident: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM platform_objects WHERE kind = ? AND id = ?",
                              (kind, ident)).rowcount > 0

    def delete_children(self, kind: str, parent: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM platform_objects WHERE kind = ? AND parent = ?",
                       (kind, parent))

    def items(self, kind: str, *, parent: str | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(seq, record) of a kind, newest first."""
        query = "SELECT seq, record FROM platform_objects WHERE kind = ?"
        args: tuple[Any, ...] = (kind,)
        if parent is not None:
            query += " AND parent = ?"
            args += (parent,)
        with self._transaction() as db:
            rows = db.execute(query + " ORDER BY seq DESC", args).fetchall()
        return [(seq, json.loads(text)) for seq, text in rows]

    # -- blobs --------------------------------------------------------------------------
    def put_blob(self, ident: str, data: bytes) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO platform_blobs (id, data) VALUES (?, ?)",
                       (ident, data))

    def get_blob(self, ident: str) -> bytes | None:
        with self._transaction() as db:
            row = db.execute("SELECT data FROM platform_blobs WHERE id = ?", (ident,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete_blobs(self, prefix: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM platform_blobs WHERE substr(id, 1, ?) = ?",
                       (len(prefix), prefix))

    # -- idempotency keys ---------------------------------------------------------------
    def claim_key(self, key: str, fingerprint: str) -> tuple[str, int | None, Any]:
        """("new"|"replay"|"reuse"|"running", status, body) for a key, claiming a new one."""
        with self._transaction() as db:
            row = db.execute("SELECT fingerprint, status, body FROM platform_idempotency"
                             " WHERE key = ?", (key,)).fetchone()
            if row is None:
                db.execute("INSERT INTO platform_idempotency (key, fingerprint) VALUES (?, ?)",
                           (key, fingerprint))
                return "new", None, None
        stored, status, body = row
        if stored != fingerprint:
            return "reuse", None, None
        if status is None:
            return "running", None, None
        return "replay", status, json.loads(body)

    def settle_key(self, key: str, status: int | None, body: Any) -> None:
        """Store the answer of a claimed key; `status=None` forgets the claim (it failed)."""
        with self._transaction() as db:
            if status is None:
                db.execute("DELETE FROM platform_idempotency WHERE key = ?", (key,))
            else:
                db.execute("UPDATE platform_idempotency SET status = ?, body = ? WHERE key = ?",
                           (status, json.dumps(body), key))


# -- errors and pages: the shared REST plumbing ---------------------------------------------


def api_error(status: int, code: str, message: str, *,
              param: str | None = None) -> ApiError:
    """An error answered as the reference's envelope (§3), by the app's handler."""
    return ApiError(status, message, code=code, param=param)


def not_found(code: str, what: str) -> ApiError:
    return ApiError(404, f"{what} not found", code=code)


def invalid(param: str, message: str, *, where: str = "body",
            kind: str = "value_error") -> ApiError:
    """422 `validation_error` for one body field, or one of `where` ("path", "query")
    (`errors[]` and `param` name it; `kind` is the FastAPI entry's `type`)."""
    return ApiError(422, [detail_entry([where, param], message, kind)],
                    code="validation_error", message=f"{param}: {message}", param=param)


Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Wrap a handler: authenticate first (errors are the app's envelope answers)."""

    async def wrapped(request: Request) -> Response:
        authorized(request)
        return await handler(request)

    wrapped.__name__ = handler.__name__
    return wrapped


async def body_object(request: Request) -> dict[str, Any]:
    return await read_object(request)


def page(request: Request, key: str, rows: list[tuple[int, dict[str, Any]]],
         view: Callable[[dict[str, Any]], dict[str, Any]] = lambda r: r) -> Response:
    """The §5 page of `rows` (newest first, as `ResourceStore.items` gives them)."""
    return paged(request, key, [view(record) for _, record in rows])


def envelope_response(status: int, code: str, message: str) -> Response:
    """An envelope answer outside a handler's exception flow (artifact links, no auth)."""
    from agentctl.emulator.plumbing import error_response

    return error_response(ApiError(status, message, code=code))


# -- idempotency -----------------------------------------------------------------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"


async def idempotent(request: Request, store: ResourceStore, body: Any,
                     create: Callable[[], Awaitable[tuple[int, Any]]]) -> Response:
    """Run `create` once per `Idempotency-Key` (§3): the same key and body replay the first
    answer; another body is 422 `idempotency_key_reuse`; while the first still runs, 409
    `idempotency_in_progress`. Errors are not remembered (the key can be used again)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        status, answer = await create()
        return JSONResponse(answer, status_code=status)
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise api_error(400, "idempotency_key_invalid",
                            "Idempotency-Key must be 1-255 printable ASCII characters")
    api_key = key_from_authorization(request.headers.get("authorization"))[0] or ""
    scope = hashlib.sha256(f"{api_key}\0{request.method} {request.url.path}\0{key}".encode())
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    stored_key = scope.hexdigest()
    verdict, status, answer = store.claim_key(stored_key, fingerprint)
    if verdict == "reuse":
        raise api_error(422, "idempotency_key_reuse",
                            "this Idempotency-Key was used with a different request body")
    if verdict == "running":
        raise api_error(409, "idempotency_in_progress",
                            "a request with this Idempotency-Key is still running; retry")
    if verdict == "replay":
        return JSONResponse(answer, status_code=status or 200)
    try:
        status, answer = await create()
    except BaseException:
        store.settle_key(stored_key, None, None)
        raise
    store.settle_key(stored_key, status, answer)
    return JSONResponse(answer, status_code=status)


def random_secret() -> bytes:
    return secrets.token_bytes(32)
