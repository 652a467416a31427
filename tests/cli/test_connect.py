"""`agentctl connect`: the real CLI against the real emulator's WebSocket on loopback."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentctl.emulator import server
from tests.conftest import TEST_KEY, run_cli
from tests.session.wavgen import read_wav_stdlib, silence, tone, utterances, wav_file

FAST = ("--speed", "20")
ONE_TURN = (("s", 0.5), ("t", 1.2), ("s", 0.3))
AGENT_YAML = """\
name: helper
system_prompt: You help.
voice: {voice_id: ivy}
"""
GREETER_YAML = AGENT_YAML.replace("name: helper", "name: greeter") + "greeting: Hi, how can I help?\n"
TOOL_SCRIPT = {"turns": [{"user": "Look up my order.",
                          "tool_calls": [{"name": "lookup", "arguments": {"order": 7}}],
                          "reply": "Your order: {result}"}]}


def start_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **live: Any):
    running = server.start(port=0, db_path=tmp_path / "live.sqlite3",
                           live={"speed": 50.0, **live})
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    return running


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[server.RunningEmulator]:
    running = start_live(tmp_path, monkeypatch)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def sessions(emulator: server.RunningEmulator) -> list[Any]:
    return emulator.app.state.live.history


@pytest.fixture
def speech_wav(tmp_path: Path) -> str:
    # 44.1 kHz stereo: the CLI converts it to 24 kHz mono.
    pcm = utterances(*ONE_TURN, rate=44100)
    return str(wav_file(tmp_path / "question.wav", pcm, rate=44100, channels=2))


def create(write, text: str = AGENT_YAML) -> None:
    run_cli("create", "-f", write("agent.yaml", text))


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- the main paths --------------------------------------------------------------------
def test_stored_agent_wav_in_transcript_and_wav_out(live, write, speech_wav, tmp_path):
    create(write, GREETER_YAML)
    out = tmp_path / "reply.wav"
    result = run_cli("connect", "greeter", "--audio-in", speech_wav, "--audio-out", str(out),
                     *FAST)
    assert lines(result.stdout) == [
        "agent: Hi, how can I help?",
        "user: [1.2 seconds of speech]",
        "agent: I heard 1.2 seconds of speech.",
    ]
    rate, channels, width, frames = read_wav_stdlib(out)
    assert (rate, channels, width) == (24000, 1, 2)
    # The greeting (19 characters) and the reply (30), at 60 ms a character.
    assert len(frames) == 2 * 24000 * (19 + 30) * 60 // 1000
    # The report goes to stderr, so stdout stays the transcript.
    assert "TURN" in result.stderr and "greeting" in result.stderr
    assert "saved 2.9 s of agent audio" in result.stderr
    (session,) = sessions(live)
    assert session.config["agent_id"] and session.end_reason == "client"
    assert session.received[0] == "session.update" and session.received[-1] == "session.end"


def test_inline_spec_jsonl_every_event_then_the_report(live, write, speech_wav):
    spec = write("inline.yaml", GREETER_YAML + "llm: [{model: m, api_key: llm-secret}]\n")
    result = run_cli("connect", "-f", spec, "-i", speech_wav, "-o", "jsonl", *FAST)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["session.updated", "session.ready"] and kinds[-1] == "report"
    assert kinds[-2] == "session.ended"
    # Every field passes through: ids, timestamps, the config echo, word timings.
    ready = events[1]
    assert ready["session_id"].startswith("sess_") and ready["resume_token"]
    assert ready["config"]["llm"][0]["model"] == "m" and "expires_at" in ready
    assert all(isinstance(e["timestamp"], float) for e in events[:-1])
    deltas = [e for e in events if e["type"] == "transcript.agent.delta"]
    assert deltas and all({"reply_id", "item_id", "delta", "start_ms", "end_ms"} <= set(e)
                          for e in deltas)
    assert events[-2]["session_duration_seconds"] > 0
    audio = [e for e in events if e["type"] == "reply.audio"]
    assert audio and all(set(e["data"]) == {"bytes"} and e["data"]["bytes"] > 0 for e in audio)
    assert kinds.index("input.speech.stopped") < kinds.index("transcript.user") < (
        kinds.index("reply.started", kinds.index("transcript.user")))
    report = events[-1]
    greeting, turn = report["turns"]
    assert greeting["turn"] == "greeting" and turn["turn"] == 1
    assert turn["user"] == "[1.2 seconds of speech]"
    assert turn["reply_started_ms"] >= 0 and turn["first_audio_ms"] >= turn["reply_started_ms"]
    # The service's own timestamps measure the same, without the network.
    assert 0 <= turn["reply_started_ms_service"] <= turn["first_audio_ms_service"]
    assert greeting["first_audio_ms_service"] is not None
    totals = report["totals"]
    assert totals["user_turns"] == 1 and totals["replies"] == 1 and totals["greeting"] is True
    assert report["session_id"] == ready["session_id"]
    (session,) = sessions(live)
    assert "agent_id" not in session.config and session.config["llm"][0]["model"] == "m"
    assert session.config["output"]["voice"] == "ivy"  # voice.voice_id, sent inline
    assert TEST_KEY not in result.stdout + result.stderr and "llm-secret" not in result.stdout


def test_on_a_terminal_partials_and_who_is_speaking_are_shown_in_place(live, write, speech_wav):
    import re

    create(write)
    result = run_cli("--no-color", "connect", "helper", "-i", speech_wav, *FAST, tty=True)
    assert "\x1b[2m" not in result.stdout  # --no-color: no styling at all
    assert "\r\x1b[2K(you are speaking)" in result.stdout
    assert "\r\x1b[2Kuser: [0.5 seconds of speech] …" in result.stdout
    assert "\r\x1b[2K(agent is speaking)" in result.stdout
    final = [line for line in re.split(r"\r\x1b\[2K|\n", result.stdout) if ": " in line
             and not line.endswith("…")]
    assert final == ["user: [1.2 seconds of speech]", "agent: I heard 1.2 seconds of speech."]
    # Live captions: the agent's words as it speaks them, replaced by the final line.
    captions = re.findall(r"\r\x1b\[2K(agent: [^\r\n]*) …", result.stdout)
    assert captions[:3] == ["agent: I", "agent: I heard", "agent: I heard 1.2"]
    assert captions[-1] == "agent: I heard 1.2 seconds of speech."
    assert result.stdout.index(captions[-1] + " …") < result.stdout.index(
        "\r\x1b[2Kagent: I heard 1.2 seconds of speech.\n")


def test_captions_only_on_a_terminal_and_the_session_id_with_verbose(live, write, speech_wav):
    create(write)
    result = run_cli("-v", "connect", "helper", "-i", speech_wav, *FAST)
    assert lines(result.stdout) == ["user: [1.2 seconds of speech]",
                                    "agent: I heard 1.2 seconds of speech."]
    (session,) = sessions(live)
    assert f"session {session.id}" in result.stderr
    assert f"session {session.id}: " in result.stderr.splitlines()[-1]  # the report too


def test_until_greeting_needs_no_audio_turn(live, write, speech_wav):
    create(write, GREETER_YAML)
    result = run_cli("connect", "greeter", "-i", speech_wav, "--until", "greeting", *FAST)
    assert lines(result.stdout) == ["agent: Hi, how can I help?"]


def test_two_replies_from_two_utterances(live, write, tmp_path):
    create(write, AGENT_YAML + "input: {turn_detection: {interrupt_response: false}}\n")
    pcm = utterances(("s", 0.3), ("t", 0.8), ("s", 1.5), ("t", 0.6), ("s", 0.2))
    wav = str(wav_file(tmp_path / "two.wav", pcm))
    result = run_cli("connect", "helper", "-i", wav, "--until", "2-replies", *FAST)
    assert lines(result.stdout) == [
        "user: [0.8 seconds of speech]", "agent: I heard 0.8 seconds of speech.",
        "user: [0.6 seconds of speech]", "agent: I heard 0.6 seconds of speech.",
    ]


def test_raw_pcm_on_stdin(live, write, monkeypatch):
    import io

    from tests import conftest

    create(write)
    pcm = utterances(*ONE_TURN)
    monkeypatch.setattr(conftest._Stream, "buffer", io.BytesIO(pcm), raising=False)
    result = run_cli("connect", "helper", "--input", "-", *FAST)
    assert "user: [1.2 seconds of speech]" in lines(result.stdout)


# -- tools -----------------------------------------------------------------------------
TOOL_AGENT = AGENT_YAML + """\
tools:
  - name: lookup
    description: Look up an order.
    parameters: {type: object, properties: {order: {type: number}}}
    timeout_seconds: 1
