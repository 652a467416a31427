"""The agents endpoints, row by row of the reference's table, and the agent record."""

from __future__ import annotations

import re
import uuid

import pytest

from agentctl import record as rec
from tests.emulator.conftest import assert_error

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
AGENT_ID = re.compile(r"^agent_[0-9a-f]{32}$")
TOOL_ID = re.compile(r"^tool_[0-9a-f]{32}$")
PCM = {"encoding": "audio/pcm", "sample_rate": 24000}
DEFAULT_INPUT = {"type": "audio", "format": PCM}


def stored_headers(item: dict) -> list[dict]:
    """What the store holds for an item's headers: name and value."""
    return [{"name": h["name"], "value": h["value"]} for h in item["http"]["headers"]]


LLM = {"base_url": "https://llm-gateway.assemblyai.com/v1", "model": "m"}


# -- POST /v1/agents ------------------------------------------------------------------------


def test_create_returns_201_and_the_full_record_with_defaults(client, make_body):
    response = client.post("/v1/agents", json=make_body())

    assert response.status_code == 201
    record = response.json()
    assert AGENT_ID.match(record["id"])
    assert TIMESTAMP.match(record["created_at"])
    assert record["updated_at"] == record["created_at"]
    assert list(record) == list(rec.RECORD_ORDER)  # every field, in the record's order
    assert record["name"] == "Support Assistant"
    assert record["system_prompt"] == "You are a friendly support agent."
    assert record["voice"] == {"voice_id": "ivy"}
    assert record["input"] == DEFAULT_INPUT
    assert record["output"] == {"type": "audio", "format": PCM}
    assert record["greeting"] is None
    for key in ("tools", "pre_connect_requests", "transfer_targets", "llm"):
        assert record[key] == [], key
    assert record["outbound_trunk_id"] is None and record["caller_id"] is None


def test_create_fills_input_and_output_defaults_around_what_is_sent(client, make_body):
    body = make_body(
        greeting="Hi, how can I help?",
        input={"keyterms": ["metformin"], "turn_detection": {"vad_threshold": 0.7}},
        output={"volume": 80, "format": {"encoding": "audio/pcmu", "sample_rate": 8000}},
    )
    record = client.post("/v1/agents", json=body).json()

    assert record["greeting"] == "Hi, how can I help?"
    assert record["input"] == {**DEFAULT_INPUT, "keyterms": ["metformin"],
                               "turn_detection": {"vad_threshold": 0.7}}
    assert record["output"] == {"type": "audio", "volume": 80,
                                "format": {"encoding": "audio/pcmu", "sample_rate": 8000}}


def test_create_gives_each_tool_a_server_generated_id_and_defaults(client, make_body, tool):
    body = make_body(tools=[tool(execution_mode=None, timeout_seconds=None),
                            tool(name="lookup", http=None)])
    record = client.post("/v1/agents", json=body).json()

    ids = [tool["id"] for tool in record["tools"]]
    assert len(set(ids)) == 2
    assert all(TOOL_ID.match(i) for i in ids)
    assert [t["name"] for t in record["tools"]] == ["get_weather", "lookup"]
    first = record["tools"][0]
    assert (first["timeout_seconds"], first["execution_mode"]) == (120, "interactive")


def test_a_platform_tool_is_attached_by_name_alone(client, make_body):
    body = make_body(tools=[{"name": "aai_credit_card_luhn_check"}])

    response = client.post("/v1/agents", json=body)

    assert response.status_code == 201, response.text
    assert response.json()["tools"][0]["name"] == "aai_credit_card_luhn_check"


def test_a_tool_without_description_is_422_unless_a_platform_tool(client, make_body):
    response = client.post("/v1/agents", json=make_body(tools=[{"name": "lookup"}]))

    body = assert_error(response, "validation_error", response.json()["detail"])
    assert body["param"] == "tools[0].description"
    assert body["errors"][0]["param"] == "tools[0].description"


