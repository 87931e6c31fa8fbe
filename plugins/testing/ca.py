"""A throwaway certificate authority for the local identity provider, on trustme.

:func:`create_tls_files` writes, into a directory of your choice:

- ``ca.pem``: the self-signed CA certificate (give it to clients: ``ssl_verify=<ca.pem>``);
- ``server.pem``: a server certificate for ``IP:127.0.0.1``, ``IP:::1`` and ``DNS:localhost``
  signed by that CA, followed by the CA certificate;
- ``server-key.pem``: the server's private key (0600);
- with ``client_name``: ``client.pem`` and ``client-key.pem`` (0600), a client certificate
  (subject ``O=anaconda-auth testing, CN=<client_name>``, client-auth extended key usage
  only) signed by the same CA, for servers that require mutual TLS.

trustme makes the CA and the server certificate, with the extensions strict verifiers
(Python 3.13's ``VERIFY_X509_STRICT``, browsers) require. Its leaf certificates are good for
any purpose and name no common name, so the client certificate is signed here, with the
CA's key, to carry the subject and the single extended key usage that mutual-TLS tests check.

The CA key is never written anywhere: nothing else can ever be signed by this CA once the
function returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANIZATION = "anaconda-auth testing"
SERVER_IDENTITIES = ("127.0.0.1", "::1", "localhost")


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    """Paths of the files written by :func:`create_tls_files`."""

    ca_path: Path
    cert_path: Path
    key_path: Path
    #: The client certificate and its key, when ``client_name`` was given.
    client_cert_path: Path | None = None
    client_key_path: Path | None = None


@dataclasses.dataclass(frozen=True)
class _Validity:
    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def for_days(cls, days: int) -> _Validity:
        """From a few minutes ago (clock skew between test processes) to ``days`` ahead."""
        now = dt.datetime.now(tz=dt.timezone.utc)
        return cls(now - dt.timedelta(minutes=5), now + dt.timedelta(days=days))


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only, from the moment the file exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fp:
        fp.write(data)


def _client_certificate(
    ca: trustme.CA, common_name: str, validity: _Validity
) -> tuple[bytes, bytes]:
    """PEM certificate and PEM key of a client-auth-only certificate signed by ``ca``."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # pragma: no cover
        raise TypeError(f"unexpected CA key type {type(ca_key).__name__}")
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity.not_before)
        .not_valid_after(validity.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def create_tls_files(directory: Path, *, days: int = 2, client_name: str | None = None) -> TLSFiles:
    """Generate a CA and a 127.0.0.1/localhost server certificate into ``directory``, and with
    ``client_name`` a client certificate of that common name.

    ``days`` bounds the certificates the CA signs; the CA itself may outlive them, but its key
    is gone once this returns.
    """
    directory.mkdir(parents=True, exist_ok=True)
    validity = _Validity.for_days(days)
    ca = trustme.CA(path_length=0, organization_name=ORGANIZATION)
    ca_pem = ca.cert_pem.bytes()
    server = ca.issue_cert(
        *SERVER_IDENTITIES,
        common_name="localhost",
        organization_name=ORGANIZATION,
        not_before=validity.not_before,
        not_after=validity.not_after,
    )
    files = TLSFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_path.write_bytes(ca_pem)
    files.cert_path.write_bytes(server.cert_chain_pems[0].bytes() + ca_pem)
    _write_private(files.key_path, server.private_key_pem.bytes())
    if client_name is None:
        return files
    client_cert, client_key = directory / "client.pem", directory / "client-key.pem"
    cert_pem, key_pem = _client_certificate(ca, client_name, validity)
    client_cert.write_bytes(cert_pem + ca_pem)
    _write_private(client_key, key_pem)
    return dataclasses.replace(files, client_cert_path=client_cert, client_key_path=client_key)
