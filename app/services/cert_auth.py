"""Certificate sign-in: validate a presented certificate, map it to a user, audit the outcome.

Plain Python: the caller says which certificate the TLS handshake (or the trusted proxy)
presented. Identity comes only from the verified leaf, by an unambiguous rule: the SHA-256
of its SubjectPublicKeyInfo matching one live pin, or, in CA mode when configured, an exact
SAN e-mail / UPN equal to one user's verified address. Never a pattern over a DN string
(threat model B.7-B.10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, User
from app.models.base import Executor
from app.services import credentials
from app.services.audit import Client, Event, Identified, record
from app.services.certificates import (
    CertificateError,
    CertificateFacts,
    ClientCAVerifier,
    check_leaf_policy,
    describe,
)
from app.services.notices import NULL_MAILER, Mailer
from app.services.policy import CertSunset, SunsetStage
from app.services.stored import (
    Account,
    StoredCertificate,
    accounts_by_verified_email,
    find_certificate,
)


@dataclass(frozen=True)
class CertificatePolicy:
    """How certificates are judged: pinned keys only, or a chain to configured issuers."""

    verifier: ClientCAVerifier | None = None  #: CA mode when set
    mapping: str = "pin"  #: pin | email | upn (the last two need CA mode)
    sunset: CertSunset = field(default_factory=CertSunset)  #: KEYSTILE_CERT_SUNSET

    @property
    def ca_mode(self) -> bool:
        return self.verifier is not None


@dataclass
class CertificateMatch:
    """What a presented certificate means: who it belongs to, or why it was refused."""

    facts: CertificateFacts
    #: the pin's owner as the sign-in read it, or the user a CA-mode SAN names
    user: Account | None = None
    #: the pin, as the sign-in read it (None: no pin yet)
    credential: StoredCertificate | None = None
    #: machine-readable reason when there is no usable match
    reason: str | None = None
    #: a sentence for the person at the browser
    message: str | None = None
    #: True when the certificate is valid but not (yet) linked to any account
    linkable: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.user is not None and self.reason is None

    @property
    def summary(self) -> str:
        """``CN=alice, issued by CN=Example CA`` for "Continue as ..." prompts."""
        return f"{self.facts.subject}, issued by {self.facts.issuer}"


def audit_details(facts: CertificateFacts) -> dict[str, Any]:
    return {
        "spki_sha256": facts.spki_sha256,
        "serial": facts.serial,
        "issuer": facts.issuer[:300],
        "subject": facts.subject[:300],
    }


def validate(
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    *,
    policy: CertificatePolicy,
    now: datetime,
) -> None:
    """Raise CertificateError unless the certificate passes the configured checks."""
    if policy.verifier is not None:
        policy.verifier.verify(cert, chain, now=now)
    else:
        check_leaf_policy(cert, now=now, allow_self_signed_ca=True)


def _user_by_san(db: Executor, facts: CertificateFacts, mapping: str) -> list[Account]:
    """Users whose verified address is exactly a SAN value of the certificate, ignoring
    only ASCII case (threat model B.10).

    Unicode case folding would make different names equal (``\u212a`` KELVIN SIGN folds to
    ``k``, ``\u017f`` LONG S to ``s``), so a name a CA issued to one person could reach
    another's account; non-ASCII values, on either side, match nobody.
    """
    values = facts.san_emails if mapping == "email" else facts.san_upns
    wanted = {v.lower() for v in values if v.isascii()}
    if not wanted:
        return []
    return [
        account
        for account, email in accounts_by_verified_email(db, wanted)
        if email.isascii() and email.lower() in wanted
    ]


def identify(
    db: Executor,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    *,
    policy: CertificatePolicy,
    now: datetime,
) -> CertificateMatch:
    """Validate ``cert`` and find whose it is. Never raises for a bad certificate."""
    facts = describe(cert)
    match = CertificateMatch(facts=facts, details=audit_details(facts))
    try:
        validate(cert, chain, policy=policy, now=now)
    except CertificateError as exc:
        match.reason, match.message = str(exc.code), exc.message
        return match
    cred = find_certificate(db, facts.spki_sha256)
    if cred is not None:
        # Named even when refused, so that the refusal's audit row names them (F.27); a
        # match with a reason is never ``ok``.
        match.user, match.credential = cred.user, cred
        if cred.revoked_at is not None:
            match.reason = "revoked_pin"
            match.message = "This certificate was removed from its account and cannot be used."
        elif not cred.user.is_active:
            match.reason = "account_disabled"
            match.message = "This certificate's account is disabled."
        return _apply_sunset(match, policy, now)
    if policy.ca_mode and policy.mapping in {"email", "upn"}:
        users = _user_by_san(db, facts, policy.mapping)
        if len(users) == 1 and users[0].is_active:
            match.user = users[0]
            return _apply_sunset(match, policy, now)
    match.reason = "unknown_certificate"
    match.linkable = True
    match.message = (
        "This certificate is not linked to an account. Sign in another way, "
        "then link it from your account page."
    )
    return match


def pinning_closed(policy: CertificatePolicy, now: datetime) -> bool:
    """Past the sunset's grace period no new certificate may be linked either."""
    return policy.sunset.stage(now) is SunsetStage.REFUSED


