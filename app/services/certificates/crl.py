"""Certificate revocation lists (RFC 5280 §5, §6.3): `_load_crl` accepts only complete, direct
CRLs, and `_CrlStore` holds the configured ones and checks a certificate against the newest CRL
that covers it, refusing when that CRL is missing, out of date or not signed by the certificate's
issuer. Nothing is ever fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from app.services.certificates.errors import (
    _SIGNATURE_ERRORS,
    DECODE_ERRORS,
    CertificateError,
    ErrorCode,
    _malformed,
)
from app.services.certificates.facts import _E, _extension
from app.services.certificates.parsing import MAX_INPUT_BYTES
from app.services.certificates.pem import _BEGIN, pem_blocks
from app.services.certificates.policy import _day


@dataclass(frozen=True)
class _Crl:
    crl: x509.CertificateRevocationList
    revoked: dict[int, datetime]
    number: int
    scope: x509.IssuingDistributionPoint | None


class _CrlStore:
    """The configured CRLs, and the revocation check a verified chain goes through against them."""

    def __init__(self, crls: Sequence[bytes]) -> None:
        self.entries = tuple(_load_crl(data) for data in crls)
        self._signature_checked: dict[tuple[int, bytes], bool] = {}

    def check_not_revoked(
        self, cert: x509.Certificate, issuer: x509.Certificate, *, is_leaf: bool, now: datetime
    ) -> None:
        entry = self._current_crl(cert, issuer, now)
        revoked_at = entry.revoked.get(cert.serial_number)
        if revoked_at is None:
            return
        if is_leaf:
            message = f"This certificate was revoked on {_day(revoked_at)}."
        else:
            message = "A certificate authority in this certificate's chain was revoked."
        raise CertificateError(ErrorCode.REVOKED, message)

    def _current_crl(self, cert: x509.Certificate, issuer: x509.Certificate, now: datetime) -> _Crl:
        """Pick the newest CRL that covers `cert` (RFC 5280 §6.3.3 (a)-(b), (f)-(g))."""
        named = [entry for entry in self.entries if entry.crl.issuer == issuer.subject]
        for entry in named:
            # §6.3.3 (f)-(g): the CRL must be signed by the certificate's own issuer, whose key
            # usage (if present) allows cRLSign. A CRL naming the issuer but signed by another
            # key is a misconfiguration or a forgery: fail closed rather than skip it.
            if not self._signed_by(entry, issuer):
                raise CertificateError(
                    ErrorCode.CRL_BAD_SIGNATURE,
                    "A configured revocation list is not signed by the certificate authority "
                    "it names, so revocation cannot be checked.",
                )
        covering = [entry for entry in named if _in_scope(entry, cert)]
        if not covering:
            raise CertificateError(
                ErrorCode.CRL_MISSING,
                "No revocation list is configured for the certificate authority that issued "
                "this certificate, so revocation cannot be checked.",
            )
        newest = max(covering, key=lambda entry: (entry.number, entry.crl.last_update_utc))
        next_update = newest.crl.next_update_utc
        # §5.1.2.4-§5.1.2.5, §6.3.3 (a)(2): use a CRL only inside thisUpdate..nextUpdate. A CRL
        # without nextUpdate has no promised freshness and counts as stale.
        if next_update is None or next_update < now or newest.crl.last_update_utc > now:
            raise CertificateError(
                ErrorCode.CRL_STALE,
                "The revocation list for this certificate's authority is out of date, so "
                "revocation cannot be checked.",
            )
        return newest

    def _signed_by(self, entry: _Crl, issuer: x509.Certificate) -> bool:
        cache_key = (id(entry), issuer.fingerprint(hashes.SHA256()))
        cached = self._signature_checked.get(cache_key)
        if cached is None:
            cached = _crl_signature_ok(entry.crl, issuer)
            self._signature_checked[cache_key] = cached
        return cached


def _crl_signature_ok(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        key_usage = _extension(issuer, x509.KeyUsage)
        if key_usage is not None and not key_usage.crl_sign:
            return False
        if isinstance(crl.signature_hash_algorithm, hashes.SHA1 | hashes.MD5):
            return False
        public_key = issuer.public_key()
        if not isinstance(
            public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            return False
        return crl.is_signature_valid(public_key)
    except _SIGNATURE_ERRORS:  # unusable key or algorithm: "not signed"
        return False


def _in_scope(entry: _Crl, cert: x509.Certificate) -> bool:
    """RFC 5280 §6.3.3 (b)(2): does a CRL with an issuingDistributionPoint cover `cert`?"""
    scope = entry.scope
    if scope is None:
        return True
    constraints = _extension(cert, x509.BasicConstraints)
    is_ca = constraints is not None and constraints.ca
    if (scope.only_contains_user_certs and is_ca) or (scope.only_contains_ca_certs and not is_ca):
        return False
    if scope.full_name is None:
        return True
    # A partitioned CRL covers only certificates whose cRLDistributionPoints name it. The names
    # are compared, never fetched.
    points = _extension(cert, x509.CRLDistributionPoints) or ()
    names = {name for point in points for name in (point.full_name or ())}
    return any(name in names for name in scope.full_name)


def _load_crl(data: bytes) -> _Crl:
    if len(data) > 256 * MAX_INPUT_BYTES:
        raise CertificateError(ErrorCode.CRL_MALFORMED, "A revocation list is too large.")
    try:
        if data.lstrip().startswith(_BEGIN):
            blocks = pem_blocks(data)
            if len(blocks) != 1 or blocks[0][0] != "X509 CRL":
                raise _malformed("Expected one PEM 'X509 CRL' block.")
            data = blocks[0][1]
        crl = x509.load_der_x509_crl(data)
        revoked = {entry.serial_number: entry.revocation_date_utc for entry in crl}
        extensions = crl.extensions
        entry_critical = any(ext.critical for entry in crl for ext in entry.extensions)
        _ = (crl.issuer, crl.last_update_utc, crl.next_update_utc, crl.signature_hash_algorithm)
    except CertificateError as error:
        raise CertificateError(ErrorCode.CRL_MALFORMED, error.message) from None
    except DECODE_ERRORS:
        raise CertificateError(
            ErrorCode.CRL_MALFORMED, "A revocation list could not be decoded."
        ) from None
    unsupported = entry_critical or any(
        isinstance(ext.value, x509.DeltaCRLIndicator)
        or (ext.critical and isinstance(ext.value, x509.UnrecognizedExtension))
        for ext in extensions
    )
    scope = _crl_extension(extensions, x509.IssuingDistributionPoint)
    if scope is not None and (
        scope.indirect_crl
        or scope.only_some_reasons
        or scope.only_contains_attribute_certs
        or scope.relative_name is not None
    ):
        unsupported = True
    if unsupported:
        # RFC 5280 §5.2: a CRL with a critical extension we do not process must not be used;
        # delta (§5.2.4), indirect and reason-partitioned CRLs (§5.2.5) are not complete on
        # their own, so Keystile does not take them.
        raise CertificateError(
            ErrorCode.CRL_UNSUPPORTED,
            "Keystile accepts only complete, direct revocation lists (no delta, indirect or "
            "reason-partitioned CRLs, no unknown critical extensions).",
        )
    number = _crl_extension(extensions, x509.CRLNumber)
    return _Crl(crl=crl, revoked=revoked, number=number.crl_number if number else -1, scope=scope)


def _crl_extension(extensions: x509.Extensions, kind: type[_E]) -> _E | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
