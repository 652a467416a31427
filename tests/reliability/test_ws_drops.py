"""`ws-drop`: the emulator kills a live session's socket (no close frame, like a network
failure), and `connect` resumes the session and marks the place in the transcript."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from agentctl.emulator import server
from tests.conftest import TEST_KEY, run_cli
from tests.session.wavgen import utterances, wav_file

GREETER = "name: greeter\nsystem_prompt: p\nvoice: {voice_id: ivy}\ngreeting: Hi, how can I help?\n"


@pytest.fixture
def live_with_drops(tmp_path, monkeypatch):
    started = []

    def _start(spec: str) -> server.RunningEmulator:
        running = server.start(port=0, db_path=tmp_path / f"ws{len(started)}.sqlite3",
                               live={"speed": 50.0}, faults=spec)
        started.append(running)
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
        return running

    yield _start
    for running in started:
        running.stop()
        assert running.errors == []


def test_a_drop_is_an_abnormal_close_without_a_close_frame(live_with_drops, write):
    running = live_with_drops("ws-drop=1")
    run_cli("create", "-f", write("g.yaml", GREETER))
    agent_id = running.store.list_agents()[0]["id"]
    with connect(running.ws_url, additional_headers={"Authorization": f"Bearer {TEST_KEY}"},
                 open_timeout=5, close_timeout=1) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"agent_id": agent_id}}))
        with pytest.raises(ConnectionClosedError) as caught:
            ws.recv(timeout=5)  # session.ready was never sent: the socket died instead
    assert caught.value.rcvd is None  # no close frame: the connection just went away
    assert running.app.state.faults.counts["ws-drop"] == 1
    # the session outlives its socket, ready to be resumed
    assert len(running.app.state.live.sessions) == 1


def test_http_faults_do_not_touch_the_websocket(live_with_drops, write):
    running = live_with_drops("503=1,methods=POST+PUT+DELETE")
    running.store.clear()
    with connect(running.ws_url, additional_headers={"Authorization": f"Bearer {TEST_KEY}"},
                 open_timeout=5, close_timeout=1) as ws:
        ws.send(json.dumps({"type": "session.update",
                            "session": {"system_prompt": "p", "greeting": "Hello"}}))
        assert json.loads(ws.recv(timeout=5))["type"] == "session.ready"


def test_connect_resumes_after_each_drop_and_marks_it(live_with_drops, write, tmp_path: Path):
    # seed 2 drops the socket four times in this session; every drop must be resumed
    running = live_with_drops("ws-drop=0.15,seed=2")
    run_cli("create", "-f", write("g.yaml", GREETER))
    wav = wav_file(tmp_path / "q.wav", utterances(("s", 0.5), ("t", 1.2), ("s", 0.3)),
                   rate=24000)
    result = run_cli("connect", "greeter", "--input", str(wav), "--speed", "20",
                     "--timeout-session", "4", exit_code=None)
    drops = running.app.state.faults.counts["ws-drop"]
    (session,) = running.app.state.live.history
    marks = [line for line in result.stdout.splitlines()
             if line.startswith("-- connection lost; resumed session")]
    # every resume the client made is marked where it happened and counted in the report
    assert 0 < len(marks) <= session.resumes <= drops
    assert f"{len(marks)} resume(s)" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # Known limit (reported): events the emulator sends while no socket is attached are
    # lost, so a reply can go missing and the session then ends by --timeout-session (7).
    assert result.code in (0, 7), str(result)
    if result.code == 0:
        assert "agent: I heard 1.2 seconds of speech." in result.stdout
