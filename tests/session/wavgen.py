"""Test audio made with the stdlib: tones and silence, as PCM16 or as WAV files."""

from __future__ import annotations

import math
import struct
from array import array
from pathlib import Path

RATE = 24000


def tone(seconds: float, rate: int = RATE, freq: float = 220.0, amplitude: float = 0.3) -> bytes:
    n = int(rate * seconds)
    peak = amplitude * 32767
    return array("h", (int(peak * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
                 ).tobytes()


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(2 * int(rate * seconds))


def utterances(*parts: tuple[str, float], rate: int = RATE) -> bytes:
    """('s', 0.5), ('t', 1.2), ... -> silence and tone, in order (PCM16 mono)."""
    return b"".join(tone(sec, rate) if kind == "t" else silence(sec, rate) for kind, sec in parts)


def wav_file(path: Path, pcm16_mono: bytes, rate: int = RATE, channels: int = 1,
             bits: int = 16) -> Path:
    """A WAV written by hand (not by the code under test), optionally re-encoded."""
    samples = array("h", pcm16_mono)
    interleaved = [s for s in samples for _ in range(channels)]
    if bits == 16:
        data = array("h", interleaved).tobytes()
        tag = 1
    elif bits == 8:
        data = bytes((s >> 8) + 128 for s in interleaved)
        tag = 1
    elif bits == 24:
        data = b"".join(struct.pack("<i", s << 8)[:3] for s in interleaved)
        tag = 1
    elif bits == 32:  # float
        data = array("f", (s / 32768 for s in interleaved)).tobytes()
        tag = 3
    else:
        raise ValueError(bits)
    width = bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * width,
                      channels * width, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 4) + b"INFO"  # a chunk a reader must skip
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def read_wav_stdlib(path: Path) -> tuple[int, int, int, bytes]:
    """(rate, channels, sample width, frames) read with the stdlib `wave` module."""
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())