def test_create_ignores_read_only_fields_in_the_body(client, make_body, tool):
    body = make_body(
        id="agent_0123456789abcdef0123456789abcdef",
        created_at="2000-01-01T00:00:00Z",
        updated_at="2000-01-01T00:00:00Z",
        tools=[{**tool(), "id": "tool-id-from-client"}],
    )
    record = client.post("/v1/agents", json=body).json()

    assert record["id"] != "agent_0123456789abcdef0123456789abcdef"
    assert not record["created_at"].startswith("2000")
    assert record["tools"][0]["id"] != "tool-id-from-client"


def test_create_accepts_output_voice_as_the_voice(client, make_body):
    response = client.post("/v1/agents", json=make_body(voice=None, output={"voice": "anna"}))

    assert response.status_code == 201, response.text
    assert response.json()["voice"] == {"voice_id": "anna"}
    assert response.json()["output"]["voice"] == "anna"  # kept as sent (§7.3)


def test_an_unknown_voice_is_422(client, make_body):
    response = client.post("/v1/agents", json=make_body(voice={"voice_id": "nobody"}))

    body = assert_error(response, "validation_error", response.json()["detail"])
    assert body["param"] == "voice.voice_id"


def test_create_allows_duplicate_names(create, client):
    first, second = create(), create()

    assert first["id"] != second["id"]
    names = [a["name"] for a in client.get("/v1/agents").json()["agents"]]
    assert names == ["Support Assistant"] * 2


def test_create_answers_without_write_only_values(client, make_body, tool):
    body = make_body(tools=[tool()], llm=[{**LLM, "api_key": "llm-secret"}])
    response = client.post("/v1/agents", json=body)

    assert "secret" not in response.text
    record = response.json()
    assert record["tools"][0]["http"]["headers"][0] == {
        "name": "Authorization", "last_set_at": record["updated_at"]}
    assert record["llm"] == [LLM]


def test_the_docs_header_map_is_accepted_on_write(emulator, client, make_body, tool):
    made = tool(http={"url": "https://api.example.com/w", "headers": {"X-Key": "map-secret"}})

    response = client.post("/v1/agents", json=make_body(tools=[made]))

    assert response.status_code == 201, response.text
    assert [h["name"] for h in response.json()["tools"][0]["http"]["headers"]] == ["X-Key"]
    stored = emulator.store.get_agent(response.json()["id"])
    assert stored_headers(stored["tools"][0]) == [{"name": "X-Key", "value": "map-secret"}]


def test_a_header_named_alone_on_create_is_422_naming_it(client, make_body, tool):
    made = tool(http={"url": "https://api.example.com/w", "headers": [{"name": "X-Key"}]})

    response = client.post("/v1/agents", json=make_body(tools=[made]))

    body = assert_error(response, "validation_error", response.json()["detail"])
    assert body["param"] == "tools[0].http.headers[0].value"
    assert "X-Key" in body["errors"][0]["message"]


def test_the_mask_is_stored_like_any_other_value(emulator, client, make_body, tool):
    made = tool(http={"url": "https://api.example.com/w",
                      "headers": [{"name": "X-Key", "value": "***"}]})

    response = client.post("/v1/agents", json=make_body(tools=[made]))

    assert response.status_code == 201, response.text
    stored = emulator.store.get_agent(response.json()["id"])
    assert stored["tools"][0]["http"]["headers"][0]["value"] == "***"


def test_llm_without_its_key_is_422(client, make_body):
    response = client.post("/v1/agents", json=make_body(llm=[LLM]))

    body = assert_error(response, "validation_error", response.json()["detail"])
    assert body["param"] == "llm[0].api_key"


# -- GET /v1/agents -------------------------------------------------------------------------


def test_list_is_the_paged_envelope_of_lightweight_items_newest_first(create, client, tool):
    made = [create(name=f"agent-{i}", tools=[tool()]) for i in range(3)]

    response = client.get("/v1/agents")

    assert response.status_code == 200
    body = response.json()
    assert body["has_more"] is False
    assert body["response_metadata"] == {"next_cursor": ""}
    items = body["agents"]
    assert [item["id"] for item in items] == [a["id"] for a in reversed(made)]
    for item in items:
        assert list(item) == list(rec.LIST_ITEM_FIELDS)
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)


