"""Real certificates and the wire encoding of every proxy format, for the adapter tests."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

Headers = list[tuple[str, str]]
#: (PEM label, DER bytes); DER formats concatenate the bytes and ignore the labels.
Blocks = Sequence[tuple[str, bytes]]


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pem_text(blocks: Blocks) -> str:
    """PEM armour exactly as OpenSSL writes it: 64-column lines, a newline after each block."""
    parts = []
    for label, data in blocks:
        body = "\n".join(textwrap.wrap(b64(data), 64))
        parts.append(f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    return "".join(parts)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: str | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    ca: bool = False,
    serial: int = 0x7E,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )


@dataclass(frozen=True)
class Pki:
    """A CA, a leaf it signed, a self-signed certificate and things that are not certificates."""

    ca: x509.Certificate
    leaf: x509.Certificate
    self_signed: x509.Certificate
    csr_der: bytes
    key_der: bytes

    @property
    def leaf_der(self) -> bytes:
        return der(self.leaf)

    @property
    def ca_der(self) -> bytes:
        return der(self.ca)

    @property
    def negative_serial_der(self) -> bytes:
        """The leaf with its serial 0x7E patched to -127 (the signature no longer matters)."""
        pattern = bytes.fromhex("a00302010202017e")  # version v3, then INTEGER 0x7E
        data = self.leaf_der
        at = data.index(pattern) + len(pattern) - 1
        return data[:at] + b"\x81" + data[at + 1 :]


def _make_pki() -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    own_key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name("alice"))
        .sign(leaf_key, hashes.SHA256())
    )
    return Pki(
        ca=_certificate("Keystile Test CA", ca_key, ca=True, serial=1),
        leaf=_certificate("alice", leaf_key, issuer="Keystile Test CA", issuer_key=ca_key),
        self_signed=_certificate("bob's own key", own_key, serial=0x1234),
        csr_der=csr.public_bytes(Encoding.DER),
        key_der=leaf_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()),
    )


@pytest.fixture(scope="session")
def pki() -> Pki:
    return _make_pki()


def _concatenated(blocks: Blocks) -> bytes:
    return b"".join(data for _, data in blocks)


def _xfcc(blocks: Blocks) -> str:
    first = blocks[0][1] if blocks else b""
    return (
        f"By=spiffe://proxy.example;Hash={hashlib.sha256(first).hexdigest()};"
        f'Cert={quote(pem_text(blocks), safe="")};Subject="CN=alice,O=Example";'
        "URI=spiffe://alice.example"
    )


#: How each format's proxy puts certificates on the wire, with a successful verdict.
_ENCODERS: dict[str, Callable[[Blocks], Headers]] = {
    "nginx": lambda blocks: [
        ("X-SSL-Client-Cert", quote(pem_text(blocks), safe="")),
        ("X-SSL-Client-Verify", "SUCCESS"),
    ],
    "apache": lambda blocks: [
        ("X-SSL-Client-Cert", pem_text(blocks).replace("\n", " ")),
        ("X-SSL-Client-Verify", "SUCCESS"),
    ],
    "haproxy": lambda blocks: [
        ("X-SSL-Client-Used", "1"),
        ("X-SSL-Client-DER", b64(_concatenated(blocks))),
        ("X-SSL-Client-Verify", "0"),
    ],
    "caddy": lambda blocks: [("X-SSL-Client-Cert-DER", b64(_concatenated(blocks)))],
    "envoy": lambda blocks: [("X-Forwarded-Client-Cert", _xfcc(blocks))],
    "traefik": lambda blocks: [
        ("X-Forwarded-Tls-Client-Cert", ",".join(b64(data) for _, data in blocks))
    ],
    "aws-alb": lambda blocks: [
        ("X-Amzn-Mtls-Clientcert-Leaf", quote(pem_text(blocks), safe="+=/"))
    ],
    "rfc9440": lambda blocks: [("Client-Cert", f":{b64(_concatenated(blocks))}:")],
}


class Wire:
    """Encoders shared by the test modules, handed out by the ``wire`` fixture."""

    der = staticmethod(der)
    b64 = staticmethod(b64)
    pem_text = staticmethod(pem_text)
    formats = tuple(_ENCODERS)

    @staticmethod
    def encode(fmt: str, blocks: Blocks) -> Headers:
        """Headers as ``fmt``'s proxy sends them for these blocks, verdict "success"."""
        return _ENCODERS[fmt](blocks)

    @staticmethod
    def encode_certificate(fmt: str, certificate: x509.Certificate) -> Headers:
        return _ENCODERS[fmt]([("CERTIFICATE", der(certificate))])

    @staticmethod
    def certificate_value(fmt: str, certificate: x509.Certificate) -> str:
        """The value of the format's certificate header alone."""
        (value,) = (
            value
            for name, value in _ENCODERS[fmt]([("CERTIFICATE", der(certificate))])
            if name.lower() not in _COMPANIONS
        )
        return value


_COMPANIONS = {"x-ssl-client-verify", "x-ssl-client-used"}


@pytest.fixture(scope="session")
def wire() -> Wire:
    return Wire()
