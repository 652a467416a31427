"""`agentctl sessions`: a real `connect` session, then its record, transcript and recording."""

from __future__ import annotations

import json
import math
import re
import wave
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from agentctl.emulator import server
from tests.conftest import TEST_KEY, run_cli
from tests.session.wavgen import utterances, wav_file

FAST = ("--speed", "20")
AGENT_YAML = "name: helper\nsystem_prompt: You help.\nvoice: {voice_id: ivy}\n"
# 0.5 s of silence, 1.2 s of speech (user), then silence while the agent answers.
SPEECH = (("s", 0.5), ("t", 1.2), ("s", 0.3))


def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
          ) -> server.RunningEmulator:
    running = server.start(port=0, db_path=tmp_path / "sessions.sqlite3",
                           live={"speed": 50.0}, **options)
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    return running


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[server.RunningEmulator]:
    running = start(tmp_path, monkeypatch)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


@pytest.fixture
def speech_wav(tmp_path: Path) -> str:
    return str(wav_file(tmp_path / "question.wav", utterances(*SPEECH)))


def one_session(write, speech_wav: str) -> tuple[str, list[str]]:
    """Create the agent, talk to it once; (session id, the lines connect printed)."""
    run_cli("create", "-f", write("agent.yaml", AGENT_YAML))
    talk = run_cli("connect", "helper", "-i", speech_wav, *FAST)
    printed = [line for line in talk.stdout.splitlines() if line.strip()]
    listed = run_cli("sessions", "list", "-o", "json")
    (item,) = json.loads(listed.stdout)
    return item["id"], printed


def rms(samples: array) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def test_a_connect_session_is_listed_with_its_transcript_and_stereo_recording(
        live, write, speech_wav, tmp_path):
    session_id, printed = one_session(write, speech_wav)
    assert re.fullmatch(r"sess_[0-9a-f]{32}", session_id)

    table = run_cli("sessions", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "AGENT", "STATUS", "DURATION", "CLOSE", "REASON",
                                "STARTED"]
    assert table[1].split()[:3] == [session_id, "helper", "completed"]
    assert "client_end" in table[1]
    assert run_cli("sessions", "list", "--agent", "helper", "-o", "id").stdout.split() == [
        session_id]
    assert run_cli("sessions", "list", "--status", "created", "-o", "id").stdout == ""

    record = json.loads(run_cli("sessions", "get", session_id, "-o", "json").stdout)
    assert record["status"] == "completed" and record["public_close_reason"] == "client_end"
    assert record["duration_seconds"] > 0 and record["ended_at"]
    assert record["config"]["id"] == session_id
    assert record["config"]["output"]["voice"] == "ivy"
    assert {a["type"] for a in record["artifacts"]} == {"audio", "timeline", "metadata"}
    summary = run_cli("sessions", "get", session_id).stdout
    assert "Agent:" in summary and "helper (" in summary and "client_end" in summary

    # The transcript says what connect printed, in the same words.
    said = run_cli("sessions", "transcript", session_id).stdout.splitlines()
    spoken = [re.sub(r"^\d\d:\d\d\.\d  ", "", line) for line in said if "  -- ended" not in line]
    assert spoken == printed == ["user: [1.2 seconds of speech]",
                                 "agent: I heard 1.2 seconds of speech."]
    assert said[-1].endswith("-- ended: user initiated (client_end) --")
    timeline = json.loads(run_cli("sessions", "transcript", session_id, "-o", "json").stdout)
    assert [t["trigger"] for t in timeline["turns"]] == ["user"]

    # The recording: user on the left, agent on the right.
    run_cli("sessions", "download", session_id, "--dir", str(tmp_path / "out"))
    with wave.open(str(tmp_path / "out" / f"{session_id}.wav")) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 24000)
        frames = array("h", wav.readframes(wav.getnframes()))
    left, right = frames[0::2], frames[1::2]
    second = 24000
    user_part = slice(int(0.6 * second), int(1.6 * second))  # inside the user's tone
    assert rms(left[user_part]) > 3000 and rms(right[user_part]) < 50
    reply = slice(int(2.0 * second), None)  # the agent answers after the user stopped
    assert rms(right[reply]) > 1000 and rms(left[reply]) < 50
    metadata = json.loads((tmp_path / "out" / f"{session_id}.metadata.json").read_text())
    assert metadata["channels"] == 2 and metadata["session_id"] == session_id
    saved = json.loads((tmp_path / "out" / f"{session_id}.timeline.json").read_text())
    assert saved == timeline


