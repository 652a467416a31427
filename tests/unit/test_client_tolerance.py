"""Where the reference is uncertain, the client is tolerant: shapes the real service may
send that the emulator does not (injected with a MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from agentctl.api.client import AgentsAPI
from agentctl.api.errors import detail_text
from agentctl.api.retry import RetryPolicy
from agentctl.errors import NotFoundError, RejectedError, UnavailableError
from agentctl.exit_codes import ExitCode

ITEM = {"id": "7ad24396-b822-4dca-871a-be9cc4781cf9", "name": "a",
        "created_at": "2026-05-07T12:00:00Z", "updated_at": "2026-05-07T12:00:00Z"}


def api_answering(status: int, body: object = None, *, text: str | None = None) -> AgentsAPI:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    client = httpx.Client(base_url="https://agents.example", transport=httpx.MockTransport(handler))
    return AgentsAPI(client, RetryPolicy(attempts=1, sleep=lambda _: None))


def test_list_accepts_a_bare_array_and_an_agents_envelope():
    assert api_answering(200, [ITEM]).list_agents() == [ITEM]
    assert api_answering(200, {"agents": [ITEM]}).list_agents() == [ITEM]


def test_a_list_of_another_shape_is_unavailable_not_a_crash():
    with pytest.raises(UnavailableError, match="unexpected shape"):
        api_answering(200, {"items": "nope"}).list_agents()


@pytest.mark.parametrize("body", [
    {"detail": "voice.voice_id: unknown voice"},
    {"detail": [{"loc": ["body", "voice", "voice_id"], "msg": "unknown voice", "type": "x"}]},
])
def test_rejections_read_both_detail_shapes(body):
    with pytest.raises(RejectedError) as caught:
        api_answering(422, body).create_agent({"name": "a"})
    assert "voice.voice_id: unknown voice" in caught.value.message
    assert caught.value.exit_code == ExitCode.REJECTED


def test_400_and_409_are_rejections_too():
    for status in (400, 409):
        with pytest.raises(RejectedError):
            api_answering(status, {"detail": "conflict"}).update_agent(ITEM["id"], {})


def test_404_without_a_body_is_not_found():
    with pytest.raises(NotFoundError):
        api_answering(404, text="").get_agent(ITEM["id"])


def test_a_body_that_is_not_json_is_one_clear_unavailable_error():
    with pytest.raises(UnavailableError, match="not JSON"):
        api_answering(200, text="<html>gateway</html>").get_agent(ITEM["id"])


def test_detail_text_formats_locations_without_the_body_prefix():
    assert detail_text({"detail": [{"loc": ["body", "tools", 0, "http", "url"], "msg": "bad"}]}) \
        == "tools[0].http.url: bad"
    assert detail_text({"message": "plain"}) == "plain"


# -- paging: the stop rules (§5) ---------------------------------------------------------------


def paged_api(pages: dict[str | None, object], seen: list[dict]) -> AgentsAPI:
    """Answers GET /v1/agents by the cursor sent; records each query."""
    def handler(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        seen.append(query)
        return httpx.Response(200, json=pages[query.get("cursor")])

    client = httpx.Client(base_url="https://agents.example", transport=httpx.MockTransport(handler))
    return AgentsAPI(client, RetryPolicy(attempts=1, sleep=lambda _: None))


def item(n: int) -> dict:
    return {**ITEM, "id": f"agent_{n:032x}", "name": f"a{n}"}


def page(items: list, cursor: str, has_more: object = ...) -> dict:
    body: dict = {"agents": items, "response_metadata": {"next_cursor": cursor}}
    if has_more is not ...:
        body["has_more"] = has_more
    return body


def test_pages_are_followed_to_an_empty_cursor():
    seen: list[dict] = []
    api = paged_api({None: page([item(1)], "c1", True), "c1": page([item(2)], "", False)}, seen)
    assert [a["id"] for a in api.iter_agents(limit=1)] == [item(1)["id"], item(2)["id"]]
    assert seen == [{"limit": "1"}, {"limit": "1", "cursor": "c1"}]


def test_has_more_false_stops_even_with_a_cursor():
    seen: list[dict] = []
    api = paged_api({None: page([item(1)], "c1", False)}, seen)
    assert len(api.list_agents()) == 1 and len(seen) == 1


def test_a_cursor_equal_to_the_one_sent_stops_a_loop():
    seen: list[dict] = []
    api = paged_api({None: page([item(1)], "c1", True), "c1": page([item(2)], "c1", True)},
                    seen)
    assert len(api.list_agents()) == 2 and len(seen) == 2


def test_without_has_more_the_cursor_alone_decides():
    seen: list[dict] = []
    api = paged_api({None: page([item(1)], "c1"), "c1": page([item(2)], "")}, seen)
    assert len(api.list_agents()) == 2


def test_an_item_without_an_id_is_one_clear_unavailable_error():
    with pytest.raises(UnavailableError, match="item 0 of page 1 has no id"):
        api_answering(200, {"agents": [{"name": "x"}], "has_more": False}).list_agents()


def test_consuming_part_of_the_list_fetches_only_those_pages():
    seen: list[dict] = []
    api = paged_api({None: page([item(1)], "c1", True), "c1": page([item(2)], "", False)}, seen)
    first = next(iter(api.iter_agents()))
    assert first["id"] == item(1)["id"] and len(seen) == 1


# -- errors: the envelope and the answers agentctl cannot read (§3) --------------------------

ENVELOPE_422 = {
    "code": "validation_error", "message": "Request validation failed",
    "param": "tools[0].name", "request_id": "req_abc",
    "errors": [{"message": f"bad {i}", "param": f"tools[{i}].name"} for i in range(13)],
    "detail": [],
}


def test_the_envelope_gives_each_field_a_line_bounded_and_the_request_id():
    with pytest.raises(RejectedError) as caught:
        api_answering(422, ENVELOPE_422).create_agent({"name": "a"})
    error = caught.value
    assert "Request validation failed" in error.message and "\n" not in error.message
    assert error.details[:2] == ("- tools[0].name: bad 0", "- tools[1].name: bad 1")
    assert len(error.details) == 11 and error.details[-1] == "and 3 more"
    assert error.hint == "request id req_abc (quote it to support)"


def test_one_field_is_on_the_error_line_itself():
    body = {**ENVELOPE_422, "errors": [{"message": "field required", "param": "voice"}]}
    with pytest.raises(RejectedError) as caught:
        api_answering(422, body).create_agent({"name": "a"})
    assert caught.value.message.endswith("Request validation failed: voice: field required")
    assert caught.value.details == ()


def test_the_request_id_comes_from_the_header_without_a_body():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html><body>Bad gateway</body></html>",
                              headers={"X-Request-Id": "req_edge", "Content-Type": "text/html"})

    client = httpx.Client(base_url="https://agents.example", transport=httpx.MockTransport(handler))
    api = AgentsAPI(client, RetryPolicy(attempts=1, sleep=lambda _: None))
    with pytest.raises(UnavailableError) as caught:
        api.get_agent("agent_x")
    assert "an HTML page" in caught.value.message
    assert caught.value.hint == "request id req_edge (quote it to support)"


def test_a_401_with_an_html_body_is_one_line():
    html = "<html>\n<head><title>401</title></head>\n<body>\n<h1>Unauthorized</h1>\n</body>\n</html>"
    with pytest.raises(Exception) as caught:
        api_answering(401, text=html).list_agents()
    assert caught.value.exit_code == ExitCode.AUTH
    assert "\n" not in caught.value.message and "an HTML page" in caught.value.message


def test_a_redirect_is_reported_as_a_redirect():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "https://elsewhere.example/v1/agents"})

    client = httpx.Client(base_url="https://agents.example", transport=httpx.MockTransport(handler))
    api = AgentsAPI(client, RetryPolicy(attempts=1, sleep=lambda _: None))
    for call in (api.list_agents, lambda: api.create_agent({"name": "a"})):
        with pytest.raises(UnavailableError) as caught:
            call()
        assert "redirect (301) to https://elsewhere.example/v1/agents" in caught.value.message
        assert "not JSON" not in caught.value.message


@pytest.mark.parametrize(("body", "needle"), [
    ({}, "without the agent's id"),
    ({"id": "agent_x", "tools": 5}, "tools as int, not list"),
    ({"id": "agent_x", "voice": "ivy"}, "voice as str, not dict"),
])
def test_records_agentctl_cannot_read_are_unavailable(body, needle):
    with pytest.raises(UnavailableError) as caught:
        api_answering(201, body).create_agent({"name": "a"})
    assert needle in caught.value.message
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
