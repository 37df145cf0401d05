"""Real TLS handshakes on 127.0.0.1 with certificates and keys exported through the API (SPEC §7, §8)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certificates.models import CertificateAuthority

TIMEOUT = 10
API = "/api/v1/certificates/"
EXPORT = "/api/v1/export"


def issue(client, ca: CertificateAuthority, common_name: str, certificate_type: str, **extra) -> dict:
    body = {
        "common_name": common_name,
        "subject_dn": f"CN={common_name},O=Acme",
        "certificate_type": certificate_type,
        "key_algorithm": "ecdsa",
        **extra,
    }
    response = client.post(f"{API}?ca_id={ca.pk}", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def download(client, path: str, target: Path) -> Path:
    response = client.get(path)
    assert response.status_code == 200, path
    target.write_bytes(response.content)
    return target


class Server:
    """Accepts one TLS connection on an ephemeral port in a thread, echoes one message."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.peer: dict[str, Any] | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(TIMEOUT)
            with self.context.wrap_socket(conn, server_side=True) as tls:
                self.peer = tls.getpeercert()
                tls.sendall(b"echo:" + tls.recv(1024))
        except (ssl.SSLError, OSError) as exc:
            self.error = exc
        finally:
            self.listener.close()

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the TLS server thread did not finish"


def talk(context: ssl.SSLContext, port: int, server_hostname: str) -> tuple[bytes, str | None, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(b"ping")
            return tls.recv(1024), tls.version(), tls.getpeercert()


def client_context(root: Path) -> ssl.SSLContext:
    """Trusts only `root` (no system store) and checks the host name."""
    context = ssl.create_default_context(cafile=str(root))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    return context


def server_context(chain: Path, key: Path, client_root: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(chain), str(key))
    if client_root is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_root))
    return context


def subject_cn(peer: dict) -> str:
    return next(value for rdn in peer["subject"] for key, value in rdn if key == "commonName")


@pytest.fixture
def pki(make_ca, admin_a, api, tmp_path) -> dict[str, Any]:
    """Root -> issuing CA, and the root certificate file a relying party trusts."""
    root = make_ca(admin_a, "TLS Root")
    issuing = make_ca(admin_a, "TLS Issuing", parent=root)
    root_file = download(api, f"{EXPORT}/ca/{root.pk}/certificate", tmp_path / "root.pem")
    return {"root": root, "issuing": issuing, "root_file": root_file}


@pytest.fixture
def exported(api, tmp_path) -> Callable[[dict], tuple[Path, Path]]:
    """The chain and key files of an issued certificate, as downloaded from the export API."""

    def files(cert: dict) -> tuple[Path, Path]:
        chain = download(api, f"{EXPORT}/certificate/{cert['id']}/chain", tmp_path / f"{cert['id']}-chain.pem")
        key = download(api, f"{EXPORT}/certificate/{cert['id']}/private-key", tmp_path / f"{cert['id']}-key.pem")
        return chain, key

    return files


@pytest.mark.parametrize(
    ("key_algorithm", "key_size"), [("ecdsa", None), ("rsa", 2048), ("ed25519", None)], ids=["ecdsa", "rsa", "ed25519"]
)
@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_server_certificate_handshake(api, pki, exported, key_algorithm, key_size, hostname):
    cert = issue(
        api, pki["issuing"], "localhost", "server", key_algorithm=key_algorithm, key_size=key_size,
        san_ip_addresses=["127.0.0.1"],
    )  # fmt: skip
    server = Server(server_context(*exported(cert)))

    reply, version, peer = talk(client_context(pki["root_file"]), server.port, hostname)

    server.join()
    assert server.error is None, server.error
    assert reply == b"echo:ping"
    assert version in ("TLSv1.2", "TLSv1.3")
    assert subject_cn(peer) == "localhost"
    assert ("DNS", "localhost") in peer["subjectAltName"] and ("IP Address", "127.0.0.1") in peer["subjectAltName"]


def test_hostname_outside_the_sans_is_refused(api, pki, exported):
    cert = issue(api, pki["issuing"], "localhost", "server")
    server = Server(server_context(*exported(cert)))

    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match|IP address mismatch"):
        talk(client_context(pki["root_file"]), server.port, "127.0.0.1")  # no IP SAN was asked for

    server.join()
    assert server.error is not None


def test_a_client_trusting_another_root_refuses(make_ca, admin_a, api, pki, exported, tmp_path):
    cert = issue(api, pki["issuing"], "localhost", "server")
    other = make_ca(admin_a, "Unrelated Root")
    other_file = download(api, f"{EXPORT}/ca/{other.pk}/certificate", tmp_path / "other.pem")
    server = Server(server_context(*exported(cert)))

    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        talk(client_context(other_file), server.port, "localhost")

    server.join()


@pytest.mark.parametrize("client_type", ["client", "dual_purpose"])
def test_mutual_tls(api, pki, exported, client_type):
    server_cert = issue(api, pki["issuing"], "localhost", "server")
    client_cert = issue(api, pki["issuing"], "alice@example.com", client_type)
    server = Server(server_context(*exported(server_cert), client_root=pki["root_file"]))
    context = client_context(pki["root_file"])
    context.load_cert_chain(*map(str, exported(client_cert)))

    reply, _, _ = talk(context, server.port, "localhost")

    server.join()
    assert server.error is None, server.error
    assert reply == b"echo:ping"
    assert server.peer is not None and subject_cn(server.peer) == "alice@example.com"
    if client_type == "client":
        assert server.peer["subjectAltName"] == (("email", "alice@example.com"),)


def _refused(server: Server, context: ssl.SSLContext) -> None:
    """The server refuses the client: TLS 1.3 reports it on the client's first read."""
    with pytest.raises((ssl.SSLError, ConnectionError)):
        talk(context, server.port, "localhost")
    server.join()
    assert isinstance(server.error, ssl.SSLError), server.error


def test_mutual_tls_without_a_client_certificate_is_refused(api, pki, exported):
    server_cert = issue(api, pki["issuing"], "localhost", "server")
    server = Server(server_context(*exported(server_cert), client_root=pki["root_file"]))

    _refused(server, client_context(pki["root_file"]))
    assert "certificate" in str(server.error).lower()
    assert server.peer is None


def test_a_server_only_certificate_cannot_authenticate_a_client(api, pki, exported):
    server_cert = issue(api, pki["issuing"], "localhost", "server")
    wrong = issue(api, pki["issuing"], "impostor.example.com", "server")  # EKU serverAuth only
    server = Server(server_context(*exported(server_cert), client_root=pki["root_file"]))
    context = client_context(pki["root_file"])
    context.load_cert_chain(*map(str, exported(wrong)))

    _refused(server, context)
    assert "unsuitable certificate purpose" in str(server.error)


def test_a_revoked_client_certificate_is_refused_with_the_crl(api, anon, pki, exported, tmp_path):
    server_cert = issue(api, pki["issuing"], "localhost", "server")
    client_cert = issue(api, pki["issuing"], "bob@example.com", "client")
    assert api.post(f"{API}{client_cert['id']}/revoke", {"reason": "key_compromise"}, format="json").status_code == 200
    crl = tmp_path / "crl.pem"
    crl.write_bytes(anon.get(f"/crl/{pki['issuing'].slug}.pem").content)
    context = server_context(*exported(server_cert), client_root=pki["root_file"])
    context.load_verify_locations(cafile=str(crl))
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    client = client_context(pki["root_file"])
    client.load_cert_chain(*map(str, exported(client_cert)))

    server = Server(context)
    _refused(server, client)
    assert "certificate revoked" in str(server.error)
