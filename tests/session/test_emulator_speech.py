"""The emulator's speech detection and voice, and its script format."""

from __future__ import annotations

import pytest

from agentctl.emulator import script as script_mod
from agentctl.emulator.speech import SpeechDetector, reply_ms, rms_threshold, synthesize
from tests.session.wavgen import silence, tone


def kinds(events):
    return [e.kind for e in events]


def test_threshold_is_a_decibel_scale():
    assert rms_threshold(0.5) == pytest.approx(32767 * 10 ** (-30 / 20))
    assert rms_threshold(0.0) < rms_threshold(0.5) < rms_threshold(1.0) == pytest.approx(32767)


def test_a_turn_ends_after_min_silence_of_audio_time():
    detector = SpeechDetector(24000, vad_threshold=0.5, min_silence_ms=600)
    assert detector.feed(silence(0.4)) == []
    events = detector.feed(tone(1.2))
    assert kinds(events) == ["started", "partial", "partial"]
    assert events[0].at == pytest.approx(0.4)
    assert detector.feed(silence(0.58)) == []  # not yet: 580 ms < 600 ms
    (stopped,) = detector.feed(silence(0.1))
    assert stopped.kind == "stopped" and stopped.speech == pytest.approx(1.2)


def test_quiet_audio_is_not_speech_and_the_threshold_decides():
    quiet = tone(1.0, amplitude=0.01)  # about -43 dBFS
    assert SpeechDetector(24000, vad_threshold=0.5).feed(quiet) == []
    assert kinds(SpeechDetector(24000, vad_threshold=0.1).feed(quiet))[0] == "started"


def test_chunk_boundaries_do_not_matter():
    audio = silence(0.3) + tone(0.7) + silence(1.2)
    whole = SpeechDetector(24000).feed(audio)
    pieces = []
    detector = SpeechDetector(24000)
    for i in range(0, len(audio), 1234):  # odd sizes, even mid-sample
        pieces.extend(detector.feed(audio[i:i + 1234]))
    assert pieces == whole


def test_voice_length_follows_the_text():
    text = "I heard 1.2 seconds of speech."
    pcm = b"".join(synthesize(text, 24000))
    assert len(pcm) == 2 * 24000 * reply_ms(text) // 1000
    assert reply_ms("x" * 10_000) == 20_000  # capped
    assert any(pcm) and len(pcm) % 2 == 0


def test_script_parses_and_renders(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "speed: 4\nturns:\n  - user: Weather in Paris?\n    tool_calls:\n"
        "      - {name: get_weather, arguments: {city: Paris}}\n"
        "    reply: 'It is {result} ({seconds} s, turn {turn})'\n", encoding="utf-8")
    loaded = script_mod.load_script(path)
    assert loaded.speed == 4.0
    turn = loaded.turn(0)
    assert turn.tool_calls[0].arguments == {"city": "Paris"}
    text = script_mod.render(turn.reply, result="sunny", seconds="1.5", turn=1)
    assert text == "It is sunny (1.5 s, turn 1)"
    assert loaded.turn(1).reply == script_mod.DEFAULT_REPLY


@pytest.mark.parametrize(("text", "where"), [
    ("turns: {}", "turns: must be a list"),
    ("turns:\n  - usr: hi", "turns[0].usr: unknown field"),
    ("turns:\n  - tool_calls: [{arguments: {}}]", "turns[0].tool_calls[0].name"),
    ("speed: 0", "speed: must be a number above 0"),
    ("turns: [", "s.yaml:1: not valid YAML"),
])
def test_script_errors_name_the_file_and_field(tmp_path, text, where):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(script_mod.ScriptError, match=where.replace("[", r"\[").replace("]", r"\]")):
        script_mod.load_script(path)