def test_list_pages_follow_the_cursor_to_the_end(create, client):
    made = [create(name=f"agent-{i}")["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/agents", params=params).json()
        pages += 1
        seen += [a["id"] for a in body["agents"]]
        cursor = body["response_metadata"]["next_cursor"]
        assert body["has_more"] is bool(cursor)
        if not body["has_more"]:
            break

    assert pages == 3
    assert seen == list(reversed(made))


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_a_limit_out_of_range_is_422(client, limit):
    response = client.get("/v1/agents", params={"limit": limit})

    body = assert_error(response, "validation_error", response.json()["detail"])
    assert body["param"] == "limit"


def test_a_garbled_cursor_is_422(client):
    response = client.get("/v1/agents", params={"cursor": "!!not-a-cursor"})

    assert assert_error(response, "validation_error", response.json()["detail"])["param"] \
        == "cursor"


def test_the_default_limit_is_50(create, client, emulator):
    emulator.store.clear()
    for i in range(51):
        emulator.store.create_agent({"name": f"a{i}", "system_prompt": "p",
                                     "voice": {"voice_id": "ivy"}})

    body = client.get("/v1/agents").json()

    assert len(body["agents"]) == 50 and body["has_more"] is True


def test_list_order_is_by_creation_not_by_update(create, client):
    old, new = create(name="old"), create(name="new")
    client.put(f"/v1/agents/{old['id']}", json={"system_prompt": "changed"})

    items = client.get("/v1/agents").json()["agents"]
    assert [item["id"] for item in items] == [new["id"], old["id"]]


def test_list_is_empty_at_first(client):
    response = client.get("/v1/agents")

    assert response.status_code == 200
    assert response.json() == {"agents": [], "has_more": False,
                               "response_metadata": {"next_cursor": ""}}


# -- GET /v1/agents/{id} --------------------------------------------------------------------


def test_get_returns_the_full_record(create, client, tool):
    made = create(greeting="Hello", tools=[tool()])

    response = client.get(f"/v1/agents/{made['id']}")

    assert response.status_code == 200
    assert response.json() == made


def test_get_never_shows_header_values_but_stores_them(emulator, create, client, tool):
    made = create(tools=[tool()])

    shown = client.get(f"/v1/agents/{made['id']}")

    headers = shown.json()["tools"][0]["http"]["headers"]
    assert [set(h) for h in headers] == [{"name", "last_set_at"}] * 2
    assert "weather-secret" not in shown.text
    stored = emulator.store.get_agent(made["id"])
    assert stored["tools"][0]["http"]["headers"][0]["value"] == "Bearer weather-secret"


def test_get_never_shows_the_llm_api_key(emulator, create, client):
    made = create(llm=[{**LLM, "api_key": "k1"}])

    shown = client.get(f"/v1/agents/{made['id']}").json()

    assert shown["llm"] == [LLM]
    assert emulator.store.get_agent(made["id"])["llm"][0]["api_key"] == "k1"


# -- PUT /v1/agents/{id} --------------------------------------------------------------------


def test_put_changes_only_what_is_sent(create, client, tool):
    made = create(greeting="Hello", input={"keyterms": ["a", "b"]}, tools=[tool()])

    response = client.put(f"/v1/agents/{made['id']}", json={"system_prompt": "New prompt."})

    assert response.status_code == 200
    updated = response.json()
    assert updated["system_prompt"] == "New prompt."
    unchanged = {k: v for k, v in updated.items() if k not in ("system_prompt", "updated_at")}
    assert unchanged == {k: v for k, v in made.items() if k not in ("system_prompt", "updated_at")}
    assert updated["updated_at"] > made["updated_at"]
    assert client.get(f"/v1/agents/{made['id']}").json() == updated


def test_put_replaces_a_present_object_or_list(create, client):
    made = create(input={"keyterms": ["a", "b"], "turn_detection": {"min_silence": 500}})

    updated = client.put(
        f"/v1/agents/{made['id']}",
        json={"input": {"keyterms": ["c"], "turn_detection": {"vad_threshold": 0.9}}},
    ).json()

    assert updated["input"] == {**DEFAULT_INPUT, "keyterms": ["c"],
                                "turn_detection": {"vad_threshold": 0.9}}


def test_put_output_voice_alone_names_the_voice(create, client):
    made = create()

    by_output = client.put(f"/v1/agents/{made['id']}", json={"output": {"voice": "mary"}})

    assert by_output.json()["voice"] == {"voice_id": "ivy"}  # voice kept: it was not sent
    assert by_output.json()["output"]["voice"] == "mary"


def test_put_never_changes_id_or_created_at(create, client):
    made = create()
    body = {"id": "agent_" + uuid.uuid4().hex, "created_at": "2000-01-01T00:00:00Z",
            "name": "renamed"}

    updated = client.put(f"/v1/agents/{made['id']}", json=body).json()

    assert updated["id"] == made["id"]
    assert updated["created_at"] == made["created_at"]
    assert updated["name"] == "renamed"


def test_updated_at_moves_on_with_every_update(create, client):
    made = create()
    stamps = [made["updated_at"]]
    for i in range(5):
        stamps.append(
            client.put(f"/v1/agents/{made['id']}", json={"name": f"n{i}"}).json()["updated_at"]
        )

    assert all(TIMESTAMP.match(s) for s in stamps)
    assert stamps == sorted(set(stamps))


def test_put_header_name_alone_keeps_value_sets_remove_deletes(emulator, create, client, tool):
    made = create(tools=[tool()])
    headers = [
        {"name": "authorization"},  # keep (names match without case)
        {"name": "X-Team", "remove": True},  # delete
        {"name": "X-New", "value": "new-secret"},  # set
    ]
    tool = tool(http={**tool()["http"], "headers": headers})

    response = client.put(f"/v1/agents/{made['id']}", json={"tools": [tool]})

    assert response.status_code == 200, response.text
    shown = response.json()["tools"][0]["http"]["headers"]
    assert [h["name"] for h in shown] == ["authorization", "X-New"]
    stored = stored_headers(emulator.store.get_agent(made["id"])["tools"][0])
    assert stored == [
        {"name": "authorization", "value": "Bearer weather-secret"},
        {"name": "X-New", "value": "new-secret"},
    ]


def test_pre_connect_header_secrets_are_kept_by_list_position(emulator, create, client):
    entry = {"http": {"url": "https://crm.example.com/lookup",
                      "headers": [{"name": "X-Key", "value": "crm-secret"}]}}
    made = create(pre_connect_requests=[entry])
    assert made["pre_connect_requests"][0]["http"]["headers"][0]["name"] == "X-Key"

    kept = {"http": {"url": "https://crm.example.com/v2", "headers": [{"name": "X-Key"}]}}
    response = client.put(f"/v1/agents/{made['id']}", json={"pre_connect_requests": [kept]})

    assert response.status_code == 200, response.text
    stored = emulator.store.get_agent(made["id"])["pre_connect_requests"][0]
    assert stored_headers(stored) == [{"name": "X-Key", "value": "crm-secret"}]
    assert "crm-secret" not in response.text


def test_put_header_named_alone_without_a_stored_value_is_422_and_changes_nothing(
    emulator, create, client, tool
):
    made = create(tools=[tool()])
    headers = [{"name": "X-Unknown"}]
    tool = tool(http={**tool()["http"], "headers": headers})

    response = client.put(f"/v1/agents/{made['id']}", json={"name": "changed", "tools": [tool]})

    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "tools", 0, "http", "headers", 0, "value"]
    assert "X-Unknown" in entry["msg"]
    assert client.get(f"/v1/agents/{made['id']}").json() == made


