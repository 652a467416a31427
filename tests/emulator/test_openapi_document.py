"""`/openapi.json` against the emulator, one deterministic walk: every operation the
document lists is called at least once with a request it says yes to, and every answer
(success or error) has a status the document lists and the shape it gives.

The fuzzer (`tests/fuzz/test_conformance.py`, slow) drives random requests from the same
document; this walk is the quick, always-run check that the two agree on the happy path
and on the shapes only a finished session has (artifacts, deliveries).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentctl.emulator import server
from tests.fuzz.schemas import Schemas

KEY = "openapi-walk-key"
AGENT = {"name": "walker", "system_prompt": "p", "voice": {"voice_id": "ivy"},
         "greeting": "Hi.",
         "tools": [{"name": "lookup", "description": "d", "http": {
             "url": "https://api.example.com/x",
             "headers": [{"name": "Authorization", "value": "Bearer tool-secret"}]}}],
         "llm": [{"model": "m", "base_url": "https://llm.example.com/v1", "api_key": "sk-x"}]}


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[server.RunningEmulator]:
    emulator = server.start(port=0, db_path=tmp_path_factory.mktemp("walk") / "db.sqlite3",
                            live={"speed": 50.0})
    yield emulator
    emulator.stop()
    assert emulator.errors == []


class Walker:
    def __init__(self, running: server.RunningEmulator) -> None:
        self.http = httpx.Client(base_url=running.base_url, timeout=10,
                                 headers={"Authorization": KEY})
        self.document = self.http.get("/openapi.json").json()
        self.schemas = Schemas(self.document)
        self.called: set[tuple[str, str]] = set()

    def __enter__(self) -> Walker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def __call__(self, method: str, template: str, *, expect: int, path: str | None = None,
                 **kwargs: Any) -> Any:
        """Call `template` (filled in as `path`), check the answer against the document."""
        response = self.http.request(method, path or template, **kwargs)
        assert response.status_code == expect, response.text
        spec = self.document["paths"][template][method.lower()]["responses"]
        assert str(expect) in spec, f"{method} {template}: {expect} is not documented"
        self.called.add((method, template))
        content = spec[str(expect)].get("content")
        if content is None:
            assert response.content == b""
            return None
        body = response.json()
        problems = self.schemas.errors(body, content["application/json"]["schema"])
        assert not problems, f"{method} {template} {expect}: {problems}\n{body}"
        return body


def wait_until_ended(walk: Walker, call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (call := walk("GET", "/v1/calls/{call_id}", path=f"/v1/calls/{call_id}",
                        expect=200))["status"] != "ended":
        assert time.monotonic() < deadline, call
        time.sleep(0.02)
    return call


def test_every_operation_answers_as_the_document_says(running):
    with Walker(running) as walk:
        ops = {(m.upper(), p) for p, item in walk.document["paths"].items() for m in item
               if m in ("get", "post", "put", "patch", "delete")}

        walk("GET", "/v1/builtin-tools", expect=200)
        walk("GET", "/v1/token", params={"expires_in_seconds": 60}, expect=200)
        walk("POST", "/v1/tokens", json={"expires_in_seconds": 60}, expect=200)
        agent = walk("POST", "/v1/agents", json=AGENT, expect=201)
        agent_path = f"/v1/agents/{agent['id']}"
        walk("GET", "/v1/agents", expect=200)
        walk("GET", "/v1/agents/{agent_id}", path=agent_path, expect=200)
        walk("PUT", "/v1/agents/{agent_id}", path=agent_path, json={"greeting": None}, expect=200)

        hooks = "/v1/webhook-subscriptions"
        subscription = walk("POST", hooks, expect=201, json={
            "url": "https://hooks.example.com/a", "secret": "s" * 32,
            "events": ["session.started", "session.completed", "call.connected", "call.ended"]})
        walk("POST", hooks, expect=409, json={"url": "https://hooks.example.com/a",
                                              "secret": "s" * 32, "events": ["call.ended"]})
        hook_path = f"{hooks}/{subscription['id']}"
        walk("GET", hooks, params={"include_disabled": "true"}, expect=200)
        walk("GET", hooks + "/{subscription_id}", path=hook_path, expect=200)
        patched = walk("PATCH", hooks + "/{subscription_id}", path=hook_path,
                       json={"secret": "t" * 32}, expect=200)
        assert patched["secret_version"] == 2 and "secret" not in patched

        numbers = "/v1/phone-numbers"
        bought = walk("POST", numbers, json={"country_code": "US", "number_type": "local",
                                             "agent_id": agent["id"]}, expect=201)
        walk("POST", numbers + "/purchase", json={"phone_number": bought["phone_number"]},
             expect=409)
        walk("POST", numbers + "/purchase", json={"phone_number": "+442079460001"}, expect=201)
        imported = walk("POST", numbers + "/import", expect=201,
                        json={"phone_number": "+33612345678",
                              "termination_uri": "my-trunk.pstn.twilio.com"})
        assert imported["country_code"] is None and imported["type"] == "imported"
        walk("POST", numbers + "/import", json={"phone_number": "+33612345678"}, expect=409)
        walk("GET", numbers, expect=200)
        one = f"{numbers}/%2B{imported['phone_number'][1:]}"
        walk("GET", numbers + "/{phone_number}", path=one, expect=200)
        walk("PUT", numbers + "/{phone_number}/agent", path=one + "/agent",
             json={"agent_id": agent["id"]}, expect=200)
        walk("DELETE", numbers + "/{phone_number}/agent", path=one + "/agent", expect=204)
        walk("POST", "/v1/calls", expect=409, json={"from_number": imported["phone_number"],
                                                    "to_number": "+14155550199"})

        call = walk("POST", "/v1/calls", expect=201,
                    json={"from_number": bought["phone_number"], "to_number": "+14155550199"})
        ended = wait_until_ended(walk, call["id"])
        walk("GET", "/v1/calls", params={"status": "ended", "direction": "outbound"}, expect=200)
        session_path = f"/v1/sessions/{ended['session_id']}"
        walk("GET", "/v1/sessions", params={"agent_id": agent["id"]}, expect=200)
        session = walk("GET", "/v1/sessions/{session_id}", path=session_path, expect=200)
        assert session["status"] == "completed" and len(session["artifacts"]) == 3
        deliveries = walk("GET", "/v1/sessions/{session_id}/webhook-deliveries",
                          path=session_path + "/webhook-deliveries", expect=200)
        assert len(deliveries["deliveries"]) == 4  # session and call, started and ended
        walk("GET", "/v1/sessions/{session_id}/webhook-deliveries/latest",
             path=session_path + "/webhook-deliveries/latest", expect=200)

        walk("DELETE", "/v1/calls/{call_id}", path=f"/v1/calls/{call['id']}", expect=204)
        walk("DELETE", "/v1/sessions/{session_id}", path=session_path, expect=204)
        walk("DELETE", hooks + "/{subscription_id}", path=hook_path, expect=204)
        walk("DELETE", numbers + "/{phone_number}", path=one, expect=204)
        walk("DELETE", "/v1/agents/{agent_id}", path=agent_path, expect=204)
        assert walk.called == ops, sorted(ops - walk.called)


def test_an_agent_with_an_llm_is_an_agent_the_document_describes(running):
    """The document's Agent once still required the write-only `llm[].api_key` it never
    reads back: every agent with an `llm` entry was outside it."""
    with Walker(running) as walk:
        agent = walk("POST", "/v1/agents", json=AGENT, expect=201)
        assert "api_key" not in agent["llm"][0]
        llm_item = walk.document["components"]["schemas"]["Agent"]["properties"]["llm"]["items"]
        assert "api_key" not in llm_item["required"]


def test_a_number_in_a_path_is_decoded_once(running):
    """`%2B` is `+`; `%252B` is the text `%2B`, not a second way to name the number."""
    with Walker(running) as walk:
        bought = walk("POST", "/v1/phone-numbers", json={"country_code": "US",
                                                         "number_type": "local"}, expect=201)
        digits = bought["phone_number"][1:]
        for path in (f"/v1/phone-numbers/%2B{digits}", f"/v1/phone-numbers/+{digits}"):
            walk("GET", "/v1/phone-numbers/{phone_number}", path=path, expect=200)
        missing = walk("GET", "/v1/phone-numbers/{phone_number}",
                       path=f"/v1/phone-numbers/%252B{digits}", expect=404)
        assert missing["code"] == "phone_number_not_found"
        walk("DELETE", "/v1/phone-numbers/{phone_number}/agent",
             path=f"/v1/phone-numbers/%252B{digits}/agent", expect=404)


def test_a_call_in_progress_is_refused_delete_naming_the_path(tmp_path):
    """422 `validation_error` (the emulator's choice): the problem is the path's call id,
    so `loc` says path, not body. At a hundredth of speech pace the call is still dialing
    (20 s) when the DELETE comes, however loaded the machine."""
    slow = server.start(port=0, db_path=tmp_path / "db.sqlite3", live={"speed": 0.01})
    try:
        with Walker(slow) as walk:
            refused_while_dialing(walk)
    finally:
        slow.stop()
    assert slow.errors == []


def refused_while_dialing(walk: Walker) -> None:
    agent = walk("POST", "/v1/agents", json=AGENT, expect=201)
    bought = walk("POST", "/v1/phone-numbers", json={"country_code": "GB",
                                                     "number_type": "mobile",
                                                     "agent_id": agent["id"]}, expect=201)
    call = walk("POST", "/v1/calls", expect=201,
                json={"from_number": bought["phone_number"], "to_number": "+14155550198"})
    refused = walk("DELETE", "/v1/calls/{call_id}", path=f"/v1/calls/{call['id']}",
                   expect=422)
    assert refused["param"] == "call_id"
    assert refused["detail"][0]["loc"] == ["path", "call_id"]
    assert walk("GET", "/v1/calls/{call_id}", path=f"/v1/calls/{call['id']}",
                expect=200)["status"] == "dialing"


def test_a_patch_cannot_make_two_subscriptions_of_one_url(running):
    """A create refuses a second subscription for a URL (and agent); a PATCH moving another
    subscription onto that URL once made exactly that pair."""
    with Walker(running) as walk:
        hooks = "/v1/webhook-subscriptions"
        first, second = (walk("POST", hooks, expect=201, json={
            "url": f"https://hooks.example.com/{name}", "secret": "s" * 32,
            "events": ["call.ended"]}) for name in ("one", "two"))
        path = f"{hooks}/{second['id']}"
        refused = walk("PATCH", hooks + "/{subscription_id}", path=path, expect=409,
                       json={"url": first["url"]})
        assert refused["code"] == "webhook_subscription_already_exists"
        assert walk("GET", hooks + "/{subscription_id}", path=path,
                    expect=200)["url"] == second["url"]
        walk("PATCH", hooks + "/{subscription_id}", path=path, expect=200,
             json={"url": second["url"], "enabled": False})  # its own URL: no conflict


def test_a_record_deleted_during_a_change_is_404_not_an_empty_record(running, monkeypatch):
    """A number or subscription gone between the lookup and the write (a DELETE racing a
    PUT/PATCH): the write once answered 200 with `null`, or a record of nulls."""
    with Walker(running) as walk:
        bought = walk("POST", "/v1/phone-numbers", expect=201,
                      json={"country_code": "US", "number_type": "local"})
        agent = walk("POST", "/v1/agents", json=AGENT, expect=201)
        hook = walk("POST", "/v1/webhook-subscriptions", expect=201, json={
            "url": "https://hooks.example.com/race", "secret": "s" * 32,
            "events": ["call.ended"]})
        resources = running.app.state.emulator.platform.resources
        monkeypatch.setattr(resources, "update", lambda *args, **kwargs: None)  # the race
        number_path = f"/v1/phone-numbers/%2B{bought['phone_number'][1:]}/agent"
        for method, body in (("PUT", {"agent_id": agent["id"]}), ("DELETE", None)):
            gone = walk(method, "/v1/phone-numbers/{phone_number}/agent", expect=404,
                        path=number_path, json=body)
            assert gone["code"] == "phone_number_not_found"
        gone = walk("PATCH", "/v1/webhook-subscriptions/{subscription_id}", expect=404,
                    path=f"/v1/webhook-subscriptions/{hook['id']}", json={"enabled": False})
        assert gone["code"] == "webhook_subscription_not_found"


@pytest.mark.parametrize("how", ["agent", "inline"])
def test_a_live_sessions_record_is_a_session_the_document_describes(running, how):
    """Sessions from the WebSocket (bound to a stored agent, or configured inline) with
    tool headers and an LLM key: the record matches the document's Session, and no
    write-only value is in its configuration."""
    import json

    from websockets.sync.client import connect

    with Walker(running) as walk:
        if how == "agent":
            agent = walk("POST", "/v1/agents", json=AGENT, expect=201)
            session = {"agent_id": agent["id"]}
        else:
            session = {key: AGENT[key] for key in ("system_prompt", "tools", "llm")}
        with connect(running.ws_url, additional_headers={"Authorization": KEY}, proxy=None,
                     open_timeout=10, close_timeout=2) as conn:
            conn.send(json.dumps({"type": "session.update", "session": session}))
            while (event := json.loads(conn.recv(timeout=10)))["type"] != "session.ready":
                assert event["type"] == "session.updated", event
            session_id = event["session_id"]
            conn.send(json.dumps({"type": "session.end"}))
            while json.loads(conn.recv(timeout=10))["type"] != "session.ended":
                pass
        record = walk("GET", "/v1/sessions/{session_id}", path=f"/v1/sessions/{session_id}",
                      expect=200)
    assert record["status"] == "completed" and record["public_close_reason"] == "client_end"
    assert record["config"]["tools"][0]["http"]["headers"][0]["name"] == "Authorization"
    text = json.dumps(record)
    assert "tool-secret" not in text and "sk-x" not in text


def test_include_disabled_reads_as_fastapi_reads_a_boolean(running):
    """`1`/`yes`/`True` include disabled subscriptions, as they would on a FastAPI
    service; a value that is no boolean is a 422 naming the parameter (it was a quiet
    `false`)."""
    with Walker(running) as walk:
        hooks = "/v1/webhook-subscriptions"
        off = walk("POST", hooks, expect=201, json={
            "url": "https://hooks.example.com/off", "secret": "s" * 32,
            "events": ["call.ended"], "enabled": False})

        def listed(value: str | None) -> bool:
            params = {} if value is None else {"include_disabled": value, "limit": 200}
            page = walk("GET", hooks, params=params, expect=200)
            return off["id"] in [s["id"] for s in page["subscriptions"]]

        assert [listed(v) for v in ("true", "1", "yes", "True", "on")] == [True] * 5
        assert [listed(v) for v in (None, "false", "0", "no", "off")] == [False] * 5
        refused = walk("GET", hooks, params={"include_disabled": "maybe"}, expect=422)
        assert refused["param"] == "include_disabled"


def test_every_body_taking_operation_documents_413_and_answers_it(running):
    """A body over 4 MiB is 413 wherever a body is read (`POST /v1/tokens` once left it
    out of the document)."""
    with Walker(running) as walk:
        big = b'{"x": "' + b"a" * (4 * 1024 * 1024) + b'"}'
        for path, item in walk.document["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "requestBody" in op:
                    assert "413" in op["responses"], (method, path)
        walk("POST", "/v1/tokens", content=big, expect=413,
             headers={"Content-Type": "application/json"})
