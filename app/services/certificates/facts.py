"""What Keystile stores and shows about a certificate: `describe` turns a parsed certificate into
`CertificateFacts` (pin, names, dates, key, the SAN e-mail addresses and UPNs that identity may be
mapped from), and `_extension` is the one way this package reads an optional extension.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ObjectIdentifier

from app.services.certificates.der import _utf8_string
from app.services.certificates.errors import _SIGNATURE_ERRORS, DECODE_ERRORS, _malformed
from app.services.certificates.keys import _spki_der, key_description

__all__ = ["UPN_OID", "CertificateFacts", "describe"]

#: Microsoft User Principal Name, an otherName in subjectAltName (RFC 5280 §4.2.1.6).
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
_E = TypeVar("_E", bound=x509.ExtensionType)


@dataclass(frozen=True)
class CertificateFacts:
    """What Keystile stores and shows about a certificate. Strings here came from the certificate:
    escape them on output (threat model F.27)."""

    spki_sha256: str
    spki_der: bytes
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    key_description: str
    san_emails: tuple[str, ...]
    san_upns: tuple[str, ...]
    der: bytes
    certificate: x509.Certificate = field(repr=False, compare=False)

    @cached_property
    def self_signed(self) -> bool:
        """Issuer equals subject *and* the signature verifies with the certificate's own key
        (RFC 5280 §3.2, §6.2). Worked out when asked: a sign-in does not need it, and the
        signature check costs more than the rest of :func:`describe`."""
        return _is_self_signed(self.certificate)


@lru_cache(maxsize=512)
def describe(cert: x509.Certificate) -> CertificateFacts:
    """Collect the facts Keystile stores about `cert` (kept for the certificates seen most
    recently: they are a function of its DER alone, and immutable).

    SAN values are taken verbatim, never from the
    subject DN (threat model B.10).

    Raises:
        CertificateError: ``malformed`` when a certificate that did not come from
            `load_certificate` fails to decode.
    """
    try:
        sans = _extension(cert, x509.SubjectAlternativeName)
        emails = tuple(sans.get_values_for_type(x509.RFC822Name)) if sans else ()
        upns: tuple[str, ...] = ()
        if sans:
            other_names = sans.get_values_for_type(x509.OtherName)
            decoded = (_utf8_string(o.value) for o in other_names if o.type_id == UPN_OID)
            upns = tuple(upn for upn in decoded if upn is not None)
        spki = _spki_der(cert)
        return CertificateFacts(
            spki_sha256=hashlib.sha256(spki).hexdigest(),
            spki_der=spki,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "X"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            key_description=key_description(cert.public_key()),
            san_emails=emails,
            san_upns=upns,
            der=cert.public_bytes(serialization.Encoding.DER),
            certificate=cert,
        )
    except DECODE_ERRORS:
        raise _malformed("The certificate could not be decoded.") from None


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except _SIGNATURE_ERRORS:  # bad signature or unusable key: "no"
        return False
    return True


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
