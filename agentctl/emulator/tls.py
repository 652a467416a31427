"""A certificate for `emulator serve --tls`: self-signed, made at start by the `openssl` tool.

The service is https only, so the client's https path (the CA bundle, the handshake) is
worth exercising locally. The certificate is made with the `openssl` command (~15 ms) rather
than a Python package: every Linux and macOS box has the tool, and the only package that
could do it (`cryptography`) would be a new, large dependency for a test server. The
certificate is its own CA (basic constraints CA:TRUE, key usage keyCertSign) so that a
client can trust exactly it: `--ca-cert PATH` or `$AGENTCTL_CA_BUNDLE`.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

from agentctl.errors import UsageError

DAYS = 30  # a fresh pair is made at every start; a month covers a long-lived server


def make_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """(certificate, key) PEM files in `directory`, for loopback names and `host`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise UsageError("--tls needs the openssl command to make a certificate, and it "
                         "is not on PATH", hint="install OpenSSL, or serve plain http")
    names = {"IP:127.0.0.1", "IP:::1", "DNS:localhost"}
    if host and host not in ("0.0.0.0", "::"):
        try:
            names.add(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            names.add(f"DNS:{host}")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "emulator-cert.pem", directory / "emulator-key.pem"
    part_cert, part_key = cert.with_suffix(".pem.part"), key.with_suffix(".pem.part")
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(part_key), "-out", str(part_cert), "-days", str(DAYS),
        "-subj", "/CN=agentctl emulator",
        "-addext", "subjectAltName=" + ",".join(sorted(names)),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext", "extendedKeyUsage=serverAuth",
    ]
    old_umask = os.umask(0o077)  # the key is readable by its owner only
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--tls: openssl could not make a certificate: {exc}") from None
    finally:
        os.umask(old_umask)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UsageError(f"--tls: openssl could not make a certificate: {reason}")
    os.replace(part_key, key)
    os.replace(part_cert, cert)  # last: a reader never sees a certificate without its key
    return cert, key
