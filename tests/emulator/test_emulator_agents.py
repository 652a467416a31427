"""The agents endpoints, row by row of the reference's table, and the agent record."""

from __future__ import annotations

import re
import uuid

import pytest

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

DEFAULT_INPUT = {
    "type": "audio",
    "format": {"encoding": "audio/pcm", "sample_rate": 24000},
    "keyterms": [],
    "turn_detection": {
        "vad_threshold": 0.5,
        "min_silence": 1000,
        "max_silence": 3000,
        "interrupt_response": True,
    },
}


# -- POST /v1/agents ------------------------------------------------------------------------


def test_create_returns_201_and_the_full_record_with_defaults(client, make_body):
    response = client.post("/v1/agents", json=make_body())

    assert response.status_code == 201
    record = response.json()
    assert uuid.UUID(record["id"]).version == 4
    assert TIMESTAMP.match(record["created_at"])
    assert record["updated_at"] == record["created_at"]
    assert record["name"] == "Support Assistant"
    assert record["system_prompt"] == "You are a friendly support agent."
    assert record["voice"] == {"voice_id": "ivy"}
    assert record["input"] == DEFAULT_INPUT
    assert record["output"] == {
        "type": "audio",
        "format": {"encoding": "audio/pcm", "sample_rate": 24000},
        "volume": 100,
        "voice": "ivy",
    }
    assert record["tools"] == []
    assert record.get("greeting") is None
    assert "llm" not in record


def test_create_deep_merges_input_and_output_with_the_defaults(client, make_body):
    body = make_body(
        greeting="Hi, how can I help?",
        input={"keyterms": ["metformin"], "turn_detection": {"vad_threshold": 0.7}},
        output={"volume": 80},
    )
    record = client.post("/v1/agents", json=body).json()

    assert record["greeting"] == "Hi, how can I help?"
    assert record["input"]["keyterms"] == ["metformin"]
    assert record["input"]["turn_detection"] == {
        **DEFAULT_INPUT["turn_detection"],
        "vad_threshold": 0.7,
    }
    assert record["input"]["format"] == DEFAULT_INPUT["format"]
    assert record["output"]["volume"] == 80
    assert record["output"]["format"]["sample_rate"] == 24000


def test_create_gives_each_tool_a_server_generated_id(client, make_body, tool):
    body = make_body(tools=[tool(), tool(name="lookup", http=None)])
    record = client.post("/v1/agents", json=body).json()

    ids = [tool["id"] for tool in record["tools"]]
    assert len(set(ids)) == 2
    assert all(uuid.UUID(i) for i in ids)
    assert [t["name"] for t in record["tools"]] == ["get_weather", "lookup"]


def test_create_ignores_read_only_fields_in_the_body(client, make_body, tool):
    body = make_body(
        id="7ad24396-b822-4dca-871a-be9cc4781cf9",
        created_at="2000-01-01T00:00:00Z",
        updated_at="2000-01-01T00:00:00Z",
        tools=[{**tool(), "id": "tool-id-from-client"}],
    )
    record = client.post("/v1/agents", json=body).json()

    assert record["id"] != "7ad24396-b822-4dca-871a-be9cc4781cf9"
    assert not record["created_at"].startswith("2000")
    assert record["tools"][0]["id"] != "tool-id-from-client"


def test_create_accepts_output_voice_as_the_voice(client, make_body):
    response = client.post("/v1/agents", json=make_body(voice=None, output={"voice": "anna"}))

    assert response.status_code == 201, response.text
    assert response.json()["voice"] == {"voice_id": "anna"}
    assert response.json()["output"]["voice"] == "anna"


def test_create_allows_duplicate_names(create, client):
    first, second = create(), create()

    assert first["id"] != second["id"]
    assert [a["name"] for a in client.get("/v1/agents").json()] == ["Support Assistant"] * 2


def test_create_masks_write_only_values_in_its_answer(client, make_body, tool):
    body = make_body(tools=[tool()], llm=[{"model": "claude-sonnet-4-6", "api_key": "llm-secret"}])
    response = client.post("/v1/agents", json=body)

    assert "secret" not in response.text
    assert response.json()["tools"][0]["http"]["headers"][0] == {
        "name": "Authorization",
        "value": "***",
    }
    assert response.json()["llm"] == [{"model": "claude-sonnet-4-6"}]


