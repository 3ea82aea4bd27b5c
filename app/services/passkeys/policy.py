"""What this relying party accepts: :class:`PasskeyPolicy`, built once per application by
:func:`policy_from_settings` (the relying party, the roles that need hardware keys, the verified
MDS blob), and ``_check_model``, the rule both ceremonies apply: no model an MDS blob marks
compromised, and for ``KEYSTILE_REQUIRE_HARDWARE_KEY_FOR`` roles only device-bound keys whose
attestation was verified (§7.1 step 24, §6.1.3).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from app.config import Settings
from app.models import Role
from app.services.mds import MetadataBlob, MetadataError, load_files
from app.services.passkeys.errors import Ceremony, PasskeyError
from app.services.webauthn import RelyingParty


class HasRole(Protocol):
    """An account as the policy reads it (a ``User``, or the owner a sign-in read)."""

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True)
class PasskeyPolicy:
    """What this relying party accepts; built once per application."""

    rp: RelyingParty
    #: roles whose passkeys must be verified, device-bound hardware keys
    hardware_key_roles: frozenset[str] = frozenset()
    metadata: MetadataBlob | None = None
    #: keys the decoy ``allowCredentials`` for unknown usernames (never sent anywhere)
    decoy_key: bytes = b"keystile-decoy"
    #: about one challenge in this many also deletes the long-expired ones (1: every time)
    prune_every: int = 200

    def requires_hardware_key(self, user: HasRole) -> bool:
        return str(user.role) in self.hardware_key_roles


def policy_from_settings(settings: Settings) -> PasskeyPolicy:
    """The policy for an application's settings; loads and verifies the MDS blob if set.

    Raises:
        ValueError: a setting is unusable (unknown role, blob without root, bad blob).
    """
    roles = frozenset(settings.require_hardware_key_for)
    unknown = roles - {str(r) for r in Role}
    if unknown:
        raise ValueError(
            "KEYSTILE_REQUIRE_HARDWARE_KEY_FOR: unknown role " + ", ".join(sorted(unknown))
        )
    metadata = None
    if settings.mds_blob:
        if not settings.mds_root:
            raise ValueError("KEYSTILE_MDS_BLOB needs KEYSTILE_MDS_ROOT")
        try:
            metadata = load_files(settings.mds_blob, settings.mds_root)
        except (MetadataError, OSError) as exc:
            raise ValueError(f"KEYSTILE_MDS_BLOB: {exc}") from exc
    return PasskeyPolicy(
        rp=RelyingParty(
            id=settings.webauthn_rp_id, name=settings.rp_name, origins=settings.webauthn_origins
        ),
        hardware_key_roles=roles,
        metadata=metadata,
        decoy_key=hmac.new(
            settings.secret_key.encode(), b"webauthn-decoy", hashlib.sha256
        ).digest(),
    )


def _check_model(
    policy: PasskeyPolicy,
    user: HasRole,
    aaguid: str | None,
    trust: str | None,
    backup_eligible: bool,
    ceremony: Ceremony,
) -> None:
    if policy.metadata is not None and policy.metadata.is_compromised(aaguid):
        raise PasskeyError("authenticator_compromised", ceremony=ceremony)
    # §6.1.3: a backup-eligible credential may be copied to other devices by design.
    if policy.requires_hardware_key(user) and (trust != "verified" or backup_eligible):
        raise PasskeyError(
            "hardware_key_required",
            ceremony=ceremony,
            reason="synced_credential" if backup_eligible else "attestation_not_verified",
        )