def test_put_header_named_alone_on_a_renamed_tool_is_422(create, client, tool):
    made = create(tools=[tool()])
    headers = [{"name": "Authorization"}]
    tool = tool(name="renamed", http={**tool()["http"], "headers": headers})

    response = client.put(f"/v1/agents/{made['id']}", json={"tools": [tool]})

    assert response.status_code == 422
    assert "Authorization" in response.json()["detail"][0]["msg"]


def test_put_keeps_a_tool_id_by_name_and_gives_new_tools_new_ids(create, client, tool):
    made = create(tools=[tool()])
    old_id = made["tools"][0]["id"]
    tools = [tool(description="changed"), tool(name="other", http=None)]

    updated = client.put(f"/v1/agents/{made['id']}", json={"tools": tools}).json()

    assert updated["tools"][0]["id"] == old_id
    assert updated["tools"][0]["description"] == "changed"
    assert updated["tools"][1]["id"] not in (old_id, None)


def test_put_empty_tools_list_removes_every_tool(create, client, tool):
    made = create(tools=[tool()])

    updated = client.put(f"/v1/agents/{made['id']}", json={"tools": []}).json()

    assert updated["tools"] == []


def test_put_llm_without_its_key_is_422(emulator, create, client):
    made = create(llm=[{**LLM, "api_key": "llm-secret"}])

    response = client.put(f"/v1/agents/{made['id']}", json={"llm": [{**LLM, "model": "o"}]})

    assert response.status_code == 422
    assert response.json()["param"] == "llm[0].api_key"
    assert emulator.store.get_agent(made["id"])["llm"][0]["model"] == "m"


