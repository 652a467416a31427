"""An early error answer must not poison a keep-alive connection."""

from __future__ import annotations

import httpx

from tests.conftest import TEST_KEY

BODY = {"name": "a", "system_prompt": "p", "voice": {"voice_id": "ivy"}}


def test_an_answer_before_the_body_is_read_closes_the_connection(emulator):
    with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
        for _ in range(30):
            refused = http.post("/v1/agents", json=BODY)  # 401: the body is never read
            assert refused.status_code == 401
            assert refused.headers["connection"] == "close"
            # The next request on the same client must get its own answer.
            listed = http.get("/v1/agents", headers={"Authorization": TEST_KEY})
            assert listed.status_code == 200


def test_a_successful_answer_keeps_the_connection(emulator):
    with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
        created = http.post("/v1/agents", json=BODY, headers={"Authorization": TEST_KEY})
        assert created.status_code == 201
        assert created.headers.get("connection", "keep-alive") != "close"
