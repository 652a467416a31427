"""Small pure parts of sessions/numbers/webhooks: codecs, E.164, signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from agentctl.api.platform import check_e164, verify_signature
from agentctl.emulator.sessions import RECORDING_RATE, decode_audio, resample
from agentctl.emulator.webhooks import sign
from agentctl.errors import RejectedError, UsageError


def test_g711_decoding_matches_the_standard_tables():
    assert list(decode_audio(bytes([0xFF, 0x7F, 0x00, 0x80]), "audio/pcmu")) == [
        0, 0, -32124, 32124]
    assert list(decode_audio(bytes([0xD5, 0x55, 0xAA, 0x2A]), "audio/pcma")) == [
        8, -8, 32256, -32256]
    assert list(decode_audio(b"\x01\x00\xff\x7f\x05", "audio/pcm")) == [1, 32767]


def test_resampling_to_the_recording_rate_keeps_the_duration():
    samples = decode_audio(bytes(8000), "audio/pcmu")  # 1 s at 8 kHz
    assert len(resample(samples, 8000)) == RECORDING_RATE
    assert resample(samples, RECORDING_RATE) is samples


def test_e164_with_a_hint_to_remove_separators():
    assert check_e164(" +14155550100 ") == "+14155550100"
    with pytest.raises(UsageError) as caught:
        check_e164("+1 (415) 555-0100")
    assert caught.value.hint == "write it as +14155550100"


def test_signatures_sign_and_verify_per_the_reference():
    body, secret = b'{"event":"session.completed"}', "k" * 32
    header = sign(secret, 1_700_000_000, body)
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify_signature(header, body, secret, now=1_700_000_100) == 1_700_000_000
    # several v1 entries (a rotation): one matching is enough
    assert verify_signature(f"t=1700000000,v1=00,v1={expected}", body, secret,
                            now=1_700_000_000)
    for header_, now, text in ((header, 1_700_000_301, "old"),
                               (header, 1_699_999_000, "in the future"),
                               ("t=x,v1=00", 0, "malformed")):
        with pytest.raises(RejectedError, match=text):
            verify_signature(header_, body, secret, now=now)
    with pytest.raises(RejectedError, match="does not match"):
        verify_signature(header, body + b" ", secret, now=1_700_000_000)
