"""usecases.apply: specs matched to the server's agents, the writes run concurrently, and promote's
plan, against the real emulator (a wrapping transport only to make chosen writes fail)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from agentctl.api.client import AgentsAPI
from agentctl.api.retry import RetryPolicy
from agentctl.api.transport import build_client
from agentctl.emulator import server
from agentctl.errors import RejectedError, SpecError
from agentctl.spec.load import SpecDocument, load_specs
from agentctl.spec.plan import AgentPlan, plan_agent
from agentctl.usecases.apply import (
    apply_plans,
    execute,
    plan_documents,
    promotion_plan,
    promotion_source,
    run_each,
    write_plan,
)
from tests.conftest import TEST_KEY


def body(name: str, prompt: str = "You help.") -> dict:
    return {"name": name, "system_prompt": prompt, "voice": {"voice_id": "ivy"}}


class Refusing(httpx.BaseTransport):
    """The real transport, except that a write whose body names an agent in `refuse`
    is answered 422 (not sent on), and one in `explode` raises a plain exception."""

    def __init__(self, refuse: set[str], explode: set[str]) -> None:
        self.inner = httpx.HTTPTransport()
        self.refuse, self.explode = refuse, explode

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content).get("name") if request.content else None
        if name in self.explode:
            raise RuntimeError(f"boom {name}")
        if name in self.refuse:
            return httpx.Response(422, json={"detail": f"no {name}"}, request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def make_api(emulator: server.RunningEmulator) -> Iterator[Callable[..., AgentsAPI]]:
    clients: list[httpx.Client] = []

    def _make(refuse: set[str] = frozenset(), explode: set[str] = frozenset()) -> AgentsAPI:
        http = build_client(emulator.base_url, TEST_KEY, 5.0,
                            transport=Refusing(set(refuse), set(explode)))
        clients.append(http)
        return AgentsAPI(http, RetryPolicy(attempts=1))

    yield _make
    for http in clients:
        http.close()


def docs_for(write: Callable[[str, str], str], *bodies: dict) -> list[SpecDocument]:
    path = write("agents.json", json.dumps(list(bodies)))
    return load_specs([path], env={})


def writes(emulator: server.RunningEmulator) -> list[tuple[str, str]]:
    """(method, agent name or id) of each write the emulator received, in order."""
    seen = []
    for r in emulator.requests:
        if r["method"] in ("POST", "PUT", "DELETE"):
            seen.append((r["method"], r["path"].rsplit("/", 1)[-1]))
    return seen


# -- plan_documents ----------------------------------------------------------------------------


def test_plans_match_by_name_with_full_records(emulator, make_api, write) -> None:
    api = make_api()
    same = api.create_agent(body("team-same"))
    old = api.create_agent(body("team-old", "Old prompt."))
    gone = api.create_agent(body("team-gone"))
    other = api.create_agent(body("other-team"))
    docs = docs_for(write, body("team-same"), body("team-old", "New prompt."), body("team-new"))

    plans = plan_documents(api, docs, prune=True, selector="team-", concurrency=2)

    assert [(p.name, p.action, p.id) for p in plans] == [
        ("team-same", "unchanged", same["id"]),
        ("team-old", "update", old["id"]),
        ("team-new", "create", None),
        ("team-gone", "delete", gone["id"]),  # other-team is outside the selector
    ]
    assert other["id"] not in {p.id for p in plans}
    assert plans[1].current["system_prompt"] == "Old prompt."  # the full record, not a summary
    assert [c.path for c in plans[1].changes] == [("system_prompt",)]
    assert plans[2].where.endswith("agents.json:1")
    # without --prune nothing is deleted
    assert [p.action for p in plan_documents(api, docs, selector="team-")] == [
        "unchanged", "update", "create"]


def test_a_name_twice_on_the_server_is_refused_before_any_write(emulator, make_api,
                                                                write) -> None:
    api = make_api()
    for _ in range(2):
        api.create_agent(body("twin"))
    api.create_agent(body("pair"))
    api.create_agent(body("pair"))
    ids = [a["id"] for a in api.list_agents() if a["name"] == "twin"]  # the server's order
    emulator.requests.clear()
    docs = docs_for(write, body("twin"), body("pair"))
    with pytest.raises(RejectedError) as caught:
        plan_documents(api, docs)
    assert caught.value.message == (
        f"2 agents on the server are named 'twin': {ids[0]}, {ids[1]} (and 1 more names)")
    assert writes(emulator) == []


# -- apply_plans / execute ---------------------------------------------------------------------


def test_apply_writes_everything_and_reports_each_write(emulator, make_api, write) -> None:
    api = make_api()
    api.create_agent(body("team-old", "Old."))
    gone = api.create_agent(body("team-gone"))
    docs = docs_for(write, body("team-old", "New."), body("team-a"), body("team-b"))
    plans = plan_documents(api, docs, prune=True, selector="team-")
    emulator.requests.clear()
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_written(plan: AgentPlan, agent_id: str) -> None:
        with lock:
            seen.append((plan.name, agent_id))

    result = apply_plans(api, plans, 4, on_written)

    assert result.failures == []
    stored = {a["name"]: a["id"] for a in emulator.store.list_agents()}
    assert set(stored) == {"team-old", "team-a", "team-b"}
    assert result.ids == {**stored, "team-gone": gone["id"]}
    assert sorted(seen) == sorted(result.ids.items())
    # the delete only after every create and update
    methods = [m for m, _ in writes(emulator)]
    assert sorted(methods[:3]) == ["POST", "POST", "PUT"] and methods[3:] == ["DELETE"]


def test_after_a_failure_no_new_write_starts_and_nothing_is_deleted(emulator, make_api,
                                                                   write) -> None:
    api = make_api(refuse={"b"})
    gone = api.create_agent(body("gone"))
    docs = docs_for(write, body("a"), body("b"), body("c"))
    plans = plan_documents(api, docs)
    plans.append(AgentPlan("gone", "delete", gone))
    emulator.requests.clear()

    result = apply_plans(api, plans, 1)

    assert [type(f) for f in result.failures] == [RejectedError]
    assert "no b" in result.failures[0].message
    assert list(result.ids) == ["a"]
    assert sorted(a["name"] for a in emulator.store.list_agents()) == ["a", "gone"]
    assert writes(emulator) == [("POST", "agents")]  # c never sent, gone not deleted


def test_execute_keeps_plan_order_and_only_the_ids_written(emulator, make_api) -> None:
    api = make_api(refuse={"x2", "x4"})
    plans = [plan_agent(body(f"x{i}"), None) for i in range(5)]
    result = execute(api, plans, 1)
    assert list(result.ids) == ["x0", "x1"]
    assert len(result.failures) == 1  # x3 and x4 never started
    assert "no x2" in result.failures[0].message
    assert execute(api, [], 3).ids == {}


def test_an_unexpected_exception_propagates_and_stops_the_queue(emulator, make_api) -> None:
    api = make_api(explode={"y1"})
    plans = [plan_agent(body(f"y{i}"), None) for i in range(4)]
    with pytest.raises(RuntimeError, match="boom y1"):
        execute(api, plans, 1)
    assert [a["name"] for a in emulator.store.list_agents()] == ["y0"]


def test_run_each_keeps_item_order_and_at_most_n_in_flight() -> None:
    lock, flying, most = threading.Lock(), [0], [0]
    gate = threading.Barrier(3)  # three must be in flight at once, or this waits and fails

    def work(item: int) -> int:
        with lock:
            flying[0] += 1
            most[0] = max(most[0], flying[0])
        if item < 3:
            gate.wait(timeout=10)
        with lock:
            flying[0] -= 1
        return item * 10

    assert run_each(work, list(range(12)), 3) == [i * 10 for i in range(12)]
    assert most[0] == 3
    assert run_each(work, [], 3) == []


def test_run_each_starts_nothing_after_a_stop_or_an_exception() -> None:
    started: list[int] = []
    stop = threading.Event()

    def work(item: int) -> int:
        started.append(item)
        if item == 1:
            stop.set()
        return item

    assert run_each(work, [0, 1, 2, 3], 1, stop) == [0, 1, None, None]
    assert started == [0, 1]

    def explode(item: int) -> int:
        if item >= 1:
            raise KeyboardInterrupt if item == 2 else ValueError(f"item {item}")
        return item

    with pytest.raises(ValueError, match="item 1"):  # the first in item order
        run_each(explode, [0, 1, 2, 3], 1)
    with pytest.raises(KeyboardInterrupt):  # a Ctrl-C met in a worker reaches the caller
        run_each(explode, [2, 0], 2)


def test_write_plan_sends_one_request_per_action(emulator, make_api) -> None:
    api = make_api()
    created = write_plan(api, plan_agent(body("w"), None))
    assert created is not None and created["name"] == "w"
    record = api.get_agent(created["id"])
    updated = write_plan(api, plan_agent(body("w", "Changed."), record))
    assert updated is not None and updated["system_prompt"] == "Changed."
    assert write_plan(api, AgentPlan("w", "delete", record)) is None
    assert emulator.store.list_agents() == []
    with pytest.raises(ValueError, match="nothing to write"):
        write_plan(api, AgentPlan("w", "unchanged", record))


# -- promote -----------------------------------------------------------------------------------

SECRET = "Bearer s3cret"


def with_tool(name: str) -> dict:
    return {**body(name), "tools": [{
        "name": "get_weather", "description": "Weather.",
        "parameters": {"type": "object", "properties": {}},
        "http": {"url": "https://api.example.com/w", "http_method": "GET",
                 "headers": [{"name": "Authorization", "value": SECRET}]},
    }]}


@pytest.fixture
def target(tmp_path, make_api) -> Iterator[tuple[server.RunningEmulator, AgentsAPI]]:
    """A second account: its own emulator and client."""
    running = server.start(port=0, db_path=tmp_path / "target.sqlite3")
    http = build_client(running.base_url, TEST_KEY, 5.0)
    try:
        yield running, AgentsAPI(http, RetryPolicy(attempts=1))
    finally:
        http.close()
        running.stop()


def test_promotion_of_a_new_agent_needs_the_secret_from_the_environment(make_api,
                                                                        target) -> None:
    source, (target_emulator, target_api) = make_api(), target
    source.create_agent(with_tool("Support"))
    spec, current = promotion_source(source, target_api, "Support", profile="prod")
    assert current is None
    assert spec["tools"][0]["http"]["headers"][0]["value"] == "${GET_WEATHER_AUTHORIZATION}"
    with pytest.raises(SpecError) as caught:
        promotion_plan(spec, current, {}, profile="prod")
    assert caught.value.message == (
        "promote 'Support': no value for 1 secret(s) (tools[0].http.headers[0].value) in "
        "profile 'prod': set GET_WEATHER_AUTHORIZATION")
    assert caught.value.hint.startswith("export GET_WEATHER_AUTHORIZATION=...")

    plan = promotion_plan(spec, current, {"GET_WEATHER_AUTHORIZATION": "Bearer prod"},
                          profile="prod")
    assert plan.action == "create"
    assert plan.body["tools"][0]["http"]["headers"][0]["value"] == "Bearer prod"
    assert [r for r in target_emulator.requests if r["method"] != "GET"] == []


def test_promotion_keeps_the_targets_secret_and_plans_only_the_changes(make_api,
                                                                       target) -> None:
    source, (_, target_api) = make_api(), target
    source.create_agent({**with_tool("Support"), "greeting": "Hello from staging"})
    existing = target_api.create_agent(with_tool("Support"))
    spec, current = promotion_source(source, target_api, "Support", profile="prod")
    assert current is not None and current["id"] == existing["id"]
    plan = promotion_plan(spec, current, {}, profile="prod")  # no variable needed
    assert (plan.action, plan.id) == ("update", existing["id"])
    assert [c.path for c in plan.changes] == [("greeting",)]


def test_promotion_refuses_a_name_twice_in_the_target(make_api, target) -> None:
    source, (_, target_api) = make_api(), target
    source.create_agent(body("Support"))
    ids = [target_api.create_agent(body("Support"))["id"] for _ in range(2)]
    with pytest.raises(RejectedError, match="2 agents are named 'Support' in profile 'prod'"
                       ) as caught:
        promotion_source(source, target_api, "Support", profile="prod")
    assert set(ids) <= set(caught.value.message.split(": ")[-1].split(", "))


def test_an_agent_deleted_after_the_plan_is_created_again_not_a_mid_run_404(target, tmp_path):
    """apply's choice (docs/api.md): the spec says the agent should exist, so an update
    that finds it gone (404) creates it from the whole spec instead."""
    running, api = target
    path = tmp_path / "a.yaml"
    path.write_text("name: gone\nsystem_prompt: p\nvoice: {voice_id: ivy}\n", "utf-8")
    made = api.create_agent(load_specs([str(path)], env={})[0].data)
    path.write_text("name: gone\nsystem_prompt: changed\nvoice: {voice_id: ivy}\n", "utf-8")
    plans = plan_documents(api, load_specs([str(path)], env={}))
    assert [p.action for p in plans] == ["update"]
    api.delete_agent(made["id"])  # someone else deletes it meanwhile

    result = apply_plans(api, plans, concurrency=1)

    assert result.failures == []
    [item] = running.store.list_agents()
    assert item["id"] != made["id"] and result.ids["gone"] == item["id"]
    assert running.store.get_agent(item["id"])["system_prompt"] == "changed"
