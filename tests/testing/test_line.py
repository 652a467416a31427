"""The paced line into a session and the bridge between two sessions."""

from __future__ import annotations

import threading
import time

from agentctl.testing.line import Bridge, Line


def test_a_line_plays_speech_then_its_tail_of_silence_then_idles():
    line = Line(1000, speed=1000.0, tail_ms=300)  # 1 kHz: 2 bytes a millisecond
    line.push(b"\x01\x00" * 150)  # 150 ms of speech
    chunks = [line.read(200) for _ in range(3)]  # 100 ms each
    assert chunks[0] == b"\x01\x00" * 100
    assert chunks[1] == b"\x01\x00" * 50 + bytes(100)  # the end of it, then silence
    assert chunks[2] == bytes(200)
    assert line.read(200) == bytes(200)
    assert line.read(200) == bytes(100)  # the rest of the 300 ms tail
    # Idle now: a read waits for speech (here from another thread) and sends nothing.
    threading.Timer(0.1, line.push, args=(b"\x02\x00" * 10,)).start()
    started = time.monotonic()
    assert line.read(200) == b"\x02\x00" * 10 + bytes(180)
    assert time.monotonic() - started >= 0.09


def test_an_open_utterance_waits_for_more_instead_of_going_silent():
    line = Line(1000, speed=1000.0, tail_ms=100)
    line.begin()
    line.push(b"\x01\x00" * 50)
    threading.Timer(0.1, lambda: (line.push(b"\x03\x00" * 50), line.end())).start()
    assert line.read(200) == b"\x01\x00" * 50 + b"\x03\x00" * 50  # no silence between


def test_a_line_paces_at_its_speed_and_stops_when_closed():
    line = Line(1000, speed=10.0, tail_ms=0)
    line.push(bytes(2 * 500))  # 500 ms at 10x: 50 ms
    started = time.monotonic()
    for _ in range(5):
        line.read(200)
    assert 0.03 <= time.monotonic() - started < 1.0
    stop = threading.Event()
    halted = Line(1000, stop=stop)
    threading.Timer(0.05, stop.set).start()
    assert halted.read(200) == b""  # an idle line ends when its session stops


def test_a_bridge_converts_the_rate_and_keeps_what_was_said():
    line = Line(8000, speed=1000.0, tail_ms=0, keep=True)
    bridge = Bridge(line, 24000)
    bridge.play(b"\x10\x00" * 2400)  # 100 ms at 24 kHz
    bridge.clear()  # a barge-in does not unsay it
    data = line.read(10_000)
    assert len(data) == 2 * 800 and line.recorded == bytearray(data)  # 100 ms at 8 kHz
    bridge.enabled = False
    bridge.play(b"\x10\x00" * 2400)
    assert not line.speaking
