"""CA mode: `ClientCAVerifier` trusts only the configured CA bundle, validates the path from a
client certificate to it with `cryptography.x509.verification` (webpki profiles, relaxed where
RFC 5280 allows it for private client-certificate CAs), applies Keystile's leaf and CA-mode
policy, then checks every certificate below the anchor against the configured CRLs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from app.services.certificates.crl import _CrlStore
from app.services.certificates.errors import CertificateError, ErrorCode
from app.services.certificates.facts import _extension
from app.services.certificates.parsing import MAX_INPUT_BYTES, _parse_der_certificate
from app.services.certificates.pem import _CERTIFICATE_LABEL, pem_blocks
from app.services.certificates.policy import _day, check_ca_mode_policy, check_leaf_policy

__all__ = ["ClientCAVerifier"]


def _ca_key_usage(_policy: Policy, _cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    # RFC 5280 §6.1.4 (n): a CA's keyUsage, *if present*, must assert keyCertSign.
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("a CA's keyUsage must assert keyCertSign")


#: The webpki profiles of `cryptography.x509.verification` (CA/B Forum rules for the public web)
#: with three deviations for private client-certificate CAs, which RFC 5280 path validation
#: (§6.1) allows: a CA may omit keyUsage (``openssl req -x509`` does; §6.1.4 (n) checks it only
#: when present), a leaf may omit subjectAltName (holders named only in the subject) and
#: authorityKeyIdentifier (a path-building hint, §4.2.1.1). The leaf's extendedKeyUsage is left
#: to `check_ca_mode_policy`, which runs once the chain is trusted and names the precise reason.
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage
)
_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
)
_MAX_INTERMEDIATES = 8


class ClientCAVerifier:
    """Verify client certificates against a configured CA bundle and CRLs (threat model B.8-B.9).

    Only the bundle is trusted: `cryptography`'s verifier never consults system or public roots,
    and nothing is fetched (no AIA, no CRL distribution point, no OCSP URL from a certificate).

    When CRLs are configured, *every* certificate below the trust anchor must be covered by a
    current CRL from its issuer, whose signature verifies with that issuer's key: configure the
    CRL of each CA in the bundle (and of each intermediate clients present). Anything else fails
    closed. With no CRLs configured, revocation is not checked at all.

    Args:
        ca_bundle: PEM with one or more CA certificates (``basicConstraints cA=TRUE``) and
            nothing else.
        crls: PEM or DER CRLs, one per item.

    Raises:
        CertificateError: ``bad_ca_bundle``, ``crl_malformed`` or ``crl_unsupported`` (a delta,
            indirect or reason-partitioned CRL, or an unknown critical extension).
    """

    def __init__(self, ca_bundle: bytes, crls: Sequence[bytes] = ()) -> None:
        self._roots = _load_ca_bundle(ca_bundle)
        self._store = Store(list(self._roots))
        self._crls = _CrlStore(crls)

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    @property
    def crls(self) -> tuple[x509.CertificateRevocationList, ...]:
        return tuple(entry.crl for entry in self._crls.entries)

    def verify(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        *,
        now: datetime,
    ) -> list[x509.Certificate]:
        """Verify `leaf` for sign-in and return the chain, leaf first, trust anchor last.

        Order: Keystile's leaf policy first (precise messages for expired, weak, SHA-1, CA
        leaves), then path validation (RFC 5280 §6.1) by `cryptography.x509.verification` with
        the webpki profile, then the CA-mode EKU/key usage checks (so a certificate from an
        unknown issuer is reported as such), then revocation (§6.3).
        `intermediates` are untrusted path-building hints, such as a forwarded chain.

        Raises:
            CertificateError: any leaf-policy code, ``untrusted_issuer``, ``expired`` (an
                expired CA in the chain), ``revoked``, ``crl_missing``, ``crl_stale``,
                ``crl_bad_signature``, ``crl_unsupported``.
            ValueError: `now` is naive.
        """
        check_leaf_policy(leaf, now=now)
        chain = self._build_chain(leaf, intermediates, now)
        check_ca_mode_policy(leaf)
        if self._crls.entries:
            for cert, issuer in itertools.pairwise(chain):
                self._crls.check_not_revoked(cert, issuer, is_leaf=cert is chain[0], now=now)
        return chain

    def _build_chain(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], now: datetime
    ) -> list[x509.Certificate]:
        if len(intermediates) > _MAX_INTERMEDIATES:
            raise CertificateError(ErrorCode.UNTRUSTED_ISSUER, "The certificate chain is too long.")
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(now)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        try:
            return verifier.verify(leaf, list(intermediates)).chain
        except VerificationError:
            self._raise_if_issuer_expired(leaf, intermediates, now)
            raise CertificateError(
                ErrorCode.UNTRUSTED_ISSUER,
                "This certificate was not issued by a certificate authority this site trusts.",
            ) from None

    def _raise_if_issuer_expired(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], now: datetime
    ) -> None:
        """Name expiry as the reason when every candidate issuer on the way up is out of date.

        Runs only after verification already failed, to pick the message; it matches names,
        not signatures, so it never makes a certificate acceptable.
        """
        pool = [*intermediates, *self._roots]
        current = leaf
        for _ in range(_MAX_INTERMEDIATES + 1):
            issuers = [c for c in pool if c.subject == current.issuer and c is not current]
            if not issuers:
                return
            valid = [c for c in issuers if c.not_valid_before_utc <= now <= c.not_valid_after_utc]
            if not valid:
                latest = max(c.not_valid_after_utc for c in issuers)
                verb = "expired on" if latest < now else "is not valid before"
                raise CertificateError(
                    ErrorCode.EXPIRED,
                    f"A certificate authority in this certificate's chain {verb} {_day(latest)}.",
                )
            current = valid[0]
            if any(current is root for root in self._roots):
                return


def _load_ca_bundle(data: bytes) -> tuple[x509.Certificate, ...]:
    if len(data) > 16 * MAX_INPUT_BYTES:
        raise CertificateError(ErrorCode.BAD_CA_BUNDLE, "The CA bundle is too large.")
    try:
        blocks = pem_blocks(data)
        if not blocks or any(label != _CERTIFICATE_LABEL for label, _ in blocks):
            raise CertificateError(
                ErrorCode.BAD_CA_BUNDLE,
                "The CA bundle must hold PEM certificates and nothing else.",
            )
        roots = tuple(_parse_der_certificate(der) for _, der in blocks)
    except CertificateError as error:
        raise CertificateError(ErrorCode.BAD_CA_BUNDLE, error.message) from None
    for root in roots:
        # Trust-store confusion (CVE-2023-1664): a user's certificate in the bundle would become
        # a trust anchor for whatever its key signs. RFC 5280 §4.2.1.9.
        constraints = _extension(root, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise CertificateError(
                ErrorCode.BAD_CA_BUNDLE,
                "The CA bundle holds a certificate that is not a CA: "
                f"{root.subject.rfc4514_string()}",
            )
    return roots
