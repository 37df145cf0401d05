"""README's "PKI walkthrough", every marked block run as written with bash against a live server."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.conftest import CLI_VENV, REPO

pytestmark = pytest.mark.live

README = REPO / "README.md"
SECTION = "## PKI walkthrough"
FENCE = re.compile(r"^```", re.MULTILINE)
MARKED = re.compile(r"<!-- walkthrough:(\w+) ([\w-]+) -->\n```bash\n(.*?)```\n", re.DOTALL)
BLOCK_SEPARATOR = re.compile(r"\n?@@walkthrough-block ([\w-]+)@@\n")
VENV_BIN = Path(sys.executable).parent  # pkilint's console scripts live next to our interpreter

# Every `fastpki` command that the walkthrough must show working (issue 3, "Done means").
CLI_COMMANDS = {
    ("ca", "create"), ("ca", "list"), ("ca", "show"), ("ca", "chain"), ("ca", "children"),
    ("ca", "private-key"), ("ca", "delete"),
    ("cert", "create"), ("cert", "list"), ("cert", "show"), ("cert", "sign-csr"), ("cert", "revoke"),
    ("cert", "renew"), ("cert", "private-key"),
    ("export", "ca-cert"), ("export", "ca-key"), ("export", "cert"), ("export", "cert-key"),
    ("export", "cert-chain"),
}  # fmt: skip

# Put in front of the README's blocks: `fastpki` keeps working as before, and each call leaves
# its arguments, exit status, stdout and stderr in $WALK_LOG (a subshell of a pipeline too).
PRELUDE = r"""set -euo pipefail
fastpki() {
  local n rc=0
  n=$(wc -l < "$WALK_LOG/calls")
  echo >> "$WALK_LOG/calls"
  printf '%s\0' "$@" > "$WALK_LOG/$n.args"
  command fastpki "$@" > "$WALK_LOG/$n.out" 2> "$WALK_LOG/$n.err" || rc=$?
  echo "$rc" > "$WALK_LOG/$n.rc"
  cat "$WALK_LOG/$n.out"
  cat "$WALK_LOG/$n.err" >&2
  return "$rc"
}
"""

# Roots and intermediates (ECDSA from curl, RSA from the CLI), server, CSR-signed server, client
# and dual-purpose leaves; and the README's list of what pkilint still reports on them.
LINTED_CERTIFICATES = [
    "root.pem", "issuing.pem", "lab-root.pem", "lab-issuing.pem", "www.pem", "api.pem", "device.pem", "mesh.pem",
]  # fmt: skip
REMAINING_CERT_FINDINGS = {("INFO", "pkix.subject_key_identifier_method_1_identified")}


def readme_section() -> str:
    text = README.read_text()
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_blocks() -> list[tuple[str, str, str]]:
    """(kind, name, code) of each marked ```bash block, in document order."""
    return MARKED.findall(readme_section())


@dataclass
class Call:
    args: list[str]
    rc: int
    out: str
    err: str

    @property
    def command(self) -> tuple[str, str]:
        group, rest = self.args[0], self.args[1:]
        if rest[:1] in (["-o"], ["--output"]):  # the group's output option comes before the command
            rest = rest[2:]
        return group, rest[0]

    def json(self) -> Any:
        assert self.rc == 0, self
        return json.loads(self.out)


@dataclass
class Walkthrough:
    cwd: Path
    url: str
    stdout: dict[str, str]
    stderr: dict[str, str]
    calls: list[Call]

    def lines(self, block: str) -> list[str]:
        return self.stdout[block].strip("\n").splitlines()

    def file_json(self, name: str) -> Any:
        return json.loads((self.cwd / name).read_text())

    def cert(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.cwd / name).read_bytes())

    def find(self, group: str, command: str) -> list[Call]:
        return [call for call in self.calls if call.command == (group, command)]

    def one(self, group: str, command: str, *args: str) -> Call:
        found = [call for call in self.find(group, command) if all(a in call.args for a in args)]
        assert len(found) == 1, (group, command, args, found)
        return found[0]


def _split(output: str) -> dict[str, str]:
    parts = BLOCK_SEPARATOR.split(output)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.fixture
def walk(live_pkiserver, fastpki_exe, tmp_path) -> Walkthrough:
    """The whole section in one bash session (as a reader runs it), in an empty directory."""
    cwd, log = tmp_path / "walkthrough", tmp_path / "log"
    cwd.mkdir()
    log.mkdir()
    (log / "calls").write_text("")
    script = PRELUDE
    for _kind, name, code in readme_blocks():
        marker = f"@@walkthrough-block {name}@@"
        script += f"printf '\\n%s\\n' '{marker}'; printf '\\n%s\\n' '{marker}' >&2\n{code}"
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "TOKEN", "PKI")}
    env.update(
        PKI=live_pkiserver.url,
        WALK_LOG=str(log),
        XDG_CONFIG_HOME=str(cwd / ".config"),
        NO_COLOR="1",
        PATH=os.pathsep.join([str(CLI_VENV / "bin"), env["PATH"], str(VENV_BIN)]),
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        server_log = (live_pkiserver.data_dir / "server.log").read_text()
        pytest.fail(f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}\n{server_log[-3000:]}")
    count = len((log / "calls").read_text())  # one newline per call
    calls = [
        Call(
            args=(log / f"{n}.args").read_text().split("\0")[:-1],
            rc=int((log / f"{n}.rc").read_text()),
            out=(log / f"{n}.out").read_text(),
            err=(log / f"{n}.err").read_text(),
        )
        for n in range(count)
    ]
    return Walkthrough(cwd, live_pkiserver.url, _split(done.stdout), _split(done.stderr), calls)


def test_the_section_marks_every_shell_block_it_runs():
    section = readme_section()
    blocks = readme_blocks()
    names = [name for _, name, _ in blocks]
    assert len(names) == len(set(names)), names
    assert {kind for kind, _, _ in blocks} == {"curl", "cli", "lint"}
    assert len(FENCE.findall(section)) == 2 * len(blocks), "a ``` block of the section is not marked to run"
    assert any(code.startswith("PKI=${PKI:-http://localhost:8000}\n") for _, _, code in blocks)


