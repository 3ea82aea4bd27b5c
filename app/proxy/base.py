"""What every proxy adapter returns or raises, and the protocol callers program against.

A forwarded certificate header carries only the *public* certificate. It is evidence of a
client certificate login only when it can have come from nowhere but the TLS-terminating
proxy (the handshake's CertificateVerify, RFC 8446 §4.4.3, proved possession of the key to
the proxy, not to us), and the certificate must still be re-validated by the application.
Adapters therefore only *decode*: they never decide who the user is and never trust the
proxy's verdict string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ErrorCode = Literal[
    "malformed",
    "duplicate_header",
    "ambiguous_header",
    "too_large",
    "not_a_certificate",
    "trailing_data",
    "chain_as_leaf",
    "foreign_header",
    "hash_mismatch",
    "cert_not_forwarded",
]

#: One message per code, safe to show to a user: they never contain header values.
_MESSAGES: dict[ErrorCode, str] = {
    "malformed": "The forwarded client certificate header is malformed.",
    "duplicate_header": "A client certificate header was sent more than once.",
    "ambiguous_header": (
        "A client certificate header name was spelled with underscores; "
        "proxies and servers disagree on whether that is the same header."
    ),
    "too_large": "The forwarded client certificate header is too large.",
    "not_a_certificate": "The forwarded value is not an X.509 certificate.",
    "trailing_data": "The forwarded certificate is followed by unexpected data.",
    "chain_as_leaf": "Several certificates were forwarded where exactly one was expected.",
    "foreign_header": (
        "The request carries a client certificate header of a proxy format "
        "other than the configured one."
    ),
    "hash_mismatch": "The forwarded certificate does not match the hash the proxy reported.",
    "cert_not_forwarded": (
        "The proxy reported a client certificate but did not forward the certificate itself."
    ),
}


class ProxyHeaderError(ValueError):
    """A forwarded certificate header that is present but cannot be accepted.

    Attributes:
        code: stable machine-readable reason, one of ``ErrorCode``; use it for audit rows.
        message: human-readable text that never echoes the header's value.
        header: the lower-case header name concerned, when the problem is about one header.
    """

    code: ErrorCode
    message: str
    header: str | None

    def __init__(
        self, code: ErrorCode, message: str | None = None, *, header: str | None = None
    ) -> None:
        self.code = code
        self.message = message if message is not None else _MESSAGES[code]
        self.header = header
        super().__init__(self.message)


@dataclass(frozen=True, kw_only=True)
class ForwardedCertificate:
    """A client certificate decoded from a proxy's headers. Nothing about it is verified.

    Attributes:
        leaf: the end-entity certificate the client presented.
        chain: further certificates the proxy forwarded, in the order received, without the
            leaf; never used as trust anchors.
        proxy_verify: the proxy's own verdict as sent (nginx ``SUCCESS``/``FAILED:...``,
            Apache ``GENEROUS``, HAProxy ``0``...). Informational only.
        leaf_der: the exact DER bytes of ``leaf`` as forwarded; pin on these.
    """

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    proxy_verify: str | None = None
    leaf_der: bytes

    def __post_init__(self) -> None:
        if self.leaf.public_bytes(Encoding.DER) != self.leaf_der:
            raise ValueError("leaf_der must be the DER encoding of leaf")


class CertificateSource(Protocol):
    """Turns the raw request headers into a forwarded certificate, or "no certificate"."""

    @property
    def name(self) -> str:
        """The format name, one of ``app.proxy.FORMATS``."""
        ...

    @property
    def header_names(self) -> tuple[str, ...]:
        """Lower-case names of the headers this source reads, certificate header first."""
        ...

    def extract(self, headers: Sequence[tuple[str, str]]) -> ForwardedCertificate | None:
        """Decode the certificate from ``(name, value)`` pairs exactly as received.

        Returns:
            The forwarded certificate, or None when the request carries no certificate.

        Raises:
            ProxyHeaderError: for anything else; no other exception ever escapes.
        """
        ...