"""
# The emulator waits for a tool.result in real time (its speed factor shortens speech, not
# the client's work), so a subprocess gets the whole timeout; 30 s is ample under load and
# costs nothing when it answers. The unanswered case keeps 1 s (the shortest allowed).
ANSWERED_TOOL_AGENT = TOOL_AGENT.replace("timeout_seconds: 1", "timeout_seconds: 30")


@pytest.fixture
def tool_live(tmp_path, monkeypatch):
    running = start_live(tmp_path, monkeypatch, script=TOOL_SCRIPT, speed=100.0)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def test_a_client_tool_answered_by_a_command(tool_live, write, speech_wav, tmp_path):
    create(write, ANSWERED_TOOL_AGENT)
    seen = tmp_path / "args.json"
    code = ("import sys, json; args = json.load(sys.stdin); "
            f"open({str(seen)!r}, 'w').write(json.dumps(args)); "
            "print(json.dumps({'ok': True, 'order': args['order']}))")
    command = shlex.join([sys.executable, "-c", code])
    result = run_cli("connect", "helper", "-i", speech_wav, "--tool", f"lookup={command}",
                     "-o", "jsonl", *FAST)
    assert json.loads(seen.read_text()) == {"order": 7}
    events = [json.loads(line) for line in result.stdout.splitlines()]
    agent = [e["text"] for e in events if e["type"] == "transcript.agent"]
    assert agent == ['Your order: {"ok": true, "order": 7}']
    report = events[-1]
    assert report["totals"]["tool_calls"] == 1 and report["unanswered_tool_calls"] == []
    assert report["turns"][0]["tool_calls"] == ["lookup"]
    (session,) = sessions(tool_live)
    assert session.tool_calls[0]["result"] == '{"ok": true, "order": 7}'


def test_a_client_tool_answered_from_a_file(tool_live, write, speech_wav):
    create(write, ANSWERED_TOOL_AGENT)
    answer = write("result.json", '{"status": "shipped"}\n')
    result = run_cli("connect", "helper", "-i", speech_wav, "--tool", f"lookup=@{answer}",
                     *FAST)
    assert 'agent: Your order: {"status": "shipped"}' in lines(result.stdout)


def test_a_failing_tool_command_is_reported_and_answered_with_an_error(
        tool_live, write, speech_wav):
    create(write, ANSWERED_TOOL_AGENT)
    command = shlex.join([sys.executable, "-c", "import sys; sys.exit('no such order')"])
    result = run_cli("connect", "helper", "-i", speech_wav, "--tool", f"lookup={command}",
                     *FAST)
    assert "warning: tool lookup: the command exited with 1 (no such order)" in result.stderr
    assert any(line.startswith('agent: Your order: {"error"') for line in lines(result.stdout))
    (session,) = sessions(tool_live)
    assert session.tool_calls[0]["is_error"] is True


def test_an_unanswered_tool_call_is_a_warning_and_in_the_report(tool_live, write, speech_wav):
    create(write, TOOL_AGENT)
    result = run_cli("connect", "helper", "-i", speech_wav, *FAST)
    assert "warning: tool.call lookup (call_" in result.stderr
    assert "not answered: no --tool lookup=COMMAND" in result.stderr
    assert "unanswered tool call: lookup" in result.stderr
    # The agent gave up waiting (timeout_seconds 1) and said so.
    assert "agent: Your order: error: no result from lookup within 1 s" in lines(result.stdout)


def test_a_file_that_appears_during_the_session_is_not_overwritten(
        tool_live, write, speech_wav, tmp_path):
    create(write, ANSWERED_TOOL_AGENT)
    out = tmp_path / "reply.wav"
    # The tool runs mid-session, after connect checked that --output was free.
    code = f"open({str(out)!r}, 'wb').write(b'theirs'); print('ok')"
    command = shlex.join([sys.executable, "-c", code])
    result = run_cli("connect", "helper", "-i", speech_wav, "--tool", f"lookup={command}",
                     "--audio-out", str(out), *FAST, exit_code=2)
    assert out.read_bytes() == b"theirs"
    assert f"error: refusing to overwrite {out}: it exists" in result.stderr
    assert "hint: pass --force to replace it" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
# -- trouble ---------------------------------------------------------------------------
def test_an_input_without_speech_ends_early_with_one_clear_error(live, write, tmp_path):
    create(write)
    quiet = silence(0.5) + tone(1.0, amplitude=0.01) + silence(0.5)  # under vad_threshold
    for name, pcm in (("silent.wav", utterances(("s", 1.5))), ("whisper.wav", quiet)):
        wav = str(wav_file(tmp_path / name, pcm))
        result = run_cli("connect", "helper", "-i", wav, "-o", "jsonl", *FAST, exit_code=7)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors == ["error: no speech detected in the input (the agent only answers "
                          "speech)"], result.stderr
        report = json.loads(result.stdout.splitlines()[-1])
        assert report["outcome"] == "no_speech" and report["totals"]["user_turns"] == 0
        assert report["totals"]["audio_sent_s"] == pytest.approx(len(pcm) / 48000 + 3.0)
    first, second = sessions(live)
    assert first.end_reason == second.end_reason == "client"  # ended with session.end


def test_a_dropped_socket_is_resumed_and_marked(tmp_path, monkeypatch, write):
    running = start_live(tmp_path, monkeypatch, drop_after_events=2)  # after ready
    try:
        create(write)
        wav = str(wav_file(tmp_path / "q.wav", utterances(("s", 1.0), ("t", 1.2), ("s", 0.3))))
        result = run_cli("connect", "helper", "-i", wav, *FAST)
        (session,) = sessions(running)
    finally:
        running.stop()
    assert running.errors == []
    out = lines(result.stdout)
    assert out[0] == f"-- connection lost; resumed session {session.id} --"
    assert out[1].startswith("user: [") and out[2].startswith("agent: I heard")
    assert session.resumes == 1 and session.connections == 2
    assert "1 resume(s)" in result.stderr


def test_a_socket_lost_before_ready_is_replaced_and_the_update_sent_again(
        tmp_path, monkeypatch, write, speech_wav):
    running = start_live(tmp_path, monkeypatch, drop_after_events=0)
    try:
        create(write)
        result = run_cli("connect", "helper", "-i", speech_wav, *FAST)
        first, second = sessions(running)
    finally:
        running.stop()
    assert running.errors == []
    assert "the connection dropped before session.ready" in result.stderr
    assert "connecting again" in result.stderr
    assert first.sent == [] and second.end_reason == "client"
    assert lines(result.stdout) == ["user: [1.2 seconds of speech]",
                                    "agent: I heard 1.2 seconds of speech."]


def test_output_refuses_to_overwrite_without_force(live, write, speech_wav, tmp_path):
    create(write)
    existing = tmp_path / "out.wav"
    existing.write_bytes(b"keep me")
    result = run_cli("connect", "helper", "-i", speech_wav, "--audio-out", str(existing),
                     *FAST, exit_code=2)
    assert "the file exists" in result.stderr and "--force" in result.stderr
    assert existing.read_bytes() == b"keep me" and sessions(live) == []
    run_cli("connect", "helper", "-i", speech_wav, "--audio-out", str(existing), "--force",
            *FAST)
    assert read_wav_stdlib(existing)[0] == 24000


@pytest.mark.parametrize(("args", "message"), [
    ((), "give either AGENT"),
    (("helper", "-f", "x.yaml"), "give either AGENT"),
    (("helper", "--until", "soon"), "--until 'soon'"),
    (("helper", "--until", "timeout", "-i", "x.wav"), "needs --timeout-session"),
    (("helper", "--tool", "lookup"), "expected NAME=COMMAND"),
    (("helper", "--tool", "lookup=@/nonexistent/r.json"), "cannot read"),
])
def test_usage_errors_exit_2(live, write, args, message):
    create(write)
    result = run_cli("connect", *args, exit_code=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr and sessions(live) == []


def test_an_unreadable_input_exits_2(live, write, tmp_path):
    create(write)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is text")
    result = run_cli("connect", "helper", "-i", str(bad), exit_code=2)
    assert result.stderr.startswith(f"error: --audio-in {bad}: not a WAV file")


def test_unknown_agent_exits_5(live):
    result = run_cli("connect", "nobody", "-i", "x.wav", exit_code=5)
    assert "no agent with id or name 'nobody'" in result.stderr


def test_a_rejected_key_exits_4(tmp_path, monkeypatch, write, speech_wav):
    running = server.start(port=0, db_path=tmp_path / "k.sqlite3", api_keys=["other-key"])
    try:
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
        result = run_cli("connect", "-f", write("a.yaml", AGENT_YAML), "-i", speech_wav,
                         exit_code=4)
    finally:
        running.stop()
    # Refused in-band (session.error unauthorized, close 1008): exit 4 all the same. (When
    # the close overtakes the error event, its reason, the code, is what is left.)
    assert "error: connect: refused by the service: " in result.stderr
    assert result.stderr.splitlines()[0].endswith("(unauthorized)")
    assert "hint: check the key" in result.stderr and TEST_KEY not in result.stderr


def test_the_service_rejecting_the_session_exits_6(live, write, speech_wav):
    spec = write("a.yaml", AGENT_YAML + "tools:\n  - name: t\n    http: {url: 'http://127.0.0.1:9/x'}\n")
    # Valid for an emulator on loopback, but this one was not started to allow it.
    result = run_cli("connect", "-f", spec, "-i", speech_wav, exit_code=6)
    assert ("error: connect: session.update rejected: session.tools[0].http.url: must be an "
            "https URL (invalid_config)") in result.stderr


def test_a_session_timeout_before_until_exits_7_after_the_report(live, write, speech_wav):
    create(write)
    result = run_cli("connect", "helper", "-i", speech_wav, "--until", "3-replies", *FAST,
                     "--timeout-session", "1", exit_code=7)
    assert "session timeout: 3 replies did not come within 1 s (1 reply came)" in result.stderr
    assert "agent: I heard 1.2 seconds of speech." in lines(result.stdout)
    assert "TURN" in result.stderr  # the report still came


def test_until_timeout_is_success(live, write, speech_wav):
    create(write)
    result = run_cli("connect", "helper", "-i", speech_wav, "--until", "timeout",
                     "--timeout-session", "0.5", "-o", "jsonl", *FAST)
    assert json.loads(result.stdout.splitlines()[-1])["outcome"] == "timeout"


def test_no_sound_support_exits_2_with_the_hint(live, write, monkeypatch):
    create(write)
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    result = run_cli("connect", "helper", exit_code=2)
    assert "microphone and speaker need the optional audio support" in result.stderr
    assert "pip install -e '.[audio]'" in result.stderr


def test_local_uses_the_embedded_emulator(write, speech_wav):
    spec = write("a.yaml", AGENT_YAML)
    result = run_cli("--local", "connect", "-f", spec, "-i", speech_wav, "--speed", "50")
    assert "user: [1.2 seconds of speech]" in lines(result.stdout)


# -- interactive: a fake sound card, and Ctrl-C ----------------------------------------
class _FakeSoundDevice(types.ModuleType):
    """Just enough of sounddevice: a microphone that says one thing, then is quiet."""

    def __init__(self, write_delay: float = 0.0) -> None:
        super().__init__("sounddevice")
        self.played: list[bytes] = []
        fake = self

        class RawInputStream:
            def __init__(self, samplerate, channels, dtype, blocksize, callback):
                assert (channels, dtype) == (1, "int16")
                self.rate, self.block, self.callback = samplerate, blocksize, callback
                self.stopped = threading.Event()

            def start(self):
                threading.Thread(target=self._run, daemon=True).start()

            def _run(self):
                pcm = utterances(*ONE_TURN, rate=self.rate)
                size = 2 * self.block
                i = 0
                while not self.stopped.wait(0.005):  # 100 ms blocks, 20x real time
                    block = pcm[i:i + size] if i < len(pcm) else bytes(size)
                    self.callback(block.ljust(size, b"\0"), self.block, None, None)
                    i += size

            def stop(self):
                self.stopped.set()

            def close(self):
                self.stopped.set()

        class RawOutputStream:
            def __init__(self, samplerate, channels, dtype):
                pass

            def start(self):
                pass

            def write(self, data):
                time.sleep(write_delay)  # a sound card plays in real time
                fake.played.append(bytes(data))

            def stop(self):
                pass

            def close(self):
                pass

        self.RawInputStream = RawInputStream
        self.RawOutputStream = RawOutputStream


def test_microphone_speaker_and_ctrl_c_end_the_session_cleanly(live, write, monkeypatch):
    create(write)
    fake = _FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    whole_reply = 2 * 24000 * 30 * 60 // 1000

    def press_ctrl_c_after_the_reply() -> None:
        # When the client (not the emulator) has shown the reply and played all of it:
        # sys.stdout is the CLI's captured stdout while it runs.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            shown = "agent: I heard" in getattr(sys.stdout, "getvalue", str)()
            if shown and sum(len(b) for b in fake.played) >= whole_reply:
                break
            time.sleep(0.01)
        signal.pthread_kill(main_thread, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_after_the_reply, daemon=True)
    presser.start()
    result = run_cli("connect", "helper", exit_code=130)
    presser.join()
    assert "agent: I heard 1.2 seconds of speech." in lines(result.stdout)
    (session,) = sessions(live)
    assert session.received[-1] == "session.end" and session.end_reason == "client"
    assert sum(len(b) for b in fake.played) == whole_reply


# -- emulator serve --script / --allow-loopback-tools -----------------------------------
def test_serve_refuses_a_bad_script_before_starting(write):
    script = write("script.yaml", "turns:\n  - usr: hi\n")
    result = run_cli("emulator", "serve", "--port", "0", "--script", script, exit_code=3)
    assert result.stderr.startswith(f"error: {script}: turns[0].usr: unknown field")


def test_serve_with_a_script_and_loopback_tools(tmp_path, write, monkeypatch, speech_wav):
    import os
    import re
    import subprocess

    # --speed 50 lets connect --speed 20 through the rate guard (and the agent speak fast).
    script = write("script.yaml", "turns:\n  - user: Where is my parcel?\n"
                   "    reply: It arrives tomorrow.\n")
    env = {**os.environ, "AGENTCTL_DATA_DIR": str(tmp_path / "served")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentctl", "emulator", "serve", "--port", "0", "--script",
         script, "--allow-loopback-tools", "--speed", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.match(r"Emulator listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("AGENTCTL_BASE_URL", match.group(1))
        # A loopback HTTP tool is accepted by this emulator (the script does not call it).
        spec = write("a.yaml", AGENT_YAML + "tools:\n  - name: t\n"
                     "    http: {url: 'http://127.0.0.1:9/x'}\n")
        result = run_cli("connect", "-f", spec, "-i", speech_wav, *FAST)
        assert lines(result.stdout) == ["user: Where is my parcel?",
                                        "agent: It arrives tomorrow."]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_the_speaker_finishes_the_last_reply_before_closing(live, write, monkeypatch):
    create(write)
    fake = _FakeSoundDevice(write_delay=0.01)  # slower than the reply arrives
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    result = run_cli("connect", "helper", "--until", "reply")
    assert "agent: I heard 1.2 seconds of speech." in lines(result.stdout)
    assert sum(len(b) for b in fake.played) == 2 * 24000 * 30 * 60 // 1000


# -- telephony audio -------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["audio/pcmu", "audio/pcma"])
def test_a_telephony_agent_with_wav_files_both_ways(live, write, speech_wav, tmp_path, encoding):
    fmt = f"{{encoding: {encoding}, sample_rate: 8000}}"
    create(write, AGENT_YAML + f"input: {{format: {fmt}}}\noutput: {{format: {fmt}}}\n")
    out = tmp_path / "reply.wav"
    result = run_cli("-v", "connect", "helper", "--audio-in", speech_wav, "--audio-out",
                     str(out), *FAST)
    # The 44.1 kHz stereo WAV went out as 8 kHz G.711, and the agent heard it all.
    assert lines(result.stdout) == ["user: [1.2 seconds of speech]",
                                    "agent: I heard 1.2 seconds of speech."]
    assert f"audio {encoding} in, {encoding} out" in result.stderr
    (session,) = sessions(live)
    assert (session.in_encoding, session.out_encoding) == (encoding, encoding)
    assert session.received.count("input.audio") > 0
    rate, channels, width, frames = read_wav_stdlib(out)
    assert (rate, channels, width) == (8000, 1, 2)  # decoded to PCM16 at the agent's rate
    assert len(frames) == 2 * 8000 * 30 * 60 // 1000
    assert "saved 1.8 s of agent audio" in result.stderr


def test_a_mulaw_wav_file_is_read_too(live, write, tmp_path):
    import struct

    from agentctl import g711

    create(write)
    pcm = utterances(*ONE_TURN, rate=8000)
    data = g711.encode(pcm, "audio/pcmu")
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)  # WAVE_FORMAT_MULAW
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    wav = tmp_path / "phone.wav"
    wav.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    result = run_cli("connect", "helper", "-i", str(wav), *FAST)
    assert "user: [1.2 seconds of speech]" in lines(result.stdout)


# -- counting replies, and saying sooner that --until cannot happen (issue 16 item 9) ------
def test_until_more_replies_than_questions_says_so_soon(live, write, speech_wav):
    create(write, GREETER_YAML)
    began = time.monotonic()
    result = run_cli("connect", "greeter", "-i", speech_wav, "--until", "2-replies", *FAST,
                     exit_code=7)
    # Not the 60 s timeout: the input ended and the agent went quiet.
    assert time.monotonic() - began < 15
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: 2 replies did not come: the input ended and the agent went "
                      "quiet (1 reply came)"]
    # The report counts the same way: the greeting is not a reply.
    summary = next(line for line in result.stderr.splitlines() if line.startswith("session "))
    assert "1 user turn(s); 1 reply and the greeting (0 interrupted)" in summary
    assert lines(result.stdout)[-1] == "agent: I heard 1.2 seconds of speech."


def test_a_timeout_message_rounds_the_seconds(live, write, speech_wav):
    create(write)
    result = run_cli("connect", "helper", "-i", speech_wav, "--until", "3-replies",
                     "--timeout-session", "1.23456", *FAST, exit_code=7)
    assert "did not come within 1.2 s (1 reply came)" in result.stderr


# -- --speed against the service ---------------------------------------------------------
def test_speed_above_1_is_refused_unless_the_host_is_on_loopback(write, monkeypatch,
                                                                 speech_wav):
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", "https://agents.assemblyai.com")
    result = run_cli("connect", "-f", write("a.yaml", AGENT_YAML), "-i", speech_wav,
                     "--speed", "20", exit_code=2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: --speed 20: faster than real time works only against an "
                      "emulator on loopback (the service ends such a session with "
                      "audio_rate_violation)"]
    assert "Traceback" not in result.stderr


def test_audio_faster_than_the_emulator_allows_ends_with_its_error(tmp_path, monkeypatch,
                                                                   write, speech_wav):
    running = start_live(tmp_path, monkeypatch, speed=1.0)  # real time: the guard is on
    try:
        create(write)
        result = run_cli("connect", "helper", "-i", speech_wav, "--speed", "50",
                         exit_code=6)
        (session,) = sessions(running)
    finally:
        running.stop()
    assert running.errors == []
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "slow down" in errors[0]
    assert errors[0].endswith("(audio_rate_violation)")
    assert "hint: stream at the pace of speech (--speed 1)" in result.stderr
    assert session.end_reason == "audio_rate_violation"


# -- the old option names, one release more ---------------------------------------------
def test_the_old_option_names_still_work_with_a_warning(live, write, speech_wav, tmp_path):
    create(write)
    out = tmp_path / "old.wav"
    result = run_cli("connect", "helper", "--input", speech_wav, "--output", str(out),
                     "--format", "jsonl", *FAST)
    assert json.loads(result.stdout.splitlines()[-1])["type"] == "report"
    assert read_wav_stdlib(out)[0] == 24000
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: --input is now --audio-in (-i); the old name goes in the next release",
        "warning: --output FILE.wav is now --audio-out FILE.wav (-o/--output is the output "
        "format, text or jsonl); the old spelling goes in the next release",
        "warning: --format is now -o/--output; the old name goes in the next release",
    ]


@pytest.mark.parametrize(("args", "message"), [
    (("-o", "json"), "-o/--output 'json': expected text or jsonl"),
    (("--input", "a.wav", "-i", "b.wav"), "give --audio-in only"),
    (("--output", "a.wav", "--audio-out", "b.wav"), "give --audio-out only"),
])
def test_option_mistakes_exit_2(live, write, args, message):
    create(write)
    result = run_cli("connect", "helper", *args, exit_code=2)
    assert message in result.stderr and sessions(live) == []


# -- reply.error -----------------------------------------------------------------------
def test_a_retryable_reply_error_is_shown_and_retried_once(tmp_path, monkeypatch, write,
                                                           speech_wav):
    error = {"code": "llm_provider_error", "message": "The provider timed out.",
             "retryable": True}
    script = {"turns": [{"user": "Hi", "reply": "Hello!", "reply_error": error}]}
    running = start_live(tmp_path, monkeypatch, script=script)
    try:
        create(write)
        result = run_cli("connect", "helper", "-i", speech_wav, *FAST)
        (session,) = sessions(running)
    finally:
        running.stop()
    assert running.errors == []
    assert lines(result.stdout) == [
        "user: Hi",
        "-- the agent's reply failed: The provider timed out. (llm_provider_error) --",
        "agent: Hello!",
    ]
    assert ("warning: the agent's reply failed: The provider timed out. "
            "(llm_provider_error); retrying once") in result.stderr
    assert session.received.count("reply.create") == 1
    assert "1 reply (0 interrupted); 1 failed reply" in result.stderr


def test_a_reply_error_that_is_not_retryable_is_not_retried(tmp_path, monkeypatch, write,
                                                            speech_wav):
    error = {"code": "llm_provider_error", "message": "Bad request.", "retryable": False}
    script = {"turns": [{"user": "Hi", "reply": "Hello!", "reply_error": error}]}
    running = start_live(tmp_path, monkeypatch, script=script)
    try:
        create(write)
        result = run_cli("connect", "helper", "-i", speech_wav, *FAST, exit_code=7)
        (session,) = sessions(running)
    finally:
        running.stop()
    assert "reply.create" not in session.received
    assert "error: a reply did not come: the input ended and the agent went quiet " \
           "(0 replies came)" in result.stderr
