"""The client under trouble: what is retried, how long it waits, and no duplicate creates.

The AgentsAPI talks to the real emulator; a scripted transport injects the faults the
emulator cannot time precisely (e.g. "the create landed, then every check failed").
"""

from __future__ import annotations

import random

import pytest

from agentctl.api.retry import RetryPolicy, parse_retry_after
from agentctl.errors import NotFoundError, UnavailableError, UsageError
from tests.reliability.conftest import BODY

AGENTS = "/v1/agents"


def posts(transport) -> int:
    return sum(1 for method, path, _ in transport.log if method == "POST")


# -- the backoff itself ------------------------------------------------------------------
def test_backoff_is_exponential_with_jitter_and_a_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, rng=random.Random(1))
    for attempt in range(10):
        ceiling = min(3.0, 0.5 * 2**attempt)
        waits = {policy.delay(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jitter: not one fixed value


@pytest.mark.parametrize(("header", "expected"), [
    ("2", 2.0), ("0", 0.0), (" 1.5 ", 1.5), ("-3", 0.0), ("soon", None), ("", None),
    (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_parsing(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_wins_over_backoff_but_is_capped():
    policy = RetryPolicy(base_delay=0.001, max_retry_after=30.0)
    assert policy.delay(0, "7") == 7.0
    assert policy.delay(0, "3600") == 30.0


def test_retry_knobs_come_from_the_environment():
    policy = RetryPolicy.from_env({"AGENTCTL_RETRY_ATTEMPTS": "3",
                                   "AGENTCTL_RETRY_BASE_DELAY": "0.01",
                                   "AGENTCTL_RETRY_MAX_DELAY": "0.1"})
    assert (policy.attempts, policy.base_delay, policy.max_delay) == (3, 0.01, 0.1)
    assert RetryPolicy.from_env({}).attempts == RetryPolicy().attempts
    for bad in ({"AGENTCTL_RETRY_ATTEMPTS": "0"}, {"AGENTCTL_RETRY_ATTEMPTS": "many"},
                {"AGENTCTL_RETRY_BASE_DELAY": "nan"}, {"AGENTCTL_RETRY_MAX_DELAY": "-1"}):
        with pytest.raises(UsageError, match="AGENTCTL_RETRY_"):
            RetryPolicy.from_env(bad)


# -- idempotent requests -----------------------------------------------------------------
@pytest.mark.parametrize("fault", ["reset-before", "reset-after", "refused", "read-timeout"])
def test_get_is_retried_after_connection_trouble(scripted, emulator, fault):
    api, sleeps, transport = scripted(lambda req, n: fault if n <= 2 else None)
    assert api.list_agents() == []
    assert len(sleeps) == 2
    assert [a for m, p, a in transport.log] == [fault, fault, None]


def test_429_retry_after_is_honoured(faulty):
    running = faulty("429=1:2")  # every request: 429 with Retry-After: 2
    from agentctl.api.client import AgentsAPI
    from agentctl.api.transport import build_client
    from tests.conftest import TEST_KEY
    from tests.reliability.conftest import Sleeps

    sleeps = Sleeps()
    with build_client(running.base_url, TEST_KEY, 5.0) as http:
        api = AgentsAPI(http, RetryPolicy(attempts=4, sleep=sleeps))
        with pytest.raises(UnavailableError, match="rate limited"):
            api.list_agents()
    assert sleeps == [2.0, 2.0, 2.0]  # the server's word, not the (millisecond) backoff
    assert len(running.requests) == 4


def test_put_and_delete_survive_a_reset_after_the_write(scripted, emulator):
    created = emulator.store.create_agent(
        {"name": "alpha", "system_prompt": "p", "voice": {"voice_id": "ivy"}})
    path = f"{AGENTS}/{created['id']}"

    def rule(req, n):
        return "reset-after" if req.url.path == path and n == 1 else None

    api, _, transport = scripted(rule)
    assert api.update_agent(created["id"], {"greeting": "Hello"})["greeting"] == "Hello"
    assert [(m, a) for m, _, a in transport.log] == [("PUT", "reset-after"), ("PUT", None)]
    api, _, _ = scripted(rule)
    api.delete_agent(created["id"])  # the retry's 404 means the first try deleted it
    assert emulator.store.count_agents() == 0
    with pytest.raises(NotFoundError):  # but a plain 404 is still an error
        api.delete_agent(created["id"])


# -- creates: never two agents ----------------------------------------------------------
@pytest.mark.parametrize("fault", ["reset-after", "read-timeout"])
def test_create_with_unknown_outcome_checks_by_name_and_does_not_post_again(
    scripted, emulator, fault
):
    api, _, transport = scripted(lambda req, n: fault if req.method == "POST" else None)
    record = api.create_agent(dict(BODY))
    assert record["name"] == "alpha"
    assert emulator.store.count_agents() == 1
    assert posts(transport) == 1


def test_create_that_never_reached_the_server_is_posted_again(scripted, emulator):
    api, _, transport = scripted(
        lambda req, n: "refused" if req.method == "POST" and n == 1 else None)
    api.create_agent(dict(BODY))
    assert emulator.store.count_agents() == 1
    assert posts(transport) == 2
    # a connect error is known not to have been sent: no check by name was needed
    assert [m for m, _, _ in transport.log] == ["POST", "POST"]


@pytest.mark.parametrize("spec", ["429=1:0", "503=1"])
def test_create_refused_with_429_or_503_is_sent_again_without_a_check(faulty, spec):
    from agentctl.api.client import AgentsAPI
    from agentctl.api.transport import build_client
    from tests.conftest import TEST_KEY
    from tests.reliability.conftest import Sleeps

    running = faulty(spec)
    with build_client(running.base_url, TEST_KEY, 5.0) as http:
        api = AgentsAPI(http, RetryPolicy(attempts=3, sleep=Sleeps()))
        with pytest.raises(UnavailableError):
            api.create_agent(dict(BODY))
    assert [r["method"] for r in running.requests] == ["POST"] * 3
    assert running.store.count_agents() == 0


def test_create_landed_but_every_check_fails_is_an_error_not_a_second_post(scripted, emulator):
    """The outcome stays unknown: posting again could make a duplicate, so stop (exit 7)."""

    def rule(req, n):
        if req.method == "POST":
            return "reset-after"
        return "reset-before" if req.url.path == AGENTS else None

    api, _, transport = scripted(rule, attempts=3)
    with pytest.raises(UnavailableError, match="unknown") as caught:
        api.create_agent(dict(BODY))
    assert "agentctl list" in (caught.value.hint or "")
    assert emulator.store.count_agents() == 1
    assert posts(transport) == 1


def test_create_whose_last_try_landed_is_found_not_reported_as_failed(scripted, emulator):
    def rule(req, n):
        if req.method == "POST":
            return "reset-before" if n < 3 else "reset-after"
        return None

    api, _, _transport = scripted(rule, attempts=3)
    assert api.create_agent(dict(BODY))["name"] == "alpha"
    assert emulator.store.count_agents() == 1


def test_create_keeps_known_duplicates_apart(scripted, emulator):
    """With --allow-duplicate-name an older agent of that name is not taken for the new one."""
    old = emulator.store.create_agent(
        {"name": "alpha", "system_prompt": "p", "voice": {"voice_id": "ivy"}})
    api, _, transport = scripted(
        lambda req, n: "reset-before" if req.method == "POST" and n == 1 else None)
    record = api.create_agent(dict(BODY), known_ids=[old["id"]])
    assert record["id"] != old["id"]
    assert emulator.store.count_agents() == 2
    assert posts(transport) == 2