# -- GET /v1/agents -------------------------------------------------------------------------


def test_list_is_a_bare_array_of_lightweight_items_newest_first(create, client, tool):
    made = [create(name=f"agent-{i}", tools=[tool()]) for i in range(3)]

    response = client.get("/v1/agents")

    assert response.status_code == 200
    items = response.json()
    assert isinstance(items, list)
    assert [item["id"] for item in items] == [a["id"] for a in reversed(made)]
    for item in items:
        assert set(item) == {"id", "name", "created_at", "updated_at"}
    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)


def test_list_order_is_by_creation_not_by_update(create, client):
    old, new = create(name="old"), create(name="new")
    client.put(f"/v1/agents/{old['id']}", json={"system_prompt": "changed"})

    assert [item["id"] for item in client.get("/v1/agents").json()] == [new["id"], old["id"]]


def test_list_is_empty_at_first(client):
    response = client.get("/v1/agents")

    assert response.status_code == 200
    assert response.json() == []


# -- GET /v1/agents/{id} --------------------------------------------------------------------


def test_get_returns_the_full_record(create, client, tool):
    made = create(greeting="Hello", tools=[tool()])

    response = client.get(f"/v1/agents/{made['id']}")

    assert response.status_code == 200
    assert response.json() == made


def test_get_masks_tool_header_values_but_stores_them(emulator, create, client, tool):
    made = create(tools=[tool()])

    shown = client.get(f"/v1/agents/{made['id']}")

    assert [h["value"] for h in shown.json()["tools"][0]["http"]["headers"]] == ["***", "***"]
    assert "weather-secret" not in shown.text
    stored = emulator.store.get_agent(made["id"])
    assert stored["tools"][0]["http"]["headers"][0]["value"] == "Bearer weather-secret"


def test_get_never_shows_the_llm_api_key(emulator, create, client):
    llm = [{"base_url": "https://llm-gateway.assemblyai.com/v1", "model": "m", "api_key": "k1"}]
    made = create(llm=llm)

    shown = client.get(f"/v1/agents/{made['id']}").json()

    assert shown["llm"] == [{"base_url": "https://llm-gateway.assemblyai.com/v1", "model": "m"}]
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


def test_put_deep_merges_objects_and_replaces_lists(create, client):
    made = create(input={"keyterms": ["a", "b"], "turn_detection": {"min_silence": 500}})

    updated = client.put(
        f"/v1/agents/{made['id']}",
        json={"input": {"keyterms": ["c"], "turn_detection": {"vad_threshold": 0.9}}},
    ).json()

    assert updated["input"]["keyterms"] == ["c"]
    assert updated["input"]["turn_detection"] == {
        "vad_threshold": 0.9,
        "min_silence": 500,
        "max_silence": 3000,
        "interrupt_response": True,
    }
    assert updated["input"]["format"] == DEFAULT_INPUT["format"]


def test_put_voice_is_echoed_into_output_voice(create, client):
    made = create()

    by_voice = client.put(f"/v1/agents/{made['id']}", json={"voice": {"voice_id": "paul"}})
    by_output = client.put(f"/v1/agents/{made['id']}", json={"output": {"voice": "mary"}})

    assert by_voice.json()["output"]["voice"] == "paul"
    assert by_output.json()["voice"] == {"voice_id": "mary"}
    assert by_output.json()["output"]["volume"] == 100


def test_put_never_changes_id_or_created_at(create, client):
    made = create()
    body = {"id": str(uuid.uuid4()), "created_at": "2000-01-01T00:00:00Z", "name": "renamed"}

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


