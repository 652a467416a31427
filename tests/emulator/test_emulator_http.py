"""Auth, routing errors, 422 validation and robustness of the emulator's HTTP API."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentctl.emulator import server
from agentctl.emulator.app import key_from_authorization
from agentctl.record import RECORD_ORDER
from tests.emulator.conftest import assert_error

ANY_ID = str(uuid.uuid4())
# Every /v1 route and method: (method, path).
V1_ROUTES = [
    ("GET", "/v1/agents"),
    ("POST", "/v1/agents"),
    ("GET", f"/v1/agents/{ANY_ID}"),
    ("PUT", f"/v1/agents/{ANY_ID}"),
    ("DELETE", f"/v1/agents/{ANY_ID}"),
    ("GET", "/v1/token"),
]


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
def test_no_authorization_header_is_401_missing(anon, method, path):
    response = anon.request(method, path, json={})

    assert response.status_code == 401
    assert_error(response, "missing_authorization", "Missing authorization header")


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
@pytest.mark.parametrize("header", ["", "Bearer", "two words", "Bearer a b", "a\tb"])
def test_empty_or_malformed_key_is_401_unauthorized(anon, method, path, header):
    response = anon.request(method, path, json={}, headers={"Authorization": header})

    assert response.status_code == 401
    assert_error(response, "unauthorized", "Unauthorized")


def test_a_key_with_non_ascii_bytes_is_401_unauthorized(anon):
    headers = [(b"Authorization", b"key\xe9")]

    response = anon.get("/v1/agents", headers=headers)

    assert response.status_code == 401
    assert_error(response, "unauthorized", "Unauthorized")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (None, "Missing authorization header")),
        ("abc", ("abc", None)),
        ("Bearer abc", ("abc", None)),
        ("bearer abc", ("abc", None)),
        ("  abc  ", ("abc", None)),
        ("", (None, "Unauthorized")),
        ("Bearer ", (None, "Unauthorized")),
        ("a\tb", (None, "Unauthorized")),
        ("ab\x7f", (None, "Unauthorized")),
        ("ab\x00", (None, "Unauthorized")),
        ("x" * 513, (None, "Unauthorized")),
    ],
)
def test_key_from_authorization(header, expected):
    assert key_from_authorization(header) == expected


def test_bearer_prefix_is_accepted_and_stripped(anon):
    plain = anon.get("/v1/agents", headers={"Authorization": "k"})
    bearer = anon.get("/v1/agents", headers={"Authorization": "Bearer k"})

    assert plain.status_code == bearer.status_code == 200


@pytest.fixture
def restricted(tmp_path) -> Iterator[server.RunningEmulator]:
    with server.start(port=0, db_path=tmp_path / "r.sqlite3", api_keys=["good", "also"]) as em:
        yield em


@pytest.mark.parametrize(
    ("header", "status"),
    [("good", 200), ("Bearer good", 200), ("also", 200), ("bad", 401), ("Bearer bad", 401)],
)
def test_api_keys_restrict_the_accepted_keys(restricted, connect, header, status):
    with connect(restricted, headers={"Authorization": header}) as http:
        response = http.get("/v1/agents")

    assert response.status_code == status
    if status == 401:
        assert_error(response, "unauthorized", "Unauthorized")


def test_the_request_log_needs_no_key(anon):
    assert anon.get("/_emulator/requests").status_code == 200


# -- routing errors -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/v1", "/v2/agents", "/v1/agents/x/y", "/v1/nothing"])
def test_unknown_route_is_404_not_found(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert_error(response, "not_found", "Not Found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/v1/agents"),
        ("DELETE", "/v1/agents"),
        ("PUT", "/v1/agents"),
        ("POST", f"/v1/agents/{ANY_ID}"),
        ("PATCH", f"/v1/agents/{ANY_ID}"),
        ("POST", "/v1/token"),
    ],
)
def test_wrong_method_is_405_method_not_allowed(client, method, path):
    response = client.request(method, path)

    assert response.status_code == 405
    assert_error(response, "method_not_allowed", "Method Not Allowed")


# -- invalid bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"{", b"not json", b'{"name": NaN}', b"[" * 5000, b'{"a": "\\ud800"}']
)
def test_invalid_json_is_422_json_invalid(client, content):
    response = client.post(
        "/v1/agents", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body"]
    assert entry["type"] == "json_invalid"
    assert entry["msg"].startswith("JSON decode error")


def test_invalid_json_on_put_is_422_too(create, client):
    made = create()

    response = client.put(f"/v1/agents/{made['id']}", content=b"{,}")

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_json_nested_too_deeply_is_422(client):
    deep = {"name": "x"}
    for _ in range(100):
        deep = {"nested": deep}

    response = client.post("/v1/agents", json=deep)

    assert response.status_code == 422
    assert "nested" in response.json()["detail"][0]["msg"]


def test_empty_body_is_422_missing(client):
    response = client.post("/v1/agents")

    assert response.status_code == 422
    body = assert_error(response, "validation_error",
                        [{"loc": ["body"], "msg": "Field required", "type": "missing"}])
    assert body["errors"] == [{"message": "Field required", "param": None}]


@pytest.mark.parametrize("body", [[], "agent", 42, None])
def test_a_body_that_is_not_an_object_is_422(client, body):
    response = client.post("/v1/agents", content=json.dumps(body))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_an_oversized_body_is_413(client):
    response = client.post("/v1/agents", content=b" " * (4 * 1024 * 1024 + 1))

    assert response.status_code == 413
    assert_error(response, "invalid_request", "Request body too large")


# -- validation -----------------------------------------------------------------------------


def _detail(response: httpx.Response) -> list[dict]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    for entry in detail:
        assert set(entry) == {"loc", "msg", "type"}
        assert entry["loc"][0] == "body"
    return detail


def test_missing_required_fields_are_each_reported(client):
    detail = _detail(client.post("/v1/agents", json={}))

    assert [e["loc"] for e in detail] == [
        ["body", "name"],
        ["body", "system_prompt"],
        ["body", "voice"],
    ]
    assert {e["type"] for e in detail} == {"missing"}


def test_unknown_fields_are_dropped_never_stored_or_echoed(client, make_body, emulator):
    body = make_body(colour="blue", voice={"voice_id": "ivy", "pitch": 3})

    response = client.post("/v1/agents", json=body)

    assert response.status_code == 201, response.text
    assert "colour" not in response.json() and response.json()["voice"] == {"voice_id": "ivy"}
    stored = emulator.store.get_agent(response.json()["id"])
    assert "colour" not in stored and "pitch" not in stored["voice"]


@pytest.mark.parametrize(
    ("fields", "loc", "type_"),
    [
        ({"name": 42}, ["body", "name"], "type_error"),
        ({"system_prompt": ["a"]}, ["body", "system_prompt"], "type_error"),
        ({"name": "   "}, ["body", "name"], "value_error"),
        ({"voice": "ivy"}, ["body", "voice"], "type_error"),
        ({"tools": {}}, ["body", "tools"], "type_error"),
        ({"input": {"turn_detection": {"vad_threshold": 2}}}, ["body", "input", "turn_detection", "vad_threshold"], "value_error"),
        ({"output": {"volume": 101}}, ["body", "output", "volume"], "value_error"),
        ({"output": {"format": {"encoding": "audio/mp3"}}}, ["body", "output", "format", "encoding"], "enum"),
        ({"input": {"type": "video"}}, ["body", "input", "type"], "enum"),
        ({"input": {"format": {"sample_rate": 16000}}}, ["body", "input", "format", "sample_rate"], "enum"),
        ({"output": {"format": {"encoding": "audio/pcmu", "sample_rate": 24000}}}, ["body", "output", "format", "sample_rate"], "enum"),
        ({"input": {"keyterms": ["k"] * 101}}, ["body", "input", "keyterms"], "value_error"),
        ({"input": {"transcription_prompt": "p" * 1751}}, ["body", "input", "transcription_prompt"], "value_error"),
        ({"tools": [{"name": "t", "description": "d", "execution_mode": "later"}]}, ["body", "tools", 0, "execution_mode"], "enum"),
        ({"tools": [{"name": "t", "description": "d", "timeout_seconds": 301}]}, ["body", "tools", 0, "timeout_seconds"], "value_error"),
        ({"tools": [{"name": "t", "description": "d", "response_instructions": {"success": "s" * 501}}]}, ["body", "tools", 0, "response_instructions", "success"], "value_error"),
        ({"caller_id": "555-1234"}, ["body", "caller_id"], "value_error"),
        ({"pre_connect_requests": [{"http": {"url": "https://a.example.com"}}] * 3}, ["body", "pre_connect_requests"], "value_error"),
        ({"llm": [{"base_url": "https://a.example.com", "model": "a", "api_key": "k"}] * 2}, ["body", "llm"], "value_error"),
    ],
)  # fmt: skip
def test_wrong_types_ranges_and_enums_are_422(client, make_body, fields, loc, type_):
    detail = _detail(client.post("/v1/agents", json=make_body(**fields)))

    assert [(e["loc"], e["type"]) for e in detail] == [(loc, type_)]
    assert detail[0]["msg"]


@pytest.mark.parametrize(
    ("url", "msg"),
    [
        ("http://api.example.com/weather", "must be an https URL"),
        ("ftp://api.example.com/weather", "must be an https URL"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://127.0.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://localhost/hook", "private"),
        ("https://[::1]/hook", "private"),
    ],
)
def test_tool_urls_must_be_https_and_public(client, make_body, tool, url, msg):
    body = make_body(tools=[tool(http={"url": url, "http_method": "POST"})])

    detail = _detail(client.post("/v1/agents", json=body))

    assert [e["loc"] for e in detail] == [["body", "tools", 0, "http", "url"]]
    assert msg in detail[0]["msg"]
    assert detail[0]["type"] == "value_error"


def test_allow_loopback_tools_accepts_loopback_http_urls(tmp_path, connect, make_body, tool):
    body = make_body(tools=[tool(http={"url": "http://127.0.0.1:9/hook"})])
    private = make_body(tools=[tool(http={"url": "https://10.0.0.1/hook"})])
    with (
        server.start(db_path=tmp_path / "a.sqlite3", allow_loopback_tools=True) as em,
        connect(em, headers={"Authorization": "k"}) as http,
    ):
        allowed = http.post("/v1/agents", json=body)
        still_private = http.post("/v1/agents", json=private)

    assert allowed.status_code == 201, allowed.text
    assert still_private.status_code == 422


def test_put_reports_the_shape_of_the_sent_body(create, client):
    made = create()

    detail = _detail(client.put(f"/v1/agents/{made['id']}", json={"name": 1, "tools": "x"}))

    assert [e["loc"] for e in detail] == [["body", "name"], ["body", "tools"]]


def test_put_needs_no_required_fields(create, client):
    made = create()

    response = client.put(f"/v1/agents/{made['id']}", json={"greeting": "Hi"})

    assert response.status_code == 200
    assert response.json()["greeting"] == "Hi"


@pytest.mark.parametrize("where", ["tools", "pre_connect_requests"])
def test_a_header_without_value_on_create_is_422(client, make_body, tool, where):
    http = {"url": "https://api.example.com/x", "headers": [{"name": "A"}]}
    if where == "tools":
        body = make_body(tools=[tool(http=http)])
    else:
        body = make_body(pre_connect_requests=[{"http": http}])

    detail = _detail(client.post("/v1/agents", json=body))

    assert [e["loc"] for e in detail] == [["body", where, 0, "http", "headers", 0, "value"]]
    assert "'A'" in detail[0]["msg"]


def test_a_rejected_create_stores_nothing(emulator, client):
    client.post("/v1/agents", json={"name": "x"})

    assert emulator.store.count_agents() == 0


# -- robustness -----------------------------------------------------------------------------


def test_an_unexpected_exception_is_500_internal_server_error(tmp_path, connect):
    from starlette.routing import Route

    def boom(request):
        raise RuntimeError("boom")

    with (
        server.start(
            db_path=tmp_path / "b.sqlite3", extra_routes=lambda state: [Route("/boom", boom)]
        ) as em,
        connect(em) as http,
    ):
        response = http.get("/boom")
        errors = list(em.errors)
        log = list(em.requests)

    assert response.status_code == 500
    assert_error(response, "internal_error", "Internal Server Error")
    assert [type(e) for e in errors] == [RuntimeError]
    assert log == [{"method": "GET", "path": "/boom", "status": 500}]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["***", "", " ", "ivy", "https://10.0.0.1/", "audio", "hold", "GET"])
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)

# A complete, valid body: the fuzzer replaces values anywhere inside it.
FULL_BODY = {
    "name": "n",
    "system_prompt": "p",
    "greeting": "g",
    "voice": {"voice_id": "ivy"},
    "input": {
        "format": {"encoding": "audio/pcm", "sample_rate": 24000},
        "keyterms": ["a"],
        "turn_detection": {"vad_threshold": 0.5, "min_silence": 10, "max_silence": 3000},
    },
    "output": {"volume": 50, "voice": "ivy"},
    "tools": [
        {
            "name": "t",
            "description": "d",
            "parameters": {"type": "object", "properties": {}, "required": []},
            "execution_mode": "hold",
            "timeout_seconds": 15,
            "http": {
                "url": "https://api.example.com/x",
                "http_method": "GET",
                "headers": [{"name": "A", "value": "***"}],
            },
        }
    ],
    "llm": [{"base_url": "https://llm.example.com/v1", "model": "m", "api_key": "***"}],
}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


PATHS = [p for p in _paths(FULL_BODY) if p]
# What a create sends: the real secrets ('***' is only meaningful on update).
FULL_CREATE = copy.deepcopy(FULL_BODY)
FULL_CREATE["tools"][0]["http"]["headers"][0]["value"] = "secret"
FULL_CREATE["llm"][0]["api_key"] = "secret"


def _replace(body, path, value):
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory, connect):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    with server.start(db_path=db) as em, connect(em, headers={"Authorization": "k"}) as http:
        created = http.post("/v1/agents", json=FULL_CREATE)
        assert created.status_code == 201, created.text
        yield em, http, created.json()["id"]
        assert em.errors == []


@pytest.mark.slow
@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PATHS),
    value=JSON_VALUES,
    method=st.sampled_from(["POST", "PUT", "PUT-partial"]),
)
def test_fuzzed_bodies_never_cause_a_500(fuzz_target, path, value, method):
    em, http, agent_id = fuzz_target
    body = _replace(FULL_CREATE if method == "POST" else FULL_BODY, path, value)
    if method == "PUT-partial":
        body = {path[0]: body[path[0]]}
    url = "/v1/agents" if method == "POST" else f"/v1/agents/{agent_id}"

    response = http.request(method.split("-")[0], url, json=body)

    assert response.status_code in {200, 201, 422}, response.text
    assert em.errors == []
    if response.status_code == 422:
        assert all(e["loc"][0] == "body" for e in response.json()["detail"])
    else:
        record = response.json()
        assert "secret" not in response.text
        assert list(record) == list(RECORD_ORDER)