def test_the_walkthrough_as_written(walk):
    """One test, so that parallel workers never run the walkthrough twice."""
    check_curl_part(walk)
    check_cli_part(walk)
    check_pkilint_findings(walk)


def check_curl_part(walk: Walkthrough) -> None:
    root, issuing = walk.file_json("root.json"), walk.file_json("issuing.json")
    www, api = walk.file_json("www.json"), walk.file_json("api.json")

    admin, pkiadmin = walk.lines("users")
    assert admin == "1 admin superuser"
    user_id, username, role, org_id = pkiadmin.split()
    assert (username, role, org_id) == ("pkiadmin", "admin", str(root["organization_id"]))

    # Root: ECDSA P-256, self-signed, CA extensions; the public PEM is the certificate we made.
    assert (root["key_algorithm"], root["key_size"], root["is_root"]) == ("ecdsa", 256, True)
    assert root["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert root["created_by_user_id"] == int(user_id)
    assert (walk.cwd / "root.pem").read_text() == root["certificate"]
    out = walk.stdout["root-ca"]
    assert "subject=C = US, O = Example Corp, CN = Example Root CA" in out
    assert "issuer=C = US, O = Example Corp, CN = Example Root CA" in out
    assert re.search(r"Basic Constraints: critical\n\s+CA:TRUE", out)
    assert re.search(r"Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign", out)

    # Intermediate: the chain goes up to the root, which no longer issues leaves.
    assert (issuing["parent_ca_id"], issuing["is_root"], issuing["slug"]) == (
        root["id"],
        False,
        f"example-issuing-ca-{issuing['id']}",
    )
    assert walk.lines("intermediate") == [
        f"{issuing['id']} Example Issuing CA false true",
        f"{root['id']} Example Root CA true false",
        f"{issuing['id']} Example Issuing CA",
    ]

    # Server certificate: SANs, EKU, CRL/OCSP URLs of the issuing CA on this server, chain verified.
    assert (www["san_dns_names"], www["san_ip_addresses"]) == (["www.example.com", "example.com"], ["192.0.2.10"])
    out = walk.stdout["server-cert"]
    lines = out.splitlines()
    assert lines[0] == "3"  # leaf, intermediate, root
    assert f"serial={openssl_serial(www['serial_number'])}" in lines
    assert "DNS:www.example.com, DNS:example.com, IP Address:192.0.2.10" in out
    assert "TLS Web Server Authentication" in out
    assert f"URI:{walk.url}/crl/{issuing['slug']}" in out
    assert f"OCSP - URI:{walk.url}/ocsp/{issuing['slug']}" in out
    assert f"CA Issuers - URI:{walk.url}/ca/{issuing['slug']}.crt" in out
    assert lines[-1] == "www.pem: OK"
    assert _public_key(walk.cwd / "www.key") == _cert_public_key(walk.cert("www.pem"))

    # CSR signed: subject and SANs from the CSR, no key stored or returned, chain verified.
    assert walk.lines("sign-csr") == ['O=Example Corp,CN=api.example.com ["api.example.com"] null', "api.pem: OK"]
    assert (api["issuer_id"], api["certificate_type"], api["valid_days"]) == (issuing["id"], "server", 30)
    assert _public_key(walk.cwd / "api.key") == _cert_public_key(walk.cert("api.pem"))

    # Before the revocation the CRL check passes; after it, the CRL lists the serial and the
    # reason, openssl refuses the certificate and OCSP says revoked.
    assert walk.lines("crl-before") == ["www.pem: OK"]
    assert walk.lines("revoke") == [f"{www['serial_number']} revoked key_compromise"]
    out = walk.stdout["crl-after"]
    assert "Issuer: C = US, O = Example Corp, CN = Example Issuing CA" in out
    assert re.search(r"X509v3 CRL Number: \n\s+\d+", out)
    assert re.search(
        rf"Serial Number: {openssl_serial(www['serial_number'])}\n.*\n.*\n.*CRL Reason Code: \n\s+Key Compromise", out
    )
    assert f"Serial Number: {openssl_serial(api['serial_number'])}" not in out
    assert "error 23 at 0 depth lookup: certificate revoked" in out
    assert "openssl verify exited with status 2" in out
    assert "Response verify OK" in out
    assert re.search(r"www\.pem: revoked\n(\s+.*\n)*?\s+Reason: keyCompromise", out)


def check_cli_part(walk: Walkthrough) -> None:
    assert {call.command for call in walk.calls} >= CLI_COMMANDS
    failed = [call for call in walk.calls if call.rc != 0]
    assert [(call.command, call.rc) for call in failed] == [(("ca", "delete"), 1)]
    assert "Error 409" in failed[0].err and "child CA" in failed[0].err
    assert walk.stdout["delete"].startswith("refused: it still has a child CA\n")

    assert f"server.url = {walk.url}" in walk.one("config", "set").out
    assert f"Logged in as pkiadmin at {walk.url}" in walk.one("auth", "login").out

    # CAs: RSA 2048 root and intermediate.
    root = walk.one("ca", "create", "Lab Root CA").json()
    issuing = walk.one("ca", "create", "Lab Issuing CA").json()
    assert (root["key_algorithm"], root["key_size"], root["is_root"], root["parent_ca_id"]) == ("rsa", 2048, True, None)
    assert (issuing["key_size"], issuing["parent_ca_id"], issuing["is_root"]) == (2048, root["id"], False)
    assert issuing["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    listed = walk.find("ca", "list")[0].json()
    assert [(ca["name"], ca["parent_ca_id"]) for ca in listed] == [
        ("Example Root CA", None),
        ("Example Issuing CA", listed[0]["id"]),
        ("Lab Root CA", None),
        ("Lab Issuing CA", root["id"]),
    ]
    shown = walk.one("ca", "show").json()
    assert {k: shown[k] for k in ("id", "name", "subject_dn", "certificate", "slug")} == {
        k: issuing[k] for k in ("id", "name", "subject_dn", "certificate", "slug")
    }
    assert "private_key" not in shown
    assert walk.lines("cas")[-3:] == [  # chain, then children
        f"{issuing['id']} Lab Issuing CA",
        f"{root['id']} Lab Root CA",
        f"{issuing['id']} Lab Issuing CA",
    ]
    assert [ca["id"] for ca in walk.one("ca", "chain").json()] == [issuing["id"], root["id"]]
    assert [ca["id"] for ca in walk.one("ca", "children").json()] == [issuing["id"]]
    with_key = walk.one("ca", "private-key").json()
    assert with_key["id"] == issuing["id"]
    assert _public_key(with_key["private_key"]) == _cert_public_key(_load(issuing["certificate"]))
    assert walk.file_json("lab-issuing-with-key.json") == with_key

    # Certificates: dual-purpose with SANs, then a client certificate from a CSR.
    mesh = walk.one("cert", "create").json()
    assert (mesh["certificate_type"], mesh["issuer_id"], mesh["status"]) == ("dual_purpose", issuing["id"], "valid")
    assert (mesh["san_dns_names"], mesh["san_ip_addresses"]) == (["mesh.example.com", "mesh.internal"], ["192.0.2.20"])
    assert _eku(_load(mesh["certificate"])) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert _public_key(mesh["private_key"]) == _cert_public_key(_load(mesh["certificate"]))
    assert [(c["id"], c["common_name"]) for c in walk.one("cert", "list").json()] == [
        (mesh["id"], "mesh.example.com"),
    ]  # sign-csr comes after the list
    shown = walk.one("cert", "show").json()
    assert (shown["id"], shown["status"], shown["serial_number"]) == (mesh["id"], "valid", mesh["serial_number"])
    assert "private_key" not in shown
    assert walk.one("cert", "private-key").json()["private_key"] == mesh["private_key"]

    device = walk.one("cert", "sign-csr").json()
    assert (device["common_name"], device["certificate_type"], device["issuer_id"]) == (
        "device-17",
        "client",
        issuing["id"],
    )
    assert (device["key_algorithm"], device["private_key"]) == ("ecdsa", None)
    assert _eku(walk.cert("device.pem")) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert _public_key(walk.cwd / "device.key") == _cert_public_key(walk.cert("device.pem"))

    # Renewal and revocation of the original, which the CRL now lists as superseded.
    renewed = walk.one("cert", "renew").json()
    assert renewed["renewed_from_id"] == mesh["id"]
    assert renewed["serial_number"] != mesh["serial_number"]
    assert (renewed["subject_dn"], renewed["san_dns_names"], renewed["certificate_type"]) == (
        mesh["subject_dn"],
        mesh["san_dns_names"],
        "dual_purpose",
    )
    assert renewed["private_key"] != mesh["private_key"]
    revoked = walk.one("cert", "revoke").json()
    assert (revoked["id"], revoked["status"], revoked["revocation_reason"]) == (mesh["id"], "revoked", "superseded")
    out = walk.stdout["renew-revoke"]
    assert f"Serial Number: {openssl_serial(mesh['serial_number'])}" in out
    assert re.search(r"CRL Reason Code: \n\s+Superseded", out)

    # Exports: the files are what the API returned, the chain verifies, the keys match.
    for command, target, filename in [
        ("ca-cert", root["id"], "lab-root.pem"),
        ("ca-cert", issuing["id"], "lab-issuing.pem"),
        ("ca-key", issuing["id"], "lab-issuing.key"),
        ("cert", renewed["id"], "mesh.pem"),
        ("cert-key", renewed["id"], "mesh.key"),
        ("cert-chain", renewed["id"], "mesh-chain.pem"),
    ]:
        call = walk.one("export", command, str(target), filename)
        assert call.out.strip() == f"Saved to {filename}"
    assert (walk.cwd / "lab-root.pem").read_text() == root["certificate"]
    assert (walk.cwd / "lab-issuing.key").read_text() == with_key["private_key"]
    assert (walk.cwd / "mesh.pem").read_text() == renewed["certificate"]
    assert (walk.cwd / "mesh.key").read_text() == renewed["private_key"]
    chain = [renewed["certificate"], issuing["certificate"], root["certificate"]]
    assert (walk.cwd / "mesh-chain.pem").read_text() == "".join(chain)
    assert walk.lines("export")[-3:] == [
        "mesh.pem: OK",
        "mesh.key matches mesh.pem",
        "lab-issuing.key is the CA's key",
    ]

    # Deletion: the intermediate, then the root; the curl walkthrough's CAs stay.
    deletes = walk.find("ca", "delete")
    assert [(call.rc, call.out.strip()) for call in deletes] == [
        (1, ""),
        (0, f"CA #{issuing['id']} deleted."),
        (0, f"CA #{root['id']} deleted."),
    ]
    assert [ca["name"] for ca in walk.find("ca", "list")[-1].json()] == ["Example Root CA", "Example Issuing CA"]


def check_pkilint_findings(walk: Walkthrough) -> None:
    certs = LINTED_CERTIFICATES
    assert walk.lines("lint")[: len(certs) + 2] == [
        *(f"{name}: nothing at NOTICE or above" for name in certs),
        "issuing.crl: no findings",
        "lab-issuing.crl: no findings",
    ]
    assert "pkix.subject_key_identifier_method_1_identified (INFO)" in walk.stdout["lint"]
    assert walk.lines("lint")[-1] == "lint_pkix_cert exited with status 1 (a finding at INFO)"

    # Down to INFO, over every certificate the walkthrough made, and both CRL profiles.
    for name in certs:
        assert _pkilint("lint_pkix_cert", walk.cwd / name) == REMAINING_CERT_FINDINGS, name
    for name in ["issuing.crl", "lab-issuing.crl"]:
        for profile in ("PKIX", "BR"):
            assert _pkilint("lint_crl", walk.cwd / name, "-t", "CRL", "-p", profile) == set(), (name, profile)
    for code in REMAINING_CERT_FINDINGS:
        assert f"`{code[1]}` ({code[0]})" in readme_section()


def _pkilint(tool: str, path: Path, *options: str) -> set[tuple[str, str]]:
    done = subprocess.run(
        [str(VENV_BIN / tool), "lint", *options, "-s", "DEBUG", "-f", "CSV", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    rows = csv.DictReader(io.StringIO(done.stdout))
    return {(row["severity"], row["code"]) for row in rows}


def openssl_serial(serial: str) -> str:
    """A serial as openssl prints it: whole bytes in uppercase hex (the API drops leading zeros)."""
    digits = f"{int(serial, 16):X}"
    return digits.zfill(len(digits) + len(digits) % 2)


def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _public_key(key: str | Path) -> bytes:
    pem = key.read_bytes() if isinstance(key, Path) else key.encode()
    private = serialization.load_pem_private_key(pem, password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _cert_public_key(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
