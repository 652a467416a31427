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
