"""Billed creates (number purchase, import, calls) under injected resets: one
Idempotency-Key for every try, so the service acts exactly once."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TEST_KEY, agent_yaml, run_cli


def keys_sent(running) -> list[str]:
    return [r["path"] for r in running.requests if r["method"] == "POST"]


@pytest.mark.parametrize("seed", [3, 4, 5])  # seeds whose draws include reset-after
def test_a_purchase_under_resets_buys_exactly_once(faulty, monkeypatch, seed):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "12")  # 0.7^12: never all of them
    # Every POST's connection dies half the time: before the request is acted on, or after
    # the number was bought and before the answer left.
    running = faulty(f"reset-after=0.5,reset-before=0.2,methods=POST,seed={seed}")
    result = run_cli("-v", "numbers", "buy", "--country", "US", "--area-code", "415",
                     "-o", "json")
    bought = json.loads(result.stdout)
    numbers = [r["phone_number"] for _, r in
               running.app.state.emulator.platform.resources.items("number")]
    assert numbers == [bought["phone_number"]] == ["+14155550100"]
    posts = keys_sent(running)
    assert len(posts) >= 1
    faults = running.app.state.faults
    # Purchases landed unseen and were retried (with the one key: else more numbers).
    assert faults.counts["reset-after"] >= 1
    assert faults.counts["reset-after"] + faults.counts["reset-before"] == len(posts) - 1


def test_every_retry_reuses_the_key_and_a_landed_purchase_is_replayed(faulty):
    running = faulty("reset-after=1,methods=POST,seed=5")
    faults = running.app.state.faults
    # The first two tries land and lose their answer; then the faults stop.
    original = faults.rates.copy()

    seen: list[str] = []
    app = running.app
    inner = app.middleware_stack

    async def spy(scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            seen.append(headers.get(b"idempotency-key", b"").decode())
            if len(seen) >= 3:
                faults.rates.clear()
        await inner(scope, receive, send)

    app.middleware_stack = spy
    try:
        result = run_cli("numbers", "buy", "--country", "US", "-o", "json")
    finally:
        app.middleware_stack = inner
        faults.rates.update(original)
    assert len(seen) == 3 and len(set(seen)) == 1 and len(seen[0]) == 32
    numbers = list(running.app.state.emulator.platform.resources.items("number"))
    assert len(numbers) == 1
    assert json.loads(result.stdout)["phone_number"] == numbers[0][1]["phone_number"]


def test_a_call_under_resets_is_placed_once(faulty, write, monkeypatch):
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "12")
    running = faulty("reset-after=0.5,methods=POST,seed=4")
    running.app.state.faults.rates.clear()  # set up without faults
    run_cli("create", "-f", write("a.yaml", agent_yaml("caller")))
    run_cli("numbers", "buy", "--country", "US", "--agent", "caller")
    running.app.state.faults.rates["reset-after"] = 0.5
    run_cli("calls", "create", "--from", "+14155550100", "--to", "+14155550142")
    calls = list(running.app.state.emulator.platform.resources.items("call"))
    assert len(calls) == 1


def test_lost_answers_and_in_progress_are_retried_with_the_same_key(scripted, emulator):
    from agentctl.api import platform

    keys: list[str] = []

    def rule(request, n):
        keys.append(request.headers.get("Idempotency-Key", ""))
        return "reset-after" if n == 1 else None  # bought, answer lost

    api, sleeps, _ = scripted(rule)
    store = emulator.app.state.emulator.platform.resources
    bought = platform.buy_number(api, {"country_code": "US", "number_type": "local"})
    assert len(keys) == 2 and keys[0] == keys[1] and len(sleeps) == 1
    assert [r["phone_number"] for _, r in store.items("number")] == [bought["phone_number"]]

    # 409 idempotency_in_progress: wait and ask again, same key.
    import hashlib

    body = {"country_code": "US", "number_type": "mobile"}
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    scope = hashlib.sha256(f"{TEST_KEY}\0POST /v1/phone-numbers\0fixed".encode())
    store.claim_key(scope.hexdigest(), fingerprint)  # "the first try is still running"
    keys.clear()

    def release(request, n):
        keys.append(request.headers.get("Idempotency-Key", ""))
        if len(keys) == 2:
            store.settle_key(scope.hexdigest(), None, None)  # it failed: the key is free
        return None

    api, sleeps, _ = scripted(release)
    platform.send_billed(api, "/v1/phone-numbers", body, what="buy", key="fixed")
    assert keys == ["fixed"] * 2 and len(sleeps) == 1
    posts = [r["status"] for r in emulator.requests if r["method"] == "POST"]
    assert posts[-2:] == [409, 201]


def test_a_webhook_create_whose_answer_was_lost_returns_the_one_it_made(scripted, emulator):
    from agentctl.api import platform

    api, sleeps, _ = scripted(
        lambda request, n: "reset-after" if request.method == "POST" and n == 1 else None)
    body = {"url": "https://example.com/hooks", "events": ["call.ended"], "secret": "s" * 40}
    made = platform.create_webhook(api, body)
    stored = [r for _, r in emulator.app.state.emulator.platform.resources.items(
        "subscription")]
    assert [r["id"] for r in stored] == [made["id"]] and len(sleeps) == 1
    # A duplicate from the start is still refused.
    again, _, _ = scripted(lambda request, n: None)
    with pytest.raises(Exception, match="exists"):
        platform.create_webhook(again, body)
