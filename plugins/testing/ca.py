"""A throwaway certificate authority for the local identity provider.

:func:`create_tls_files` writes, into a directory of your choice:

- ``ca.pem``: the self-signed CA certificate (give it to clients: ``ssl_verify=<ca.pem>``);
- ``server.pem``: a server certificate for ``IP:127.0.0.1``, ``IP:::1`` and ``DNS:localhost``
  signed by that CA;
- ``server-key.pem``: the server's private key (0600);
- with ``client_name``: ``client.pem`` and ``client-key.pem`` (0600), a client certificate
  (common name ``client_name``, client-auth extended key usage) signed by the same CA, for
  servers that require mutual TLS.

The CA key is never written anywhere: nothing else can ever be signed by this CA once the
function returns. The certificates carry the extensions strict verifiers (Python 3.13's
``VERIFY_X509_STRICT``, browsers) require: critical basic constraints and key usage, subject
and authority key identifiers, and the server-auth (client-auth) extended key usage.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    """Paths of the files written by :func:`create_tls_files`."""

    ca_path: Path
    cert_path: Path
    key_path: Path
    #: The client certificate and its key, when ``client_name`` was given.
    client_cert_path: Path | None = None
    client_key_path: Path | None = None


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "anaconda-auth testing"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fp:
        fp.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def create_tls_files(directory: Path, *, days: int = 2, client_name: str | None = None) -> TLSFiles:
    """Generate a CA and a 127.0.0.1/localhost server certificate into ``directory``, and with
    ``client_name`` a client certificate of that common name."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(tz=dt.timezone.utc)
    not_before = now - dt.timedelta(minutes=5)
    not_after = now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("anaconda-auth throwaway test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)

    def leaf(
        common_name: str,
        usage: x509.ObjectIdentifier,
        names: list[x509.GeneralName],
        cert_path: Path,
        key_path: Path,
    ) -> None:
        """Sign a certificate for a new key; write it (followed by the CA) and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = (
            builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        _write_key(key_path, key)

    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_pem)
    files = TLSFiles(ca_path, directory / "server.pem", directory / "server-key.pem")
    localhost: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ]
    leaf("localhost", ExtendedKeyUsageOID.SERVER_AUTH, localhost, files.cert_path, files.key_path)
    if client_name is None:
        return files
    client_cert, client_key = directory / "client.pem", directory / "client-key.pem"
    leaf(client_name, ExtendedKeyUsageOID.CLIENT_AUTH, [], client_cert, client_key)
    return dataclasses.replace(files, client_cert_path=client_cert, client_key_path=client_key)
