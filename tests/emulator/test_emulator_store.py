"""The SQLite store on its own: atomic updates, ordering, timestamps, durability."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from agentctl.emulator.store import Store, format_timestamp, parse_timestamp


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.sqlite3") as opened:
        yield opened


def test_the_database_uses_wal_and_a_busy_timeout(store):
    db = sqlite3.connect(store.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert store._conn().execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_create_assigns_id_and_equal_timestamps(store):
    record = store.create_agent({"name": "a"})

    assert record["created_at"] == record["updated_at"]
    assert store.get_agent(record["id"]) == record


def test_timestamps_are_strictly_increasing_even_within_one_microsecond(store):
    stamps = [store.create_agent({"name": str(i)})["created_at"] for i in range(500)]

    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 500
    assert all(format_timestamp(parse_timestamp(s)) == s for s in stamps)


def test_update_is_atomic_and_a_raising_change_writes_nothing(store):
    record = store.create_agent({"name": "a", "system_prompt": "p"})

    def change(current):
        current["name"] = "b"
        raise ValueError("rejected")

    with pytest.raises(ValueError):
        store.update_agent(record["id"], change)
    assert store.get_agent(record["id"]) == record

    updated = store.update_agent(record["id"], lambda current: {**current, "name": "c"})
    assert updated is not None
    assert updated["name"] == "c"
    assert updated["created_at"] == record["created_at"]
    assert updated["updated_at"] > record["updated_at"]
    assert store.list_agents()[0]["name"] == "c"


def test_update_keeps_id_and_created_at_whatever_the_change_returns(store):
    record = store.create_agent({"name": "a"})

    updated = store.update_agent(
        record["id"], lambda current: {"name": "b", "id": "other", "created_at": "then"}
    )

    assert updated["id"] == record["id"]
    assert updated["created_at"] == record["created_at"]


def test_update_and_delete_of_a_missing_agent(store):
    assert store.update_agent("missing", lambda current: current) is None
    assert store.delete_agent("missing") is False
    assert store.get_agent("missing") is None


def test_list_ties_on_created_at_go_by_insertion_newest_first(store):
    ids = [store.create_agent({"name": str(i)})["id"] for i in range(3)]
    with store._transaction() as db:
        db.execute("UPDATE agents SET created_at = '2026-01-01T00:00:00.000000Z'")

    assert [item["id"] for item in store.list_agents()] == list(reversed(ids))


def test_updated_at_moves_past_a_stored_timestamp_from_the_future(tmp_path):
    path = tmp_path / "future.sqlite3"
    with Store(path) as first:
        record = first.create_agent({"name": "a"})
        with first._transaction() as db:  # as if written by a clock running ahead
            db.execute(
                "UPDATE agents SET record = json_set(record, '$.updated_at', ?)",
                ("2999-01-01T00:00:00.000000Z",),
            )
    with Store(path) as second:
        updated = second.update_agent(record["id"], lambda current: current)

    assert updated["updated_at"] == "2999-01-01T00:00:00.000001Z"


def test_concurrent_writers_on_one_store(store):
    def worker(n):
        for i in range(50):
            record = store.create_agent({"name": f"{n}-{i}"})
            store.update_agent(record["id"], lambda current: {**current, "touched": True})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.count_agents() == 400


def test_a_closed_store_refuses_work(tmp_path):
    store = Store(tmp_path / "closed.sqlite3")
    store.close()
    store.close()

    assert store.closed
    with pytest.raises(RuntimeError, match="closed"):
        store.list_agents()


def test_clear_removes_every_agent(store):
    store.create_agent({"name": "a"})
    store.clear()

    assert store.list_agents() == []


def test_a_file_of_a_newer_layout_is_refused_with_a_clear_line(tmp_path):
    import sqlite3

    from tests.conftest import run_cli

    db = tmp_path / "data" / "emulator.sqlite3"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '99')")

    result = run_cli("--local", "list", exit_code=2)

    assert result.stderr.startswith(f"error: cannot use {db} as the local emulator's state:")
    assert "version 99, newer than this agentctl knows" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_older_agentctls_state_is_served_as_it_is(tmp_path):
    """UUID ids and header entries as an older agentctl stored them."""
    import json
    import uuid

    from tests.conftest import run_cli

    db = tmp_path / "data" / "emulator.sqlite3"
    db.parent.mkdir(parents=True)
    old_id = str(uuid.uuid4())
    record = {"id": old_id, "name": "old", "system_prompt": "p", "voice": {"voice_id": "ivy"},
              "input": {"type": "audio", "keyterms": []}, "output": {"volume": 100},
              "tools": [{"id": str(uuid.uuid4()), "name": "t", "description": "d",
                         "http": {"url": "https://a.example.com/x",
                                  "headers": [{"name": "A", "value": "old-secret"}]}}],
              "created_at": "2026-01-01T00:00:00.000000Z",
              "updated_at": "2026-01-01T00:00:00.000000Z"}
    with Store(db) as store, store._transaction() as conn:
        conn.execute("INSERT INTO agents (id, name, created_at, updated_at, record)"
                     " VALUES (?, ?, ?, ?, ?)", (old_id, "old", record["created_at"],
                                                 record["updated_at"], json.dumps(record)))

    got = json.loads(run_cli("--local", "get", old_id, "-o", "json").stdout)

    assert got["tools"][0]["http"]["headers"] == [
        {"name": "A", "last_set_at": "2026-01-01T00:00:00.000000Z"}]
    assert "old-secret" not in json.dumps(got)
    run_cli("--local", "update", "old", "--set", "greeting=Hi")  # the secret is kept
    with Store(db) as store:
        assert store.get_agent(old_id)["tools"][0]["http"]["headers"][0]["value"] == \
            "old-secret"
