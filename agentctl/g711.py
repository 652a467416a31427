"""G.711 μ-law and A-law <-> PCM16, with the stdlib only.

The telephony encodings of the live protocol (`audio/pcmu`, `audio/pcma`, 8 kHz, one byte
a sample; voice-agent-api.md §7.9). `audioop` did this until Python 3.13 removed it; these
are the ITU-T G.711 reference algorithms, with lookup tables built on first use (decoding
is a 256-entry table, encoding a 64 Ki-entry table indexed by the 16-bit sample).
PCM16 is signed little-endian, as everywhere in agentctl.
"""

from __future__ import annotations

import sys
from array import array
from functools import cache

from agentctl.protocol import PCM, PCMA, PCMU

_BIAS = 0x84
_CLIP14 = 8159


def _ulaw_encode(sample: int) -> int:
    # On the 14-bit value, as CPython's audioop did (so the bytes match its output).
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, _CLIP14) + (_BIAS >> 2)
    exponent = max(value.bit_length() - 6, 0)
    if exponent >= 8:
        return 0x7F ^ mask
    return ((exponent << 4) | ((value >> (exponent + 1)) & 0x0F)) ^ mask


def _ulaw_decode(byte: int) -> int:
    byte = ~byte & 0xFF
    exponent = (byte >> 4) & 0x07
    magnitude = ((((byte & 0x0F) << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if byte & 0x80 else magnitude


def _alaw_encode(sample: int) -> int:
    sign = 0x00 if sample < 0 else 0x80  # A-law sets the bit for positive values
    magnitude = min(-sample - 1 if sample < 0 else sample, 32767) >> 3
    if magnitude < 0x20:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5  # 1..7
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def _alaw_decode(byte: int) -> int:
    byte ^= 0x55
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    base = (mantissa << 4) + 8
    magnitude = base if exponent == 0 else (base + 0x100) << (exponent - 1)
    return magnitude if byte & 0x80 else -magnitude


@cache
def _decode_table(encoding: str) -> tuple[bytes, ...]:
    decode = _ulaw_decode if encoding == PCMU else _alaw_decode
    return tuple(decode(b).to_bytes(2, "little", signed=True) for b in range(256))


@cache
def _encode_table(encoding: str) -> bytes:
    encode = _ulaw_encode if encoding == PCMU else _alaw_encode
    # Indexed by the sample as an unsigned 16-bit value (its two's complement).
    return bytes(encode(i - 65536 if i >= 32768 else i) for i in range(65536))


def encode(pcm16: bytes, encoding: str) -> bytes:
    """PCM16 little-endian -> `encoding` bytes (PCM passes through)."""
    if encoding == PCM:
        return pcm16
    _check(encoding)
    samples = array("H", pcm16[: len(pcm16) - len(pcm16) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return bytes(map(_encode_table(encoding).__getitem__, samples))


def decode(data: bytes, encoding: str) -> bytes:
    """`encoding` bytes -> PCM16 little-endian (PCM passes through)."""
    if encoding == PCM:
        return data
    _check(encoding)
    return b"".join(map(_decode_table(encoding).__getitem__, data))


def _check(encoding: str) -> None:
    if encoding not in (PCMU, PCMA):
        raise ValueError(f"unknown audio encoding {encoding!r}")
