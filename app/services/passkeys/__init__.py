"""Passkey ceremonies: challenges, policy, credential rows and their audit trail.

Plain Python over a database session. The web layer says who is asking and passes the raw
request body; it keeps the returned :class:`Challenge` secret in the browser's cookie session
and hands it back with the response. Everything WebAuthn itself checks is in
:mod:`app.services.webauthn`; this module adds what the relying party decides (W3C Web
Authentication Level 3, §7.1 "Registering a New Credential" and §7.2 "Verifying an
Authentication Assertion", threat model section C):

* challenges are one-time tokens stored hashed, bound to the ceremony and to the browser
  session that asked for them, spent *before* verifying and valid for five minutes (C.11);
* a discoverable sign-in's user handle must be the credential owner's (§7.2 step 6, C.15);
* a counter that went backwards flags the credential as a possible clone (§6.1.1, C.13);
* a credential id is registered once, for anyone, ever (§7.1 step 26, C.14);
* ``KEYSTILE_REQUIRE_HARDWARE_KEY_FOR`` roles use only device-bound keys whose attestation
  was verified (§7.1 step 24, §6.1.3), and models an MDS blob marks compromised are refused.

Every refusal is a :class:`PasskeyError` and one audit row with its precise reason.

Modules, each importing only those above it: ``encoding`` (unpadded base64url), ``errors``
(``Ceremony``, :class:`PasskeyError`), ``policy`` (:class:`PasskeyPolicy`,
:func:`policy_from_settings` and the rule on models both ceremonies apply), ``listing`` (an
account's live passkeys, :func:`accepted_credential_ids` for the Signal API), ``failures`` (the
audit row of a refusal), ``challenges`` (:class:`Challenge`: issue, spend,
:func:`prune_challenges`, :func:`challenge_of`), ``registration`` (:func:`begin_registration`,
:func:`finish_registration`) and ``authentication`` (:func:`begin_authentication` with its
decoys, :func:`finish_authentication`, :class:`SignIn`). Import from this package, not from the
modules.
"""

from app.services.passkeys.authentication import (
    SignIn,
    begin_authentication,
    begin_discoverable_authentication,
    finish_authentication,
)
from app.services.passkeys.challenges import (
    CHALLENGE_LIFETIME,
    Challenge,
    challenge_of,
    prune_challenges,
)
from app.services.passkeys.errors import Ceremony, PasskeyError
from app.services.passkeys.listing import accepted_credential_ids
from app.services.passkeys.policy import PasskeyPolicy, policy_from_settings

# Private, but read as an attribute of this package by tests/unit/services/test_passkeys.py.
from app.services.passkeys.policy import _check_model as _check_model
from app.services.passkeys.registration import KINDS, begin_registration, finish_registration

__all__ = [
    "CHALLENGE_LIFETIME",
    "KINDS",
    "Ceremony",
    "Challenge",
    "PasskeyError",
    "PasskeyPolicy",
    "SignIn",
    "accepted_credential_ids",
    "begin_authentication",
    "begin_discoverable_authentication",
    "begin_registration",
    "challenge_of",
    "finish_authentication",
    "finish_registration",
    "policy_from_settings",
    "prune_challenges",
]
