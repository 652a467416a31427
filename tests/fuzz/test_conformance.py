"""The emulator against its own OpenAPI document: requests generated from the document
(valid bodies, broken bodies, bad ids, bad keys), every answer checked against it.

No 5xx, no status the document does not list for the operation, no body outside the
documented shape, and no exception inside the emulator (`emulator.errors == []`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentctl.emulator import server
from tests.fuzz.schemas import JSON, Schemas

KEY = "conformance-key"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))  # over all operations


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    emulator = server.start(port=0, db_path=tmp_path_factory.mktemp("conf") / "db.sqlite3")
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def document(running) -> dict[str, Any]:
    response = httpx.get(f"{running.base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in ("get", "post", "put", "delete")]


def test_the_document_is_served_and_covers_the_api(document):
    assert document["openapi"].startswith("3.1")
    assert {(m, p) for m, p, _ in operations(document)} == {
        ("GET", "/v1/agents"), ("POST", "/v1/agents"), ("GET", "/v1/agents/{agent_id}"),
        ("PUT", "/v1/agents/{agent_id}"), ("DELETE", "/v1/agents/{agent_id}"),
        ("GET", "/v1/token"), ("POST", "/v1/tokens"), ("GET", "/v1/builtin-tools")}
    schemas = Schemas(document)
    for _, _, op in operations(document):
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                schemas.errors(None, media["schema"])  # every keyword is one we check


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


OPERATIONS = [("GET", "/v1/agents"), ("POST", "/v1/agents"), ("GET", "/v1/agents/{agent_id}"),
              ("PUT", "/v1/agents/{agent_id}"), ("DELETE", "/v1/agents/{agent_id}"),
              ("GET", "/v1/token")]
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
}
BAD_AUTH = ["", "Bearer", "x" * 600, "two words", None]
SEED_AGENT = {"name": "seed", "system_prompt": "p", "voice": {"voice_id": "ivy"}}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: f"{o[0]} {o[1]}")
def test_every_answer_is_documented(running, document, operation):
    schemas = Schemas(document)
    method, path = operation
    op = document["paths"][path][method.lower()]
    seen: Counter[str] = Counter()
    store = running.store

    def check(response: httpx.Response) -> None:
        status = str(response.status_code)
        seen[status] += 1
        assert response.status_code < 500, response.text
        if status == "307" and response.request.url.path.endswith("/"):
            # a trailing slash (an id ending in "/"): redirected without it, as FastAPI does
            location = unquote(httpx.URL(response.headers["location"]).path)
            assert location == unquote(response.request.url.path).rstrip("/")
            return
        assert status in op["responses"], f"{method} {path}: undocumented {status}"
        spec = op["responses"][status]
        if "content" not in spec:
            assert response.content == b""
            return
        body = response.json()
        problems = schemas.errors(body, spec["content"]["application/json"]["schema"])
        assert not problems, f"{method} {path} {status}: {problems[:5]}\n{body}"

    @settings(max_examples=EXAMPLES // len(OPERATIONS), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        url = path
        if "{agent_id}" in path:
            known = [a["id"] for a in store.list_agents()]
            if not known:  # through the API, so the record is one the emulator made
                created = http.post("/v1/agents", json=SEED_AGENT, headers={"Authorization": KEY})
                known = [created.json()["id"]]
            # a known id by index: the strategy itself must not depend on the run so far
            ref: Any = data.draw(st.one_of(
                st.integers(0, 1000), st.integers(0, 1000), st.uuids().map(str),
                # "." and ".." cannot be a segment: URLs resolve them away (RFC 3986)
                st.text(min_size=1, max_size=40).filter(lambda t: t not in (".", ".."))),
                label="agent_id")
            if isinstance(ref, int):
                ref = known[ref % len(known)]
            url = path.replace("{agent_id}", quote(ref, safe=""))
        auth = data.draw(st.one_of(st.just(KEY), st.just(f"Bearer {KEY}"),
                                   st.sampled_from(BAD_AUTH)), label="auth")
        headers = {} if auth is None else {"Authorization": auth}
        params = None
        if path == "/v1/token":
            params = data.draw(st.fixed_dictionaries({}, optional={
                "product": st.text(max_size=10),
                "expires_in_seconds": st.integers(-5, 1000).map(str) | st.text(max_size=5),
            }), label="query")
        content = None
        if "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            valid = data.draw(schemas.strategy(schema), label="valid body")
            kind = data.draw(st.sampled_from(["valid", "mutated", "raw"]), label="kind")
            if kind == "raw":
                content = data.draw(st.sampled_from(RAW_BODIES) | st.binary(max_size=64))
            else:
                body = valid if kind == "valid" else data.draw(mutate(schemas, valid))
                content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        check(http.request(method, url, headers=headers, params=params, content=content))

    with httpx.Client(base_url=running.base_url, timeout=10) as http:
        one_request()
    assert running.errors == []
    assert MUST_SEE[operation] <= set(seen), seen
