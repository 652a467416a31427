"""The protocol's one spelling, the G.711 codec, and what the client makes of the
service's error codes."""

from __future__ import annotations

import subprocess
import sys
import warnings
from array import array

import pytest

from agentctl import g711
from agentctl import protocol as P
from agentctl.exit_codes import ExitCode
from agentctl.session import events as ev
from agentctl.session.runner import error_for_session_error


def test_the_protocol_module_is_stdlib_only_and_shared():
    code = ("import sys, agentctl.protocol, agentctl.g711; "
            "print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'websockets', 'starlette', 'yaml', 'rich', 'typer')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    # The client's names are the protocol's, not copies.
    assert ev.AGENT_DELTA is P.AGENT_DELTA and ev.REPLY_ERROR is P.REPLY_ERROR
    assert set(P.CLIENT_EVENTS).isdisjoint(P.SERVER_EVENTS)
    assert P.TERMINAL_CODES <= P.ERROR_CODES and len(P.ERROR_CODES) == 16


@pytest.mark.parametrize(("section", "expected"), [
    (None, ("audio/pcm", 24000)),
    ({"format": {"encoding": "audio/pcmu", "sample_rate": 8000}}, ("audio/pcmu", 8000)),
    ({"format": {"encoding": "audio/pcma"}}, ("audio/pcma", 8000)),
    ({"format": {"encoding": "audio/pcm", "sample_rate": 24000}}, ("audio/pcm", 24000)),
])
def test_audio_format(section, expected):
    assert P.audio_format(section) == expected


# -- G.711 -----------------------------------------------------------------------------------
# Reference values (ITU-T G.711, as audioop produced them).
ULAW = {0: 0xFF, -1: 0x7E, 1000: 0xCE, -1000: 0x4E, 32767: 0x80, -32768: 0x00}
ALAW = {0: 0xD5, -1: 0x55, 1000: 0xFA, -1000: 0x7A, 32767: 0xAA, -32768: 0x2A}


@pytest.mark.parametrize(("encoding", "table"), [("audio/pcmu", ULAW), ("audio/pcma", ALAW)])
def test_g711_known_values_and_round_trip(encoding, table):
    samples = array("h", list(table))
    assert list(g711.encode(samples.tobytes(), encoding)) == list(table.values())
    every = array("h", range(-32768, 32768, 7))
    back = array("h", g711.decode(g711.encode(every.tobytes(), encoding), encoding))
    # 8-bit logarithmic: within a step of the segment (about 1/16 of the value, >= 16).
    assert all(abs(a - b) <= max(abs(a) // 15, 16) + 8 for a, b in zip(every, back,
                                                                         strict=True))
    assert g711.decode(bytes(range(256)), encoding) == g711.decode(
        g711.encode(g711.decode(bytes(range(256)), encoding), encoding), encoding)


def test_g711_matches_audioop_where_python_still_has_it():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            pytest.skip("audioop is gone (Python 3.13+): the known values above stand")
    pcm = array("h", range(-32768, 32768)).tobytes()
    assert g711.encode(pcm, "audio/pcmu") == audioop.lin2ulaw(pcm, 2)
    assert g711.encode(pcm, "audio/pcma") == audioop.lin2alaw(pcm, 2)
    every = bytes(range(256))
    assert g711.decode(every, "audio/pcmu") == audioop.ulaw2lin(every, 2)
    assert g711.decode(every, "audio/pcma") == audioop.alaw2lin(every, 2)


def test_g711_pcm_passes_through_and_unknown_is_an_error():
    assert g711.encode(b"\x01\x02", "audio/pcm") == b"\x01\x02"
    with pytest.raises(ValueError):
        g711.decode(b"\x00", "audio/opus")


# -- session.error codes -> exit codes ----------------------------------------------------
EXPECTED_EXIT = {
    "unauthorized": ExitCode.AUTH, "session_forbidden": ExitCode.AUTH,
    "agent_not_found": ExitCode.NOT_FOUND,
    "session_not_found": ExitCode.UNAVAILABLE, "session_expired": ExitCode.UNAVAILABLE,
    "at_capacity": ExitCode.UNAVAILABLE, "concurrency_exceeded": ExitCode.UNAVAILABLE,
    "internal_error": ExitCode.UNAVAILABLE,
    "agent_id_not_first": ExitCode.REJECTED, "audio_rate_violation": ExitCode.REJECTED,
    "immutable_field": ExitCode.REJECTED, "invalid_audio": ExitCode.REJECTED,
    "invalid_config": ExitCode.REJECTED, "invalid_format": ExitCode.REJECTED,
    "invalid_value": ExitCode.REJECTED, "invalid_webhook": ExitCode.REJECTED,
}


def test_every_catalogue_code_has_an_exit_code():
    assert set(EXPECTED_EXIT) == P.ERROR_CODES


@pytest.mark.parametrize("code", sorted(EXPECTED_EXIT))
def test_a_session_error_keeps_the_services_message(code):
    error = error_for_session_error({"type": "session.error", "code": code,
                                     "message": "What the service said.",
                                     "param": "session.x"}, "connect")
    assert error.exit_code == EXPECTED_EXIT[code]
    assert error.message == f"connect: What the service said. [session.x] ({code})"


def test_an_unknown_code_is_a_refusal():
    error = error_for_session_error({"code": "brand_new", "message": "m"}, "connect")
    assert error.exit_code == ExitCode.REJECTED and error.message == "connect: m (brand_new)"
