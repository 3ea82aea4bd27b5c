"""Credential policies as pure decisions: the certificate sunset, the hardware-key rule and
the step-up before credential changes.

No database and no Flask: the callers (certificate sign-in, the account page's migration
notice, the admin dashboard) pass in the facts, so every date boundary is a table test.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.models import Credential, CredentialKind, Strength

#: attestation trust values that prove what the authenticator is (app.services.webauthn)
ATTESTED = "verified"


class SunsetStage(enum.IntEnum):
    """Where certificate sign-in stands against ``KEYSTILE_CERT_SUNSET``."""

    NONE = 0  #: no sunset configured
    ANNOUNCED = 1  #: the date is set but not reached: users are told when it ends
    ASK_TO_MOVE = 2  #: past the date: sign-in works, users are asked to move
    REFUSED = 3  #: past the grace period: certificate sign-in is refused with guidance


@dataclass(frozen=True)
class CertSunset:
    """``KEYSTILE_CERT_SUNSET`` and ``KEYSTILE_CERT_SUNSET_GRACE_DAYS``.

    Dates are whole UTC days: the sunset starts at 00:00 UTC of ``starts_on``; refusal starts at
    00:00 UTC ``grace_days`` later.
    """

    starts_on: date | None = None
    grace_days: int = 30

    @property
    def starts_at(self) -> datetime | None:
        return None if self.starts_on is None else datetime.combine(self.starts_on, time(), UTC)

    @property
    def refused_from(self) -> date | None:
        if self.starts_on is None:
            return None
        return self.starts_on + timedelta(days=max(self.grace_days, 0))

    @property
    def refused_at(self) -> datetime | None:
        day = self.refused_from
        return None if day is None else datetime.combine(day, time(), UTC)

    def stage(self, now: datetime) -> SunsetStage:
        """The stage at ``now`` (an aware datetime)."""
        start, refused = self.starts_at, self.refused_at
        if start is None or refused is None:
            return SunsetStage.NONE
        if now >= refused:
            return SunsetStage.REFUSED
        if now >= start:
            return SunsetStage.ASK_TO_MOVE
        return SunsetStage.ANNOUNCED

    def refusal_message(self) -> str:
        return (
            f"Certificate sign-in ended on {self.refused_from:%d %B %Y}. Sign in with a "
            "passkey, a security key or your password instead; if you have none of "
            "these, ask an administrator for a new enrolment link."
        )


def needs_hardware_key(role: str, roles: tuple[str, ...]) -> bool:
    """Whether ``KEYSTILE_REQUIRE_HARDWARE_KEY_FOR`` covers this role."""
    return role in roles


def is_attested_hardware_key(cred: Credential) -> bool:
    """A device-bound passkey whose attestation proved the authenticator's model."""
    return (
        cred.kind is CredentialKind.PASSKEY
        and cred.backup_eligible is False
        and cred.attestation_trust == ATTESTED
        and cred.revoked_at is None
    )


@dataclass(frozen=True)
class MigrationAdvice:
    """What the account page's migration notice says to one user."""

    #: explain that the certificate is a file and offer a security key or passkey
    offer_key: bool
    #: the live certificates the user may now retire (they have a stronger key)
    retire: tuple[Credential, ...]
    stage: SunsetStage
    sunset: CertSunset
    #: the user's role must use an attested hardware key
    hardware_required: bool = False

    @property
    def show(self) -> bool:
        return self.offer_key or bool(self.retire)


def migration_advice(
    credentials: list[Credential],
    *,
    signed_in_with_certificate: bool,
    sunset: CertSunset,
    now: datetime,
    hardware_required: bool = False,
) -> MigrationAdvice:
    """Decide the migration notice from a user's live credentials.

    A certificate is a key in a file on one computer; a passkey or security key cannot be
    copied off the device that holds it. Once the user has one that counts for their role,
    the certificates become retirable.
    """
    live = [c for c in credentials if c.revoked_at is None]
    certs = tuple(c for c in live if c.kind is CredentialKind.CERTIFICATE)
    stage = sunset.stage(now)
    if hardware_required:
        replaced = any(is_attested_hardware_key(c) for c in live)
    else:
        replaced = any(c.kind is CredentialKind.PASSKEY for c in live)
    relevant = bool(certs) and (signed_in_with_certificate or stage is not SunsetStage.NONE)
    return MigrationAdvice(
        offer_key=relevant and not replaced,
        retire=certs if relevant and replaced else (),
        stage=stage,
        sunset=sunset,
        hardware_required=hardware_required,
    )


# -- step-up for credential changes (threat model F.24) ---------------------------------


def step_up_to(
    signed_in_with: Credential | None,
    live: Sequence[Credential],
    *,
    removing: Credential | None = None,
) -> Strength | None:
    """The strength a fresh sign-in needs before a credential change, or None if the
    session's own sign-in is strong enough (threat model F.24: "a recent sign-in at the
    same or a stronger level").

    Adding a credential or changing the password needs a sign-in as strong as the account's
    strongest live credential, so a stolen weaker credential (a copied certificate file, a
    phished password) cannot add a way in or lock the owner out. Removing one needs a
    sign-in at least as strong as what is removed: a certificate user can retire that
    certificate after adding a security key, but cannot remove the key.

    What proves nothing sets no bar: an uploaded certificate whose key no handshake has
    shown yet (anyone can upload a public certificate), a passkey flagged as a possible copy
    (refused at every sign-in, so no one could meet its level), and the session's own
    credential once it is revoked (the session then counts as no sign-in at all).

    Accepted: on a password-only account, whoever holds the password and adds a passkey
    first sets the bar. Before this rule the first to change the password won the same race;
    the owner is told of every addition (notice and e-mail) and an administrator can revoke.

    Args:
        signed_in_with: the credential that opened the session (None: none recorded).
        live: the account's live credentials.
        removing: the credential to remove, for a removal.
    """
    have = (
        signed_in_with.strength
        if signed_in_with is not None and signed_in_with.revoked_at is None
        else 0
    )
    if removing is not None:
        needed: Strength | None = removing.strength if _sets_a_bar(removing) else None
    else:
        needed = max(
            (c.strength for c in live if c.revoked_at is None and _sets_a_bar(c)), default=None
        )
    return needed if needed is not None and needed > have else None


def _sets_a_bar(credential: Credential) -> bool:
    if credential.clone_flagged_at is not None:
        return False
    return credential.kind is not CredentialKind.CERTIFICATE or credential.proven is not False
