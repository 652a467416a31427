"""WAV reading, conversion to 24 kHz mono PCM16, and atomic writing (stdlib only)."""

from __future__ import annotations

import itertools
import math
from array import array

import pytest

from agentctl.errors import UsageError
from agentctl.session import wav
from tests.session.wavgen import read_wav_stdlib, silence, tone, wav_file


def _rms(pcm: bytes) -> float:
    samples = array("h", pcm)
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def _zero_crossings(pcm: bytes) -> int:
    samples = array("h", pcm)
    return sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))


def test_24k_mono_16_bit_passes_through_unchanged(tmp_path):
    pcm = tone(0.5)
    path = wav_file(tmp_path / "a.wav", pcm)
    assert wav.read_wav(path) == pcm


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (16000, 1), (48000, 3), (8000, 2)])
def test_any_rate_channels_and_width_become_24k_mono(tmp_path, rate, channels, bits):
    pcm = tone(1.0, rate=rate, freq=300)
    path = wav_file(tmp_path / "in.wav", pcm, rate=rate, channels=channels, bits=bits)
    out = wav.read_wav(path)
    assert len(out) == 2 * 24000  # one second at 24 kHz, PCM16
    # Same loudness (8-bit loses precision, not level) and the same pitch: 300 Hz has
    # 600 zero crossings a second.
    assert _rms(out) == pytest.approx(_rms(pcm), rel=0.08)
    assert abs(_zero_crossings(out) - 600) <= 6


def test_extensible_format_is_read(tmp_path):
    pcm = tone(0.2, rate=48000)
    plain = wav_file(tmp_path / "plain.wav", pcm, rate=48000, channels=2).read_bytes()
    # Rewrite the fmt chunk as WAVE_FORMAT_EXTENSIBLE with the PCM sub-format GUID.
    import struct

    fmt_at = plain.index(b"fmt ")
    fmt = plain[fmt_at + 8:fmt_at + 24]
    ext = struct.pack("<H", 0xFFFE) + fmt[2:] + struct.pack("<HHI", 22, 16, 3)
    ext += struct.pack("<H", 1) + wav.PCM_GUID_TAIL
    rest = plain[fmt_at + 24:]
    body = plain[8:fmt_at] + b"fmt " + struct.pack("<I", len(ext)) + ext + rest
    path = tmp_path / "ext.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert len(wav.read_wav(path)) == 2 * int(0.2 * 24000)


@pytest.mark.parametrize(("content", "reason"), [
    (b"not a wav at all", "not a WAV file"),
    (b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
])
def test_unreadable_files_say_why(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(wav.WavError, match=reason):
        wav.read_wav(path)


def test_compressed_wav_is_refused(tmp_path):
    path = wav_file(tmp_path / "a.wav", tone(0.1))
    data = bytearray(path.read_bytes())
    at = data.index(b"fmt ") + 8
    data[at:at + 2] = (2).to_bytes(2, "little")  # ADPCM
    path.write_bytes(bytes(data))
    with pytest.raises(wav.WavError, match="compressed"):
        wav.read_wav(path)


def test_write_is_a_valid_wav_and_refuses_to_overwrite(tmp_path):
    pcm = tone(0.3) + silence(0.1)
    target = tmp_path / "out.wav"
    wav.write_wav(target, pcm, 24000)
    assert read_wav_stdlib(target) == (24000, 1, 2, pcm)
    with pytest.raises(UsageError, match="refusing to overwrite") as refused:
        wav.write_wav(target, b"\x00\x00", 24000)
    assert "--force" in (refused.value.hint or "")
    assert read_wav_stdlib(target)[3] == pcm  # untouched
    wav.write_wav(target, b"\x01\x00", 24000, force=True)
    assert read_wav_stdlib(target)[3] == b"\x01\x00"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # no temp file left


def test_resample_keeps_duration_both_ways():
    samples = array("h", tone(0.5, rate=24000))
    assert len(wav.resample(samples, 24000, 48000)) == 24000
    assert len(wav.resample(samples, 24000, 8000)) == 4000