def test_put_llm_empty_list_restores_the_managed_model(emulator, create, client):
    made = create(llm=[{**LLM, "api_key": "llm-secret"}])

    response = client.put(f"/v1/agents/{made['id']}", json={"llm": []})

    assert response.json()["llm"] == []
    assert emulator.store.get_agent(made["id"])["llm"] == []


def test_put_llm_new_api_key_replaces_the_stored_one(emulator, create, client):
    made = create(llm=[{**LLM, "api_key": "old"}])

    client.put(f"/v1/agents/{made['id']}", json={"llm": [{**LLM, "api_key": "new"}]})

    assert emulator.store.get_agent(made["id"])["llm"][0]["api_key"] == "new"


def test_put_null_clears_an_optional_field(create, client):
    made = create(caller_id="+14155550123", tools=[{"name": "aai_pre_connect_context"}])

    updated = client.put(f"/v1/agents/{made['id']}",
                         json={"caller_id": None, "tools": None}).json()

    assert updated["caller_id"] is None and updated["tools"] == []


def test_put_greeting_null_removes_the_greeting(create, client):
    made = create(greeting="Hello")

    updated = client.put(f"/v1/agents/{made['id']}", json={"greeting": None}).json()

    assert updated.get("greeting") is None
    assert updated["name"] == made["name"]


def test_put_validates_the_merged_record(create, client):
    made = create()
    human = [{"name": "desk", "kind": "human", "phone_number": "+14155550123"}]

    response = client.put(f"/v1/agents/{made['id']}", json={"transfer_targets": human})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "outbound_trunk_id"]
    assert client.get(f"/v1/agents/{made['id']}").json() == made


def test_put_with_an_empty_body_object_only_moves_updated_at(create, client):
    made = create()

    updated = client.put(f"/v1/agents/{made['id']}", json={}).json()

    assert {**updated, "updated_at": made["updated_at"]} == made
    assert updated["updated_at"] > made["updated_at"]


# -- DELETE /v1/agents/{id} -----------------------------------------------------------------


def test_delete_answers_204_without_a_body_and_the_agent_is_gone(create, client):
    made = create()

    response = client.delete(f"/v1/agents/{made['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/v1/agents/{made['id']}").status_code == 404
    assert client.get("/v1/agents").json()["agents"] == []
    assert client.delete(f"/v1/agents/{made['id']}").status_code == 404


# -- unknown ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("agent_id", [str(uuid.uuid4()), "not-a-uuid", "1234"])
def test_unknown_or_malformed_id_is_404(client, method, agent_id):
    kwargs = {"json": {"name": "x"}} if method == "PUT" else {}

    response = client.request(method, f"/v1/agents/{agent_id}", **kwargs)

    assert response.status_code == 404
    assert_error(response, "agent_not_found", "Agent not found")
