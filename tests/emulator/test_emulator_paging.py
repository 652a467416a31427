"""The agents list's paging when the list moves between pages, and its cost.

A page is read from the store by position (keyset paging): the cursor carries where the
item last seen stood, so the next page starts right after it, whatever was created or
deleted meanwhile, and a page costs the same at any depth.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from tests.emulator.conftest import assert_error


def page(client: httpx.Client, limit: int, cursor: str = "") -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
    response = client.get("/v1/agents", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"agents", "has_more", "response_metadata"}
    assert body["has_more"] is bool(body["response_metadata"]["next_cursor"])
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["agents"]]


def cursor_of(fields: list[Any]) -> str:
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_page_after_deletes_and_inserts_continues_after_the_item_last_seen(create, client):
    made = [create(name=f"a{i}")["id"] for i in range(7)]  # made[6] is the newest
    first = page(client, 3)
    assert ids(first) == [made[6], made[5], made[4]]

    client.delete(f"/v1/agents/{made[4]}")  # the item the cursor names
    client.delete(f"/v1/agents/{made[2]}")  # one the next page would have shown
    newcomer = create(name="late")["id"]  # newer than all: belongs to a new listing

    second = page(client, 3, first["response_metadata"]["next_cursor"])

    assert ids(second) == [made[3], made[1], made[0]]
    assert second["has_more"] is False
    assert newcomer not in ids(first) + ids(second)


def test_deleting_every_item_of_a_page_skips_nothing_after_it(create, client):
    made = [create(name=f"a{i}")["id"] for i in range(7)]
    first = page(client, 3)
    for agent_id in ids(first):
        assert client.delete(f"/v1/agents/{agent_id}").status_code == 204

    second = page(client, 3, first["response_metadata"]["next_cursor"])
    third = page(client, 3, second["response_metadata"]["next_cursor"])

    assert ids(second) + ids(third) == [made[3], made[2], made[1], made[0]]
    assert second["has_more"] is True and third["has_more"] is False
    assert third["response_metadata"]["next_cursor"] == ""


def test_an_update_between_pages_moves_nothing(create, client):
    made = [create(name=f"a{i}")["id"] for i in range(5)]
    first = page(client, 2)
    client.put(f"/v1/agents/{made[0]}", json={"system_prompt": "changed"})
    client.put(f"/v1/agents/{made[4]}", json={"system_prompt": "changed"})

    rest = page(client, 200, first["response_metadata"]["next_cursor"])

    assert ids(first) + ids(rest) == list(reversed(made))


def test_an_older_cursor_without_a_position_still_reads_after_its_id(create, client):
    made = [create(name=f"a{i}")["id"] for i in range(5)]
    client.delete(f"/v1/agents/{made[4]}")  # the offset no longer matches the id's place

    body = page(client, 2, cursor_of([2, made[3]]))

    assert ids(body) == [made[2], made[1]] and body["has_more"] is True
    assert ids(page(client, 2, body["response_metadata"]["next_cursor"])) == [made[0]]


def test_an_older_cursor_whose_id_is_gone_reads_at_its_offset(create, client):
    made = [create(name=f"a{i}")["id"] for i in range(5)]

    assert ids(page(client, 2, cursor_of([3, "gone"]))) == [made[1], made[0]]
    assert page(client, 2, cursor_of([9, "gone"])) == {
        "agents": [], "has_more": False, "response_metadata": {"next_cursor": ""}}


def test_a_cursor_with_a_garbled_position_is_422(create, client):
    create()
    for fields in ([0, "x", "2026-01-01T00:00:00.000000Z", "7"], [0, "x", 5, 7],
                   [0, "x", "2026-01-01T00:00:00.000000Z", True], [0, "x", "t"], {"a": 1}):
        response = client.get("/v1/agents", params={"cursor": cursor_of(fields)})
        body = assert_error(response, "validation_error", response.json()["detail"])
        assert body["param"] == "cursor", fields


def _bulk(emulator: Any, count: int, *, created_at: str | None = None,
          prefix: str = "id") -> None:
    """`count` agents straight into the store, `created_at` shared by all if given (as a
    bulk import may leave them); the HTTP path of a create is tested elsewhere."""
    with emulator.store._transaction() as db:
        db.executemany(
            "INSERT INTO agents (id, name, created_at, updated_at, record)"
            " VALUES (?, ?, ?, 'x', '{}')",
            [(f"{prefix}-{i:05}", f"{prefix}-{i}",
              created_at or f"2026-01-02T00:{i // 60 % 60:02}:{i % 60:02}.{i:06}Z")
             for i in range(count)],
        )


def test_agents_sharing_one_created_at_page_once_each_by_insertion_order(emulator, client):
    _bulk(emulator, 1000, created_at="2026-01-01T00:00:00.000000Z")  # a bulk import

    seen, cursor = [], ""
    while True:
        body = page(client, 200, cursor)
        seen += ids(body)
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break

    assert seen == [f"id-{i:05}" for i in reversed(range(1000))]


def _steps(emulator: Any, cursor: str | None, limit: int = 200) -> int:
    """SQLite virtual-machine steps the store takes to read one page after `cursor`."""
    from agentctl.emulator.plumbing import _decode_cursor

    store = emulator.store
    after = _decode_cursor(cursor).position if cursor else None
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    store._conn().set_progress_handler(count, 10)
    try:
        assert len(store.agent_page(limit + 1, after=after)) == limit + 1
    finally:
        store._conn().set_progress_handler(None, 0)
    return steps


def test_a_deep_page_costs_what_a_page_near_the_top_costs(emulator, client):
    _bulk(emulator, 3000, created_at="2026-01-01T00:00:00.000000Z")
    _bulk(emulator, 3000, prefix="late")  # newer: listed first
    near = page(client, 200, cursor_of([1, "late-02999"]))  # after the newest
    deep = page(client, 200, cursor_of([5000, "id-00999"]))  # after id-00999, 3,001 in

    top = _steps(emulator, near["response_metadata"]["next_cursor"])
    deepest = _steps(emulator, deep["response_metadata"]["next_cursor"])  # 3,201 in

    assert ids(near)[:2] == ["late-02998", "late-02997"]
    assert ids(deep)[:2] == ["id-00998", "id-00997"] and deep["has_more"] is True
    assert deepest < 2 * top, (top, deepest)  # not O(depth): that would be ~16x
    assert top < 2 * _steps(emulator, None)  # and about what the first page costs