def test_download_refuses_existing_files_and_sends_no_key_to_artifact_links(
        live, write, speech_wav, tmp_path):
    session_id, _ = one_session(write, speech_wav)
    target = tmp_path / "dl"
    target.mkdir()
    (target / f"{session_id}.timeline.json").write_text("mine")
    refused = run_cli("sessions", "download", session_id, "--dir", str(target), exit_code=2)
    assert "refusing to overwrite" in refused.stderr and "--force" in refused.stderr
    assert not (target / f"{session_id}.wav").exists()  # nothing half-written
    assert (target / f"{session_id}.timeline.json").read_text() == "mine"
    run_cli("sessions", "download", session_id, "--dir", str(target), "--force")
    assert json.loads((target / f"{session_id}.timeline.json").read_text())["session_id"] == (
        session_id)

    # The links are presigned: they work without the key, and refuse one.
    record = httpx.get(f"{live.base_url}/v1/sessions/{session_id}",
                       headers={"Authorization": TEST_KEY}).json()
    url = next(a["url"] for a in record["artifacts"] if a["type"] == "metadata")
    assert httpx.get(url).status_code == 200
    assert httpx.get(url, headers={"Authorization": TEST_KEY}).status_code == 400
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403


def test_an_expired_link_is_fetched_afresh(tmp_path, monkeypatch, write, speech_wav):
    running = start(tmp_path, monkeypatch)
    try:
        session_id, _ = one_session(write, speech_wav)
        running.app.state.emulator.platform.options.expired_links = 1  # the next link
        gets = len([r for r in running.requests if r["path"] == f"/v1/sessions/{session_id}"])
        out = tmp_path / "fresh"
        shown = run_cli("sessions", "download", session_id, "--dir", str(out), tty=True)
        assert (out / f"{session_id}.wav").stat().st_size > 44
        assert "downloading audio: 100%" in shown.stderr  # progress on a terminal
        log = running.requests
        expired = [r for r in log if r["path"].startswith("/artifacts/") and r["status"] == 403]
        assert len(expired) == 1
        again = [r for r in log if r["path"] == f"/v1/sessions/{session_id}"]
        assert len(again) == gets + 2  # the first read, and the fresh link
    finally:
        running.stop()
    assert running.errors == []


def test_a_session_is_created_while_connected_then_completed(live, write):
    run_cli("create", "-f", write("agent.yaml", AGENT_YAML))
    agent_id = json.loads(run_cli("get", "helper", "-o", "json").stdout)["id"]
    with connect(live.ws_url, additional_headers={"Authorization": TEST_KEY},
                 proxy=None) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"agent_id": agent_id}}))
        ready = None
        while ready is None:
            event = json.loads(ws.recv(timeout=10))
            ready = event if event["type"] == "session.ready" else None
        item = json.loads(run_cli("sessions", "list", "--status", "created", "-o",
                                  "json").stdout)
        assert [(s["id"], s["status"], s["duration_seconds"], s["ended_at"]) for s in item] == [
            (ready["session_id"], "created", None, None)]
        no_artifacts = run_cli("sessions", "transcript", ready["session_id"], exit_code=5)
        assert "artifacts come when it is completed" in no_artifacts.stderr
        ws.send(json.dumps({"type": "session.end"}))
        while json.loads(ws.recv(timeout=10))["type"] != "session.ended":
            pass
    done = json.loads(run_cli("sessions", "get", ready["session_id"], "-o", "json").stdout)
    assert done["status"] == "completed" and done["public_close_reason"] == "client_end"


def test_delete_and_unknown_sessions(live, write, speech_wav):
    session_id, _ = one_session(write, speech_wav)
    missing = run_cli("sessions", "get", "sess_" + "0" * 32, exit_code=5)
    assert "not found" in missing.stderr and "Traceback" not in missing.stderr
    refused = run_cli("sessions", "delete", session_id, exit_code=2)
    assert "--yes" in refused.stderr
    run_cli("sessions", "delete", session_id, "--yes")
    assert run_cli("sessions", "list", "-o", "id").stdout == ""
    run_cli("sessions", "delete", session_id, "--yes", exit_code=5)


def test_every_page_is_read(live):
    store = live.app.state.emulator.platform.resources
    for i in range(205):
        store.put("session", {"id": f"sess_{i:032x}", "agent_id": None, "status": "completed",
                              "public_close_reason": "client_end", "duration_seconds": 1.0,
                              "created_at": "2026-01-01T00:00:00.000000Z", "ended_at": None})
    ids = run_cli("sessions", "list", "-o", "id").stdout.split()
    assert len(ids) == 205 and len(set(ids)) == 205 and ids[0] == f"sess_{204:032x}"
    assert len(run_cli("sessions", "list", "--limit", "3", "-o", "id").stdout.split()) == 3
    pages = [r for r in live.requests if r["path"] == "/v1/sessions"]
    assert len(pages) == 3  # 200 + 5, then 3


def test_control_characters_from_the_server_are_escaped(live):
    store = live.app.state.emulator.platform.resources
    store.put("session", {"id": "sess_\x1b[31mred", "agent_id": None, "status": "completed",
                          "public_close_reason": "client\x1b]0;x\x07end",
                          "duration_seconds": 1.0,
                          "created_at": "2026-01-01T00:00:00.000000Z", "ended_at": None})
    table = run_cli("sessions", "list").stdout
    assert "\x1b" not in table and "\x07" not in table and "\\x1b" in table