def _apply_sunset(
    match: CertificateMatch, policy: CertificatePolicy, now: datetime
) -> CertificateMatch:
    """Past the sunset's grace period a known certificate is refused, with guidance; the
    user and credential stay on the match so the audit row names them."""
    if match.reason is None and policy.sunset.stage(now) is SunsetStage.REFUSED:
        match.reason = "certificate_sunset"
        match.message = policy.sunset.refusal_message()
    return match


def certificate_credential(
    facts: CertificateFacts, *, source: str, proven: bool, label: str = ""
) -> Credential:
    """A new, unsaved certificate credential (``credentials.add`` stores it)."""
    return Credential(
        kind=CredentialKind.CERTIFICATE,
        lookup_key=facts.spki_sha256,
        public_key=facts.spki_der,
        certificate_der=facts.der,
        subject=facts.subject[:1024],
        issuer=facts.issuer[:1024],
        serial=facts.serial[:64],
        not_before=facts.not_before,
        not_after=facts.not_after,
        source=source,
        proven=proven,
        label=credentials.clean_label(label),
        details={"key": facts.key_description, "self_signed": facts.self_signed},
    )


def complete_sign_in(
    db: Session,
    match: CertificateMatch,
    *,
    client: Client,
    now: datetime,
    mailer: Mailer = NULL_MAILER,
) -> Credential | StoredCertificate | None:
    """Audit a certificate sign-in attempt; on success note the use (the caller commits with
    the new session). A SAN-mapped first use pins the key to the user in the same step."""
    cred = accept(db, match, client=client, now=now, mailer=mailer)
    if cred is not None and match.user is not None:
        record_success(db, match.user, cred, client=client, now=now, details=match.details)
    return cred


def record_success(
    db: Session,
    user: Identified,
    cred: Credential | StoredCertificate,
    *,
    client: Client,
    now: datetime,
    details: dict[str, Any],
) -> None:
    """The one audit row of a certificate sign-in that succeeded, and the credential's use
    (the caller commits with the new session)."""
    if isinstance(cred, Credential):  # loaded: kept up to date too
        credentials.record_sign_in(db, cred, client=client, now=now)
    else:
        credentials.record_use(
            db,
            credential_id=cred.id,
            user_id=user.id,
            client=client,
            now=now,
            sign_count=None,
            backup_state=None,
        )
    record(
        db,
        Event.CERTIFICATE_SUCCESS,
        client=client,
        success=True,
        user=user,
        credential=cred,
        method="certificate",
        details=details,
    )