def test_put_header_mask_keeps_new_value_sets_omitted_entry_removes(emulator, create, client, tool):
    made = create(tools=[tool()])
    headers = [
        {"name": "Authorization", "value": "***"},  # keep
        {"name": "X-New", "value": "new-secret"},  # set; X-Team omitted: removed
    ]
    tool = tool(http={**tool()["http"], "headers": headers})

    response = client.put(f"/v1/agents/{made['id']}", json={"tools": [tool]})

    assert response.status_code == 200, response.text
    shown = response.json()["tools"][0]["http"]["headers"]
    assert shown == [{"name": "Authorization", "value": "***"}, {"name": "X-New", "value": "***"}]
    stored = emulator.store.get_agent(made["id"])["tools"][0]["http"]["headers"]
    assert stored == [
        {"name": "Authorization", "value": "Bearer weather-secret"},
        {"name": "X-New", "value": "new-secret"},
    ]


def test_put_header_mask_without_a_stored_value_is_422_and_changes_nothing(
    emulator, create, client, tool
):
    made = create(tools=[tool()])
    headers = [{"name": "X-Unknown", "value": "***"}]
    tool = tool(http={**tool()["http"], "headers": headers})

    response = client.put(f"/v1/agents/{made['id']}", json={"name": "changed", "tools": [tool]})

    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "tools", 0, "http", "headers", 0, "value"]
    assert "X-Unknown" in entry["msg"]
    assert client.get(f"/v1/agents/{made['id']}").json() == made


def test_put_header_mask_on_a_renamed_tool_is_422(create, client, tool):
    made = create(tools=[tool()])
    headers = [{"name": "Authorization", "value": "***"}]
    tool = tool(name="renamed", http={**tool()["http"], "headers": headers})

    response = client.put(f"/v1/agents/{made['id']}", json={"tools": [tool]})

    assert response.status_code == 422
    assert "renamed" in response.json()["detail"][0]["msg"]


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


@pytest.mark.parametrize(
    "sent",
    [
        {"model": "other-model"},  # api_key omitted: kept
        {"model": "other-model", "api_key": "***"},  # masked: kept
    ],
)
def test_put_llm_api_key_omitted_or_masked_is_kept(emulator, create, client, sent):
    made = create(llm=[{"model": "m", "api_key": "llm-secret"}])

    response = client.put(f"/v1/agents/{made['id']}", json={"llm": [sent]})

    assert response.status_code == 200, response.text
    assert response.json()["llm"] == [{"model": "other-model"}]
    stored = emulator.store.get_agent(made["id"])["llm"]
    assert stored == [{"model": "other-model", "api_key": "llm-secret"}]


def test_put_llm_new_api_key_replaces_the_stored_one(emulator, create, client):
    made = create(llm=[{"model": "m", "api_key": "old"}])

    client.put(f"/v1/agents/{made['id']}", json={"llm": [{"model": "m", "api_key": "new"}]})

    assert emulator.store.get_agent(made["id"])["llm"][0]["api_key"] == "new"


def test_put_llm_masked_key_with_none_stored_is_422(create, client):
    made = create(llm=[{"model": "m"}])

    response = client.put(
        f"/v1/agents/{made['id']}", json={"llm": [{"model": "m", "api_key": "***"}]}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "llm", 0, "api_key"]


def test_put_greeting_null_removes_the_greeting(create, client):
    made = create(greeting="Hello")

    updated = client.put(f"/v1/agents/{made['id']}", json={"greeting": None}).json()

    assert updated.get("greeting") is None
    assert updated["name"] == made["name"]


def test_put_validates_the_merged_record(create, client):
    made = create()  # max_silence defaults to 3000

    response = client.put(
        f"/v1/agents/{made['id']}", json={"input": {"turn_detection": {"min_silence": 5000}}}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "input",
        "turn_detection",
        "min_silence",
    ]
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
    assert client.get("/v1/agents").json() == []
    assert client.delete(f"/v1/agents/{made['id']}").status_code == 404


# -- unknown ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("agent_id", [str(uuid.uuid4()), "not-a-uuid", "1234"])
def test_unknown_or_malformed_id_is_404(client, method, agent_id):
    kwargs = {"json": {"name": "x"}} if method == "PUT" else {}

    response = client.request(method, f"/v1/agents/{agent_id}", **kwargs)

    assert response.status_code == 404
    assert response.json() == {"detail": "Agent not found"}
