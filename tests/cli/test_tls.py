"""https against the emulator: `emulator serve --tls` makes a certificate the client can trust."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from agentctl.emulator import server
from agentctl.emulator.tls import make_certificate
from tests.conftest import TEST_KEY, agent_yaml, run_cli

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def tls_emulator(tmp_path, monkeypatch):
    cert, key = make_certificate(tmp_path / "tls")
    running = server.start(port=0, db_path=tmp_path / "tls.sqlite3", tls=(cert, key))
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    monkeypatch.setenv("AGENTCTL_RETRY_ATTEMPTS", "5")
    try:
        yield running, cert
    finally:
        running.stop()
    assert running.errors == []


def test_a_trusted_certificate_works(tls_emulator, write, monkeypatch):
    running, cert = tls_emulator
    assert running.base_url.startswith("https://127.0.0.1:")
    run_cli("--ca-cert", str(cert), "create", "-f", write("a.yaml", agent_yaml("secure")))
    monkeypatch.setenv("AGENTCTL_CA_BUNDLE", str(cert))
    assert run_cli("list", "-o", "name").stdout.split() == ["secure"]


def test_an_untrusted_certificate_fails_at_once_with_exit_7(tls_emulator):
    running, _ = tls_emulator
    result = run_cli("list", exit_code=7)
    assert result.stderr.splitlines()[0] == (
        "error: the certificate of 127.0.0.1 is not trusted (self-signed certificate)")
    assert "--ca-cert" in result.stderr and "Traceback" not in result.stderr
    assert running.requests == []  # nothing was sent, and no retries were made


def test_a_certificate_of_someone_else_is_refused(tls_emulator, tmp_path):
    other, _ = make_certificate(tmp_path / "other")
    result = run_cli("--ca-cert", str(other), "list", exit_code=7)
    assert "is not trusted" in result.stderr


@pytest.mark.parametrize(("given", "message"), [
    ("missing.pem", "no such certificate file"), ("not-pem.txt", "cannot read certificates"),
])
def test_a_bad_ca_file_is_a_usage_error(tls_emulator, tmp_path, given, message):
    (tmp_path / "not-pem.txt").write_text("hello\n")
    result = run_cli("--ca-cert", str(tmp_path / given), "list", exit_code=2)
    assert message in result.stderr


def test_emulator_serve_tls_prints_its_certificate(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTCTL_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from agentctl.cli import main; main()", "emulator", "serve",
         "--tls", "--port", "0", "--db", str(tmp_path / "e.sqlite3")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        first = proc.stderr.readline()
        second = proc.stderr.readline()
        url = first.split("listening on ", 1)[1].split()[0]
        cert = second.split("TLS certificate: ", 1)[1].split()[0]
        assert url.startswith("https://127.0.0.1:") and cert == str(tmp_path / "emulator-cert.pem")
        run_cli("--base-url", url, "--api-key", TEST_KEY, "--ca-cert", cert, "list")
        assert oct(os.stat(tmp_path / "emulator-key.pem").st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        proc.stderr.close()


def test_connect_over_wss_trusts_the_same_ca_cert(tmp_path, monkeypatch, write):
    """The live session (wss) takes --ca-cert like the REST client: the emulator's own
    certificate is trusted when given, and refused in one line (exit 7) when not."""
    from tests.session.wavgen import utterances, wav_file

    cert, key = make_certificate(tmp_path / "tls")
    running = server.start(port=0, db_path=tmp_path / "wss.sqlite3", tls=(cert, key),
                           live={"speed": 50.0})
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    speech = wav_file(tmp_path / "q.wav", utterances(("s", 0.3), ("t", 1.0), ("s", 0.3)))
    try:
        run_cli("--ca-cert", str(cert), "create", "-f", write("a.yaml", agent_yaml("wss")))
        talked = run_cli("--ca-cert", str(cert), "connect", "wss", "--audio-in", str(speech),
                         "--speed", "20")
        assert "agent: I heard 1.0 seconds of speech." in talked.stdout
        # inline (-f): no REST request first, so the WebSocket's own check is what fails
        refused = run_cli("connect", "-f", write("b.yaml", agent_yaml("inline")),
                          "--audio-in", str(speech), "--speed", "20", exit_code=7)
    finally:
        running.stop()
    assert running.errors == []
    assert refused.stderr.splitlines()[0] == (
        "error: connect: the certificate of 127.0.0.1 is not trusted (self-signed certificate)")
    assert "--ca-cert" in refused.stderr
    assert "Traceback" not in refused.stderr