def accept(
    db: Session,
    match: CertificateMatch,
    *,
    client: Client,
    now: datetime,
    mailer: Mailer = NULL_MAILER,
) -> Credential | StoredCertificate | None:
    """The credential a matched certificate signs in with, or None after auditing (and
    committing) the refusal. A SAN-mapped first use pins the key to the user; a handshake
    marks the pin proven. The success itself is for :func:`record_success` to audit, when
    the sign-in really happens (explicit mode: only once its code comes back)."""
    if not match.ok or match.user is None:
        record(
            db,
            Event.CERTIFICATE_FAILURE,
            client=client,
            success=False,
            user=match.user,
            credential=match.credential,
            method="certificate",
            reason=match.reason,
            details=match.details,
        )
        db.commit()
        return None
    pin = match.credential
    if pin is not None and pin.proven and pin.certificate_der == match.facts.der:
        return pin  # the common case: nothing to change
    if pin is None:
        user = db.get_one(User, match.user.id)
        cred = credentials.add(
            db,
            certificate_credential(match.facts, source="ca-first-use", proven=True),
            user=user,
            client=client,
            now=now,
            mailer=mailer,
        )
    else:
        cred = db.get_one(Credential, pin.id)
    if not cred.proven or cred.certificate_der != match.facts.der:
        # A handshake proved the key (RFC 8446 §4.4.3); keep the newest certificate for it.
        cred.proven = True
        cred.certificate_der = match.facts.der
        cred.not_before, cred.not_after = match.facts.not_before, match.facts.not_after
        cred.serial, cred.subject = match.facts.serial[:64], match.facts.subject[:1024]
    return cred


def live_certificates(db: Session, user_id: int) -> list[Credential]:
    return list(
        db.scalars(
            select(Credential)
            .where(
                Credential.user_id == user_id,
                Credential.kind == CredentialKind.CERTIFICATE,
                Credential.revoked_at.is_(None),
            )
            .order_by(Credential.id)
        )
    )


class PolicySource:
    """Builds the certificate policy from the configured files, again whenever they change
    (``keystile ca crl`` or a cron job rewrites the CRL while Keystile runs)."""

    def __init__(
        self, *, client_ca: str, crls: Sequence[str], mapping: str, sunset: CertSunset | None = None
    ) -> None:
        self.client_ca = client_ca
        self.crls = tuple(crls)
        self.mapping = mapping
        self.sunset = sunset or CertSunset()
        self._stamp: tuple[float, ...] | None = None
        self._policy = CertificatePolicy(mapping=mapping, sunset=self.sunset)

    def _mtimes(self) -> tuple[float, ...]:
        from pathlib import Path

        return tuple(Path(p).stat().st_mtime for p in (self.client_ca, *self.crls) if p)

    def policy(self) -> CertificatePolicy:
        """The current policy. A file that cannot be read or parsed fails closed."""
        if not self.client_ca:
            return self._policy
        from pathlib import Path

        try:
            stamp = self._mtimes()
            if stamp != self._stamp:
                verifier = ClientCAVerifier(
                    Path(self.client_ca).read_bytes(), [Path(c).read_bytes() for c in self.crls]
                )
                self._policy = CertificatePolicy(
                    verifier=verifier, mapping=self.mapping, sunset=self.sunset
                )
                self._stamp = stamp
        except (OSError, CertificateError):
            self._stamp = None
            self._policy = CertificatePolicy(
                verifier=_REFUSE_ALL, mapping=self.mapping, sunset=self.sunset
            )
        return self._policy


class _RefuseAll(ClientCAVerifier):
    """Stands in when the CA bundle or a CRL cannot be loaded: nothing verifies."""

    def __init__(self) -> None:
        pass

    def verify(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        *,
        now: datetime,
    ) -> list[x509.Certificate]:
        from app.services.certificates import ErrorCode

        raise CertificateError(
            ErrorCode.CRL_MISSING, "Certificate checking is unavailable; sign in another way."
        )


_REFUSE_ALL = _RefuseAll()
