"""Real TLS handshakes on 127.0.0.1 with issued certificates, server-only and mutual."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509

from certificates.x509 import CertificateType, build_sans, chain_pem, private_key_to_pem

from .conftest import KeyPool
from .helpers import Issued, make_leaf, write

TIMEOUT = 10


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str
) -> tuple[dict[str, object], str | None]:
    """Run one exchange; returns what the server saw and the client's error, if any."""
    seen: dict[str, object] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)

        def serve() -> None:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    seen["peer"] = tls.getpeercert()
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError) as exc:
                seen["error"] = str(exc)
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        error = None
        try:
            with socket.create_connection(listener.getsockname(), timeout=TIMEOUT) as raw:
                with client.wrap_socket(raw, server_hostname=server_hostname) as tls:
                    assert tls.recv(2) == b"ok"
        except (ssl.SSLError, OSError) as exc:
            error = str(exc)
        thread.join(TIMEOUT)
    return seen, error


def context(purpose: ssl.Purpose, tmp_path: Path, trust: Issued) -> ssl.SSLContext:
    ctx = ssl.create_default_context(purpose, cafile=str(write(tmp_path / f"trust-{purpose.shortname}.pem", trust.pem)))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def load_identity(
    ctx: ssl.SSLContext, tmp_path: Path, name: str, cert: x509.Certificate, issuer: Issued, key: object
) -> None:
    chain = write(tmp_path / f"{name}.pem", chain_pem([cert, issuer.cert]))
    key_file = write(tmp_path / f"{name}.key", private_key_to_pem(key))  # type: ignore[arg-type]
    ctx.load_cert_chain(str(chain), str(key_file))


@pytest.fixture
def tls(tmp_path: Path, keys: KeyPool, now: datetime, root: Issued, intermediate: Issued) -> dict[str, object]:
    server_cert = make_leaf(
        intermediate,
        keys.get("tls-server"),
        now,
        cn="localhost",
        sans=build_sans(CertificateType.SERVER, "localhost", ips=["127.0.0.1"]),
    )
    server = context(ssl.Purpose.CLIENT_AUTH, tmp_path, root)
    load_identity(server, tmp_path, "server", server_cert, intermediate, keys.get("tls-server"))
    client = context(ssl.Purpose.SERVER_AUTH, tmp_path, root)
    return {"server": server, "client": client}


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_server_authentication(tls: dict[str, ssl.SSLContext], hostname: str) -> None:
    seen, error = handshake(tls["server"], tls["client"], hostname)
    assert error is None and "error" not in seen


def test_wrong_hostname_is_refused(tls: dict[str, ssl.SSLContext]) -> None:
    _, error = handshake(tls["server"], tls["client"], "other.example")
    assert error is not None and "Hostname mismatch" in error


@pytest.mark.parametrize("kind", [CertificateType.CLIENT, CertificateType.DUAL_PURPOSE])
def test_mutual_tls(
    tmp_path: Path,
    keys: KeyPool,
    now: datetime,
    intermediate: Issued,
    tls: dict[str, ssl.SSLContext],
    kind: CertificateType,
) -> None:
    client_cert = make_leaf(
        intermediate, keys.get("tls-client", "rsa"), now, certificate_type=kind, cn="alice@example.com"
    )
    tls["server"].verify_mode = ssl.CERT_REQUIRED
    load_identity(tls["client"], tmp_path, "client", client_cert, intermediate, keys.get("tls-client", "rsa"))
    seen, error = handshake(tls["server"], tls["client"], "localhost")
    assert error is None, seen
    peer = seen["peer"]
    assert isinstance(peer, dict)
    assert (("commonName", "alice@example.com"),) in peer["subject"]


def test_mutual_tls_refuses_a_server_certificate_as_client(
    tmp_path: Path, keys: KeyPool, now: datetime, intermediate: Issued, tls: dict[str, ssl.SSLContext]
) -> None:
    wrong = make_leaf(
        intermediate, keys.get("tls-client"), now, certificate_type=CertificateType.SERVER, cn="bob.example"
    )
    tls["server"].verify_mode = ssl.CERT_REQUIRED
    load_identity(tls["client"], tmp_path, "client", wrong, intermediate, keys.get("tls-client"))
    seen, _ = handshake(tls["server"], tls["client"], "localhost")
    assert "unsuitable certificate purpose" in str(seen.get("error"))
