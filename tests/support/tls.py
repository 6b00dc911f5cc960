"""A throwaway certificate authority and a server certificate for 127.0.0.1 and
localhost, made at test time: what an inspecting corporate proxy's CA looks like to a
client. Nothing here is trusted by certifi, so a client trusting certifi refuses it."""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class LoopbackPki:
    ca_file: Path  # the CA certificate (PEM): what SSL_CERT_FILE points at
    ca_dir: Path  # the same certificate as <subject hash>.0: what SSL_CERT_DIR points at
    server_context: ssl.SSLContext  # a TLS server context presenting the signed cert


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_pki(directory: Path) -> LoopbackPki:
    """A CA and a server certificate signed by it, valid around the real time (TLS
    checks the wall clock, not ``SOURCE_DATE_EPOCH``), with the extensions a strict
    verifier (Python 3.13's default flags) requires."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aiops test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "test-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(
        server_cert.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_dir = directory / "certs"
    ca_dir.mkdir()
    (ca_dir / f"{_subject_hash(ca_name)}.0").write_bytes(ca_file.read_bytes())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return LoopbackPki(ca_file, ca_dir, context)


def _subject_hash(name: x509.Name) -> str:
    """OpenSSL's ``X509_NAME_hash`` (``openssl x509 -hash``), the file name a hashed
    certificate directory looks a CA up by: SHA-1 of the name's canonical DER (values
    lower-cased, runs of spaces collapsed, without the outer SEQUENCE), first four bytes
    little-endian. Enough for the one-attribute UTF8String names made here."""
    canonical = x509.Name(
        [x509.NameAttribute(a.oid, " ".join(str(a.value).lower().split())) for a in name]
    ).public_bytes()
    assert canonical[0] == 0x30 and canonical[1] < 0x80  # short-form SEQUENCE header
    digest = hashlib.sha1(canonical[2:]).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"
