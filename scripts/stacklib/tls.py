"""A private certificate authority for the local stack: a CA, a server certificate for
127.0.0.1/localhost (Kafka's SASL_SSL listener, PostgreSQL's TLS) and a client certificate
(mutual TLS), all PEM, made with the `openssl` command line. Dev and tests only: the CA's key
sits next to it, unencrypted."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .common import StackError, require_tool

DAYS = "3650"


@dataclass(frozen=True)
class Pki:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def server_bundle(self) -> Path:
        """Key then certificate chain in one PEM file (Kafka's PEM keystore)."""
        return self.folder / "server-bundle.pem"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"


def ensure_pki(folder: Path) -> Pki:
    """Create the CA and certificates once (kept across restarts: clients trust the same CA)."""
    pki = Pki(folder)
    if pki.server_bundle.exists() and pki.client_cert.exists():
        return pki
    openssl = require_tool("openssl", "install OpenSSL (Debian: apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
          "-subj", "/CN=kafka-orchestrator local CA", "-keyout", str(pki.ca_key),
          "-out", str(pki.ca), "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"]  # fmt: skip
    _run(ca)
    server_ext = (
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _issue(openssl, pki, "localhost", pki.server_key, pki.server_cert, server_ext)
    _issue(
        openssl,
        pki,
        "orchestrator",
        pki.client_key,
        pki.client_cert,
        "extendedKeyUsage=clientAuth\n",
    )
    pki.server_bundle.write_text(pki.server_key.read_text() + pki.server_cert.read_text())
    for path in (pki.ca_key, pki.server_key, pki.client_key, pki.server_bundle):
        path.chmod(0o600)
    return pki


def _issue(openssl: str, pki: Pki, name: str, key: Path, cert: Path, ext: str) -> None:
    csr = key.with_suffix(".csr")
    ext_file = key.with_suffix(".ext")
    ext_file.write_text(ext)
    _run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
          "-keyout", str(key), "-out", str(csr)])  # fmt: skip
    _run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(pki.ca), "-CAkey", str(pki.ca_key),
          "-CAcreateserial", "-days", DAYS, "-extfile", str(ext_file), "-out", str(cert)])  # fmt: skip
    csr.unlink()
    ext_file.unlink()


def _run(cmd: list[str]) -> None:
    done = subprocess.run(
        cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        raise StackError(f"openssl failed ({' '.join(cmd[:3])} ...): {reason[0]}")
