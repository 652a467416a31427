"""The emulator's ears and voice: energy-based speech detection and a synthetic voice.

Both work on PCM16 mono little-endian at the session's sample rate, with the stdlib only
(`array`, `math`), so the emulator needs neither numpy nor an audio library.

Speech detection follows the session's `input.turn_detection`:
- `vad_threshold` (0..1) maps to an RMS level on a decibel scale, `-60 dBFS + 60 dB * v`:
  0.5 (the default) is -30 dBFS (RMS about 1036 of 32767), 0 hears everything above
  -60 dBFS, 1 hears nothing short of full scale.
- A 20 ms frame at or above that level is voiced. The first voiced frame starts speech;
  `min_silence` ms of unvoiced frames after it end the turn.
- Time is audio time (samples received), not wall time, so detection is deterministic
  whatever pace the client streams at.

The voice is a tone with a speech-like envelope, about 60 ms per character of the text
(capped), so a reply has a plausible length and a client can play or save real audio.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

FRAME_MS = 20
PARTIAL_EVERY_MS = 500
MS_PER_CHARACTER = 60
MIN_REPLY_MS = 300
MAX_REPLY_MS = 20_000
CHUNK_MS = 100
FULL_SCALE = 32767


def pcm_samples(pcm: bytes) -> array:
    """PCM16 little-endian bytes -> array('h') (an odd trailing byte is dropped)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def samples_pcm(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def rms(samples: array) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def rms_threshold(vad_threshold: float) -> float:
    """`vad_threshold` 0..1 -> the RMS a 20 ms frame needs to count as speech."""
    v = min(max(float(vad_threshold), 0.0), 1.0)
    return FULL_SCALE * 10 ** ((-60.0 + 60.0 * v) / 20.0)


@dataclass(frozen=True)
class SpeechEvent:
    """`kind`: "started", "partial" (every 500 ms of speech) or "stopped".

    `at`: audio time in seconds since the session's first sample; `speech`: seconds from
    the first to the last voiced frame of the turn so far.
    """

    kind: str
    at: float
    speech: float


class SpeechDetector:
    """Feed it audio as it arrives; it says when a turn starts and ends."""

    def __init__(self, rate: int, vad_threshold: float = 0.5, min_silence_ms: int = 1000) -> None:
        self.rate = rate
        self.frame = max(1, rate * FRAME_MS // 1000)
        self.configure(vad_threshold, min_silence_ms)
        self._pending = array("h")
        self._frames = 0  # frames seen since the session began
        self.speaking = False
        self._first_voiced = 0
        self._last_voiced = 0
        self._silent_frames = 0
        self._partials = 0

    def configure(self, vad_threshold: float, min_silence_ms: int) -> None:
        """New turn-detection settings (a mid-session `session.update`)."""
        self.threshold = rms_threshold(vad_threshold)
        self.silence_frames = max(1, math.ceil(min_silence_ms / FRAME_MS))

    @property
    def audio_time(self) -> float:
        return self._frames * FRAME_MS / 1000

    def feed(self, pcm: bytes) -> list[SpeechEvent]:
        self._pending.extend(pcm_samples(pcm))
        events: list[SpeechEvent] = []
        frame = self.frame
        used = 0
        while len(self._pending) - used >= frame:
            voiced = rms(self._pending[used:used + frame]) >= self.threshold
            used += frame
            self._frames += 1
            event = self._step(voiced)
            if event is not None:
                events.append(event)
        del self._pending[:used]
        return events

    def _seconds(self, frames: int) -> float:
        return frames * FRAME_MS / 1000

    def _step(self, voiced: bool) -> SpeechEvent | None:
        now = self._frames  # the frame just processed ends at this count
        if not self.speaking:
            if not voiced:
                return None
            self.speaking = True
            self._first_voiced = now - 1
            self._last_voiced = now
            self._silent_frames = 0
            self._partials = 0
            return SpeechEvent("started", self._seconds(now - 1), 0.0)
        if voiced:
            self._last_voiced = now
            self._silent_frames = 0
        else:
            self._silent_frames += 1
        speech = self._seconds(self._last_voiced - self._first_voiced)
        if self._silent_frames >= self.silence_frames:
            self.speaking = False
            return SpeechEvent("stopped", self._seconds(now), speech)
        elapsed_ms = (now - self._first_voiced) * FRAME_MS
        if voiced and elapsed_ms >= (self._partials + 1) * PARTIAL_EVERY_MS:
            self._partials += 1
            return SpeechEvent("partial", self._seconds(now), speech)
        return None


# -- the voice ---------------------------------------------------------------------------


def reply_ms(text: str) -> int:
    """How long the agent speaks `text`: ~60 ms a character, at least 0.3 s, at most 20 s."""
    return min(max(len(text) * MS_PER_CHARACTER, MIN_REPLY_MS), MAX_REPLY_MS)


def word_timings(text: str) -> list[tuple[str, int, int]]:
    """The words of `text` as the voice speaks them: (word, start_ms, end_ms) from the
    reply's start. Every word after the first keeps its leading space (the service's
    deltas vary on that); a reply cut at MAX_REPLY_MS squeezes the timings to fit."""
    import re

    scale = reply_ms(text) / max(len(text) * MS_PER_CHARACTER, 1)
    scale = min(scale, 1.0)
    words = []
    for match in re.finditer(r"\s*\S+", text):
        start = match.start() + (len(match.group()) - len(match.group().lstrip()))
        words.append((match.group() if words else match.group().lstrip(),
                      round(start * MS_PER_CHARACTER * scale),
                      round(match.end() * MS_PER_CHARACTER * scale)))
    return words


def synthesize(text: str, rate: int, volume: float = 100) -> Iterator[bytes]:
    """The agent saying `text`: 100 ms chunks of PCM16 mono at `rate`.

    A 200 Hz tone with a second harmonic; each character is a 60 ms "syllable" with a
    raised-cosine envelope, loud for letters and digits, near silent for spaces and
    punctuation, so the result has the rhythm of speech. `volume` 0..100 scales it.
    """
    total = rate * reply_ms(text) // 1000
    per_char = max(1, rate * MS_PER_CHARACTER // 1000)
    chunk = max(1, rate * CHUNK_MS // 1000)
    gain = 0.3 * FULL_SCALE * min(max(volume, 0), 100) / 100
    step = 2 * math.pi * 200 / rate
    # The envelope of one syllable, computed once.
    shape = [0.5 - 0.5 * math.cos(2 * math.pi * i / per_char) for i in range(per_char)]
    levels = [1.0 if ch.isalnum() else 0.05 for ch in text] or [1.0]
    produced = 0
    while produced < total:
        n = min(chunk, total - produced)
        out = array("h", bytes(2 * n))
        for i in range(n):
            k = produced + i
            level = levels[(k // per_char) % len(levels)]
            phase = step * k
            wave = math.sin(phase) + 0.4 * math.sin(2 * phase)
            out[i] = int(gain * level * shape[k % per_char] * wave / 1.4)
        produced += n
        yield samples_pcm(out)
