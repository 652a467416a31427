"""WAV files and PCM conversion with the stdlib only (no numpy, no audioop).

`read_wav` accepts RIFF/WAVE with integer PCM of 8, 16, 24 or 32 bits, 32-bit float,
G.711 μ-law or A-law, any channel count and any rate, plain or WAVE_FORMAT_EXTENSIBLE, and
returns PCM16 mono at the rate asked for (24 kHz, or 8 kHz for a telephony agent, whose
encoding the session runner applies): channels are averaged, the rate changed by
linear interpolation (after a moving-average low-pass when going down).
`write_wav` writes PCM16 mono atomically, never over an existing file without `force`
(`agentctl.fileio.write_atomic`).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from pathlib import Path

from agentctl.fileio import write_atomic

PCM = 1
IEEE_FLOAT = 3
ALAW = 6
MULAW = 7
EXTENSIBLE = 0xFFFE
PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


class WavError(ValueError):
    """A file that is not a WAV we can read; the message says why."""


def _le(values: array) -> array:
    """Make an array read from little-endian bytes native (a no-op on little-endian)."""
    if sys.byteorder == "big":
        values.byteswap()
    return values


def pcm16_samples(pcm: bytes) -> array:
    return _le(array("h", pcm[: len(pcm) - len(pcm) % 2]))


def samples_pcm16(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def parse_header(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(format, channels, rate, bits, sample bytes) of a RIFF/WAVE file's contents."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    samples: bytes | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        size = struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise WavError("the fmt chunk is too short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == EXTENSIBLE:
                if len(body) < 40:
                    raise WavError("the extensible fmt chunk is too short")
                sub = body[24:40]
                if sub[2:] != PCM_GUID_TAIL:
                    raise WavError("unsupported WAV sub-format")
                tag = struct.unpack_from("<H", sub)[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            # A streamed WAV may say 0 or 0xFFFFFFFF: take what is there.
            samples = data[pos + 8:] if size in (0, 0xFFFFFFFF) else body
            if fmt is not None:
                break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise WavError("no fmt chunk")
    if samples is None:
        raise WavError("no data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1:
        raise WavError(f"invalid header ({channels} channels at {rate} Hz)")
    if tag == PCM and bits not in (8, 16, 24, 32):
        raise WavError(f"{bits}-bit PCM is not supported (8, 16, 24 or 32)")
    if tag == IEEE_FLOAT and bits != 32:
        raise WavError(f"{bits}-bit float is not supported (32)")
    if tag in (ALAW, MULAW) and bits != 8:
        raise WavError(f"{bits}-bit G.711 is not valid (8)")
    if tag not in (PCM, IEEE_FLOAT, ALAW, MULAW):
        raise WavError(f"compressed WAV (format {tag:#06x}) is not supported: use PCM")
    return tag, channels, rate, bits, samples


def decode_samples(tag: int, bits: int, raw: bytes) -> array:
    """Interleaved samples of any supported encoding -> array('h') PCM16 values."""
    width = bits // 8
    raw = raw[: len(raw) - len(raw) % width]
    if tag in (ALAW, MULAW):  # telephony recordings
        from agentctl import g711

        return _le(array("h", g711.decode(raw, "audio/pcma" if tag == ALAW else "audio/pcmu")))
    if tag == IEEE_FLOAT:
        floats = _le(array("f", raw))
        return array("h", (
            32767 if f >= 1.0 else -32768 if f <= -1.0 else 0 if math.isnan(f) else int(f * 32767)
            for f in floats))
    if bits == 8:  # unsigned, centred on 128
        return array("h", ((b - 128) << 8 for b in raw))
    if bits == 16:
        return _le(array("h", raw))
    if bits == 24:  # widen to 32 bits by slicing, then keep the top 16
        wide = bytearray(len(raw) // 3 * 4)
        wide[1::4], wide[2::4], wide[3::4] = raw[0::3], raw[1::3], raw[2::3]
        return array("h", (v >> 16 for v in _le(array("i", bytes(wide)))))
    return array("h", (v >> 16 for v in _le(array("i", raw))))


def to_mono(samples: array, channels: int) -> array:
    """Interleaved frames -> their average, one sample per frame."""
    if channels == 1:
        return samples
    frames = len(samples) // channels
    lanes = [samples[c:frames * channels:channels] for c in range(channels)]
    return array("h", (sum(values) // channels for values in zip(*lanes, strict=True)))


def resample(samples: array, src_rate: int, dst_rate: int) -> array:
    """Linear interpolation; a moving-average low-pass first when lowering the rate."""
    if src_rate == dst_rate or not samples:
        return array("h", samples)
    if src_rate > dst_rate:
        width = round(src_rate / dst_rate)
        if width > 1:
            samples = _moving_average(samples, width)
    n_out = max(1, len(samples) * dst_rate // src_rate)
    step = src_rate / dst_rate
    last = len(samples) - 1
    out = array("h", bytes(2 * n_out))
    for j in range(n_out):
        pos = j * step
        i = int(pos)
        if i >= last:
            out[j] = samples[last]
            continue
        frac = pos - i
        a = samples[i]
        out[j] = int(a + (samples[i + 1] - a) * frac)
    return out


def _moving_average(samples: array, width: int) -> array:
    out = array("h", bytes(2 * len(samples)))
    total = 0
    for i, value in enumerate(samples):
        total += value
        if i >= width:
            total -= samples[i - width]
        out[i] = total // min(i + 1, width)
    return out


def convert(pcm: bytes, *, tag: int = PCM, bits: int = 16, channels: int = 1,
            src_rate: int, dst_rate: int) -> bytes:
    """Any supported encoding -> PCM16 mono at `dst_rate`."""
    samples = to_mono(decode_samples(tag, bits, pcm), channels)
    return samples_pcm16(resample(samples, src_rate, dst_rate))


def read_wav(path: str | Path, rate: int = 24000) -> bytes:
    """A WAV file -> PCM16 mono at `rate`; WavError (or OSError) when it cannot."""
    data = Path(path).read_bytes()
    tag, channels, src_rate, bits, raw = parse_header(data)
    return convert(raw, tag=tag, bits=bits, channels=channels, src_rate=src_rate, dst_rate=rate)


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """PCM16 mono -> a complete WAV file's bytes."""
    pcm = pcm[: len(pcm) - len(pcm) % 2]
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, PCM, 1, rate, rate * 2, 2, 16,
        b"data", len(pcm),
    )
    return header + pcm


def write_wav(path: str | Path, pcm: bytes, rate: int, *, force: bool = False) -> Path:
    """Write a WAV file atomically (`fileio.write_atomic`): a reader never sees half of it.

    Without `force` an existing file is refused, and the refusal is atomic too (the new
    file gets its name by a hard link, which fails if the name is taken meanwhile): a
    UsageError naming `--force`. A write that fails is a UsageError saying why.
    """
    return write_atomic(path, wav_bytes(pcm, rate), force=force)


def silence(ms: int, rate: int) -> bytes:
    return bytes(2 * (rate * ms // 1000))


def duration(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate
