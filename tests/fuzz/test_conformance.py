"""The emulator against its own OpenAPI document: requests generated from the document
(valid bodies, broken bodies, bad ids, bad keys, bad query values), every answer checked
against it, for every operation it lists.

No 5xx, no status the document does not list for the operation, no body outside the
documented shape, and no exception inside the emulator (`emulator.errors == []`).
Sessions, calls, numbers and subscriptions are seeded through the API (a call from a
bought number leaves a session, and webhook deliveries for a subscription), and made
again when a fuzzed DELETE took the last one.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentctl.emulator import server
from tests.fuzz.schemas import JSON, Schemas

KEY = "conformance-key"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))  # over the six agent operations
METHODS = ("get", "post", "put", "patch", "delete")
AGENT_OPERATIONS = [
    ("GET", "/v1/agents"), ("POST", "/v1/agents"), ("GET", "/v1/agents/{agent_id}"),
    ("PUT", "/v1/agents/{agent_id}"), ("DELETE", "/v1/agents/{agent_id}"),
    ("GET", "/v1/token")]
OTHER_OPERATIONS = [
    ("POST", "/v1/tokens"), ("GET", "/v1/builtin-tools"),
    ("GET", "/v1/sessions"), ("GET", "/v1/sessions/{session_id}"),
    ("GET", "/v1/sessions/{session_id}/webhook-deliveries"),
    ("GET", "/v1/sessions/{session_id}/webhook-deliveries/latest"),
    ("POST", "/v1/webhook-subscriptions"), ("GET", "/v1/webhook-subscriptions"),
    ("GET", "/v1/webhook-subscriptions/{subscription_id}"),
    ("PATCH", "/v1/webhook-subscriptions/{subscription_id}"),
    ("GET", "/v1/phone-numbers"), ("POST", "/v1/phone-numbers"),
    ("POST", "/v1/phone-numbers/purchase"), ("POST", "/v1/phone-numbers/import"),
    ("GET", "/v1/phone-numbers/{phone_number}"),
    ("PUT", "/v1/phone-numbers/{phone_number}/agent"),
    ("POST", "/v1/calls"), ("GET", "/v1/calls"), ("GET", "/v1/calls/{call_id}"),
    ("DELETE", "/v1/calls/{call_id}"),
    # the deletes last: what they take is made again, but later runs need less of that
    ("DELETE", "/v1/phone-numbers/{phone_number}/agent"),
    ("DELETE", "/v1/phone-numbers/{phone_number}"),
    ("DELETE", "/v1/webhook-subscriptions/{subscription_id}"),
    ("DELETE", "/v1/sessions/{session_id}"),
]
OPERATIONS = AGENT_OPERATIONS + OTHER_OPERATIONS
# Requests per operation: the agent bodies are the big ones; the rest get a small share
# each (the whole suite has a time budget).
BUDGET = {op: max(EXAMPLES // 6, 1) for op in AGENT_OPERATIONS} | {
    op: max(EXAMPLES // 40, 1) for op in OTHER_OPERATIONS}
ROUNDS = 5
# Answers each operation's run must reach: the fuzzer is not only collecting 401s and 422s.
MUST_SEE = {
    ("GET", "/v1/agents"): {"200", "401"},
    ("POST", "/v1/agents"): {"201", "401", "422"},
    ("GET", "/v1/agents/{agent_id}"): {"200", "404"},
    ("PUT", "/v1/agents/{agent_id}"): {"200", "404", "422"},
    ("DELETE", "/v1/agents/{agent_id}"): {"204", "404"},
    ("GET", "/v1/token"): {"200", "422"},
    ("POST", "/v1/tokens"): {"200", "401"},
    ("GET", "/v1/builtin-tools"): {"200", "401"},
    ("GET", "/v1/sessions"): {"200", "401"},
    ("GET", "/v1/sessions/{session_id}"): {"200", "404"},
    ("DELETE", "/v1/sessions/{session_id}"): {"204", "404"},
    ("GET", "/v1/sessions/{session_id}/webhook-deliveries"): {"200", "404"},
    ("GET", "/v1/sessions/{session_id}/webhook-deliveries/latest"): {"200", "404"},
    ("POST", "/v1/calls"): {"201", "422"},
    ("GET", "/v1/calls"): {"200", "401"},
    ("GET", "/v1/calls/{call_id}"): {"200", "404"},
    ("DELETE", "/v1/calls/{call_id}"): {"204", "404"},
    ("GET", "/v1/phone-numbers"): {"200", "401"},
    ("POST", "/v1/phone-numbers"): {"201", "422"},
    ("POST", "/v1/phone-numbers/purchase"): {"201", "409"},
    ("POST", "/v1/phone-numbers/import"): {"201", "422"},
    ("GET", "/v1/phone-numbers/{phone_number}"): {"200", "404"},
    ("DELETE", "/v1/phone-numbers/{phone_number}"): {"204", "404"},
    ("PUT", "/v1/phone-numbers/{phone_number}/agent"): {"200", "404"},
    ("DELETE", "/v1/phone-numbers/{phone_number}/agent"): {"204", "404"},
    ("POST", "/v1/webhook-subscriptions"): {"201", "422"},
    ("GET", "/v1/webhook-subscriptions"): {"200", "401"},
    ("GET", "/v1/webhook-subscriptions/{subscription_id}"): {"200", "404"},
    ("PATCH", "/v1/webhook-subscriptions/{subscription_id}"): {"200", "404"},
    ("DELETE", "/v1/webhook-subscriptions/{subscription_id}"): {"204", "404"},
}
BAD_AUTH = ["", "Bearer", "x" * 600, "two words", None]
SEED_AGENT = {"name": "seed", "system_prompt": "p", "voice": {"voice_id": "ivy"}}
SEED_URL = "https://hooks.example.com/seed"
SECRET = "s" * 32
# Idempotency keys: two reused ones (replays and reuse), and two the emulator refuses.
IDEMPOTENCY_KEYS = ["fuzz-key-1", "fuzz-key-2", "", "k" * 256]
E164_TEXT = st.from_regex(r"^\+[1-9][0-9]{6,14}$", fullmatch=True)
# Numbers the emulator sells (its fictional inventory, `numbers.inventory`), from the ends
# of its ranges: a search buys from the start.
FOR_SALE = [f"+1512555019{n}" for n in range(10)] + ["+447700900999", "+442079460999"]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    emulator = server.start(port=0, db_path=tmp_path_factory.mktemp("conf") / "db.sqlite3",
                            live={"speed": 50.0})
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def http(running) -> Iterator[httpx.Client]:
    """One client for the module: making one costs ~0.1 s (its TLS context)."""
    with httpx.Client(base_url=running.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def document(http) -> dict[str, Any]:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_the_document_is_served_and_covers_the_api(document):
    assert document["openapi"].startswith("3.1")
    listed = [(m, p) for m, p, _ in operations(document)]
    assert sorted(listed) == sorted(OPERATIONS)
    assert set(MUST_SEE) == set(OPERATIONS)
    assert len({op["operationId"] for _, _, op in operations(document)}) == len(OPERATIONS)
    schemas = Schemas(document)
    for _, _, op in operations(document):
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                schemas.errors(None, media["schema"])  # every keyword is one we check
        if "requestBody" in op:
            schemas.errors(None, op["requestBody"]["content"]["application/json"]["schema"])


def mutate(schemas: Schemas, body: Any) -> st.SearchStrategy[Any]:
    """A valid body, broken in one place (or replaced by anything at all)."""
    if not isinstance(body, dict) or not body:
        return JSON
    keys = sorted(body)
    return st.one_of(
        st.sampled_from(keys).map(lambda k: {x: v for x, v in body.items() if x != k}),
        st.tuples(st.sampled_from(keys), JSON).map(lambda kv: {**body, kv[0]: kv[1]}),
        st.tuples(st.text(max_size=10), JSON).map(lambda kv: {**body, kv[0]: kv[1]}),
        JSON,
    )


RAW_BODIES = [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"name": "\\ud800"}',
              b"[" * 200 + b"]" * 200, b'{"a": NaN}', b"1e999"]


class World:
    """What the fuzzer names by index: ids and numbers the emulator made, each kind made
    again through the API when a fuzzed DELETE took the last one."""

    def __init__(self, running: server.RunningEmulator, http: httpx.Client) -> None:
        self.running = running
        self.http = http
        self.resources = running.app.state.emulator.platform.resources
        self.sources: dict[str, tuple[Callable[[], list[Any]], Callable[[], None]]] = {
            "agent_id": (lambda: [a["id"] for a in running.store.list_agents()],
                         self.make_agent),
            "phone_number": (lambda: self.ids("number", "phone_number"), self.make_number),
            "from_number": (lambda: [r["phone_number"] for _, r in self.resources.items(
                "number") if r.get("agent_id")], self.make_number),
            "call_id": (lambda: self.ids("call"), self.make_call),
            "session_id": (lambda: self.ids("session"), self.make_call),
            "subscription_id": (lambda: self.ids("subscription"), self.make_subscription),
        }

    def ids(self, kind: str, key: str = "id") -> list[str]:
        return [record[key] for _, record in self.resources.items(kind)]

    def known(self, name: str) -> list[Any]:
        listed, make = self.sources[name]
        found = listed()
        if not found:
            make()
            found = listed()
        assert found, name
        return found

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers={"Authorization": KEY})
        assert response.status_code == 201, response.text
        return response.json()

    def make_agent(self) -> None:
        self.post("/v1/agents", SEED_AGENT)

    def make_number(self) -> None:
        agent = self.known("agent_id")[0]
        self.post("/v1/phone-numbers", {"country_code": "US", "number_type": "local",
                                        "agent_id": agent})

    def make_subscription(self) -> None:
        url = f"{SEED_URL}/{len(self.ids('subscription'))}-{time.monotonic_ns()}"
        self.post("/v1/webhook-subscriptions", {"url": url, "events": [
            "session.started", "session.completed", "call.connected", "call.ended"],
            "secret": SECRET})

    def make_call(self) -> None:
        """A call from a number with an agent: it leaves a session (and deliveries)."""
        if not self.ids("subscription"):
            self.make_subscription()
        call = self.post("/v1/calls", {"from_number": self.known("from_number")[0],
                                       "to_number": "+14155550199"})
        deadline = time.monotonic() + 30
        while (record := self.resources.get("call", call["id"]))["status"] != "ended":
            assert time.monotonic() < deadline, record
            time.sleep(0.02)

    def hints(self) -> dict[str, Callable[[], list[Any]]]:
        """Values a body field may take besides the document's (known ids, numbers for
        sale, a country with an inventory): without them a valid body is almost never
        one the emulator can say yes to."""
        return {
            "agent_id": lambda: self.known("agent_id"),
            "from_number": lambda: self.known("from_number"),
            "phone_number": lambda: FOR_SALE + self.known("phone_number")[:len(FOR_SALE)],
            "country_code": lambda: ["US"],
            "area_code": lambda: [415, 212, None],
            "url": lambda: [SEED_URL],
            "termination_uri": lambda: ["my-trunk.pstn.twilio.com", None],
        }


def query_strategy(parameter: dict[str, Any]) -> st.SearchStrategy[str]:
    """A query value: one the schema allows, one just outside it, or any text."""
    schema = parameter["schema"]
    anything = st.text(max_size=8)
    if "enum" in schema:
        return st.sampled_from([str(v) for v in schema["enum"]]) | anything
    if schema.get("type") == "integer":
        low, high = schema.get("minimum", -10), schema.get("maximum", 1000)
        return st.integers(low - 5, high + 5).map(str) | anything
    if schema.get("type") == "boolean":
        return st.sampled_from(["true", "false"]) | anything
    return anything


def path_strategy(name: str) -> st.SearchStrategy[Any]:
    """A known value by index (an int), or a made-up one."""
    made_up = st.one_of(
        st.uuids().map(str),
        # "." and ".." cannot be a segment: URLs resolve them away (RFC 3986)
        st.text(min_size=1, max_size=40).filter(lambda t: t not in (".", "..")))
    if name == "phone_number":
        made_up = made_up | E164_TEXT
    return st.one_of(st.integers(0, 1000), st.integers(0, 1000), made_up)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: f"{o[0]} {o[1]}")
def test_every_answer_is_documented(running, http, document, operation):
    schemas = Schemas(document)
    method, path = operation
    item = document["paths"][path]
    op = item[method.lower()]
    parameters = [*item.get("parameters", []), *op.get("parameters", [])]
    query = {p["name"]: query_strategy(p) for p in parameters if p["in"] == "query"}
    idempotent = any(p["name"] == "Idempotency-Key" for p in parameters)
    seen: Counter[str] = Counter()

    def check(response: httpx.Response, rerouted: bool) -> None:
        status = str(response.status_code)
        seen[status] += 1
        assert response.status_code < 500, response.text
        if status == "307" and response.request.url.path.endswith("/"):
            # a trailing slash (an id ending in "/"): redirected without it, as FastAPI does
            location = unquote(httpx.URL(response.headers["location"]).path)
            assert location == unquote(response.request.url.path).rstrip("/")
            return
        if rerouted:
            # An id holding "/" (sent as %2F): servers route on the decoded path, as the
            # service's do, so this is another path's request, or none: an error answer.
            assert 400 <= response.status_code < 500, response.text
            problems = schemas.errors(response.json(), {"$ref": "#/components/schemas/Error"})
            assert not problems, problems
            return
        assert status in op["responses"], f"{method} {path}: undocumented {status}"
        spec = op["responses"][status]
        if "content" not in spec:
            assert response.content == b""
            return
        body = response.json()
        problems = schemas.errors(body, spec["content"]["application/json"]["schema"])
        assert not problems, f"{method} {path} {status}: {problems[:5]}\n{body}"

    names = re.findall(r"\{(\w+)\}", path)
    ids = {name: path_strategy(name) for name in names}
    body_schema = (op["requestBody"]["content"]["application/json"]["schema"]
                   if "requestBody" in op else None)
    bodies = None if body_schema is None else schemas.strategy(body_schema)
    queries = st.fixed_dictionaries({}, optional=query)
    keys = st.none() | st.sampled_from(IDEMPOTENCY_KEYS)

    @settings(max_examples=BUDGET[operation], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        url = path
        rerouted = False
        for name in names:
            # a known value by index: the strategy itself must not depend on the run so far
            ref = data.draw(ids[name], label=name)
            if isinstance(ref, int):
                known = world.known(name)
                ref = known[ref % len(known)]
            rerouted = rerouted or "/" in ref.rstrip("/")
            url = url.replace(f"{{{name}}}", quote(ref, safe=""))
        auth = data.draw(st.one_of(st.just(KEY), st.just(f"Bearer {KEY}"),
                                   st.sampled_from(BAD_AUTH)), label="auth")
        headers = {} if auth is None else {"Authorization": auth}
        if idempotent:
            key = data.draw(keys, label="key")
            if key is not None:
                headers["Idempotency-Key"] = key
        params = data.draw(queries, label="query") or None
        content = None
        if bodies is not None:
            valid = data.draw(bodies, label="valid body")
            hints = world.hints()
            for field in sorted(set(valid) & set(hints) if isinstance(valid, dict) else ()):
                pick = data.draw(st.one_of(st.integers(0, 1000), st.integers(0, 1000),
                                           st.none()), label=f"known {field}")
                if pick is not None:
                    choices = hints[field]()
                    valid[field] = choices[pick % len(choices)]
            kind = data.draw(st.sampled_from(["valid", "mutated", "valid", "raw"]),
                             label="kind")
            if kind == "raw":
                content = data.draw(st.sampled_from(RAW_BODIES) | st.binary(max_size=64))
            else:
                body = valid if kind == "valid" else data.draw(mutate(schemas, valid))
                content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        check(http.request(method, url, headers=headers, params=params, content=content),
              rerouted)

    world = World(running, http)
    # A small budget may miss a rare answer (a valid body with every known value in
    # place): another round then, a few at most, instead of a large budget for all.
    for _ in range(ROUNDS):
        one_request()
        if MUST_SEE[operation] <= set(seen):
            break
    assert running.errors == []
    assert MUST_SEE[operation] <= set(seen), seen


def test_the_seeded_session_has_artifacts_and_deliveries(running, http, document):
    """The fuzzer's seeds reach the shapes that only a finished session has."""
    schemas = Schemas(document)
    auth = {"Authorization": KEY}
    world = World(running, http)
    world.make_subscription()  # one that wants every event (the fuzzer's may not)
    world.make_call()
    session_id = world.ids("session")[0]
    session = http.get(f"/v1/sessions/{session_id}", headers=auth).json()
    assert session["status"] == "completed" and len(session["artifacts"]) == 3
    assert not schemas.errors(session, {"$ref": "#/components/schemas/Session"})
    deliveries = http.get(f"/v1/sessions/{session_id}/webhook-deliveries",
                          headers=auth).json()
    assert deliveries["deliveries"], deliveries
    assert not schemas.errors(deliveries["deliveries"][0],
                              {"$ref": "#/components/schemas/WebhookDelivery"})
