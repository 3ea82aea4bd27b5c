"""app.services.passkeys without HTTP: challenges, decoys, policy tables, audit contents.

The HTTP-level refusals of threat model C are in tests/functional/test_passkeys.py; here are
the decisions behind them, and the cases no well-behaved web layer can reach.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.models import AuditEvent, Credential, Role, User, UserStatus, utcnow
from app.services import passkeys
from app.services.audit import Client, Event
from app.services.passkeys import PasskeyError, PasskeyPolicy
from app.services.webauthn import RelyingParty
from tests.conftest import make_user
from tests.support.soft_authenticator import (
    SoftAuthenticator,
    SoftCredential,
    b64url,
    unb64url,
)

RP = RelyingParty(id="localhost", name="Keystile", origins=("https://localhost",))
POLICY = PasskeyPolicy(rp=RP, decoy_key=b"k" * 32)
CLIENT = Client(address="192.0.2.1", user_agent="pytest")
SOFT = SoftAuthenticator(origin="https://localhost", rp_id="localhost")


@pytest.fixture
def alice(db: Session, app: Flask) -> User:
    return make_user(db, app, "alice", password=None)


def register(
    db: Session,
    user: User,
    *,
    policy: PasskeyPolicy = POLICY,
    ceremony: passkeys.Ceremony = "registration",
    **kw: Any,
) -> tuple[Credential, SoftCredential]:
    challenge = passkeys.begin_registration(
        db, policy, user=user, kind="passkey", now=utcnow(), ceremony=ceremony
    )
    body, soft = SOFT.register(challenge=unb64url(challenge.key), user_handle=user.user_handle)
    return passkeys.finish_registration(
        db,
        policy,
        user=user,
        secret=challenge.secret,
        body=json.dumps(body).encode(),
        client=CLIENT,
        now=utcnow(),
        ceremony=ceremony,
        **kw,
    ), soft


def failures(db: Session) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.outcome == "failure")))


# -- settings -> policy -----------------------------------------------------------------


def test_policy_from_settings() -> None:
    settings = load_settings(
        {},
        {
            "env": "testing",
            "secret_key": "s" * 40,
            "origin": "https://login.example.org",
            "extra_origins": ("http://login.example.org:8080",),
            "require_hardware_key_for": ("admin",),
        },
    )
    policy = passkeys.policy_from_settings(settings)
    assert policy.rp == RelyingParty(
        id="login.example.org",
        name="Keystile",
        origins=("https://login.example.org", "http://login.example.org:8080"),
    )
    assert policy.hardware_key_roles == {"admin"} and policy.metadata is None
    admin = User(role=Role.ADMIN)
    assert policy.requires_hardware_key(admin) and not policy.requires_hardware_key(User())
    with pytest.raises(ValueError, match="unknown role superuser"):
        passkeys.policy_from_settings(
            dataclasses.replace(settings, require_hardware_key_for=("superuser",))
        )


# -- what the web layer reads before verifying -------------------------------------------


def _client_data(challenge: object) -> str:
    return b64url(json.dumps({"type": "webauthn.get", "challenge": challenge}).encode())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (json.dumps({"response": {"clientDataJSON": _client_data("abc")}}), "abc"),
        (json.dumps({"response": {"clientDataJSON": _client_data(7)}}), ""),
        (json.dumps({"response": {"clientDataJSON": _client_data("x" * 129)}}), ""),
        (json.dumps({"response": {"clientDataJSON": "%%%"}}), ""),
        (json.dumps({"response": {"clientDataJSON": b64url(b"[1]")}}), ""),
        (json.dumps({"response": "nope"}), ""),
        (json.dumps([1, 2]), ""),
        ("{", ""),
        (b"\xff\xfe", ""),
        ("[" * 100_000, ""),
    ],
    ids=[
        "ok",
        "not-a-string",
        "too-long",
        "not-base64",
        "not-an-object",
        "no-response",
        "array",
        "bad-json",
        "bad-utf8",
        "too-large",
    ],
)
def test_challenge_of(body: str | bytes, expected: str) -> None:
    assert passkeys.challenge_of(body) == expected


# -- challenges (C.11) ------------------------------------------------------------------


def test_challenge_of_another_ceremony_is_refused(db: Session, alice: User) -> None:
    """Enrolment and registration share a token purpose; the payload tells them apart."""
    challenge = passkeys.begin_registration(
        db, POLICY, user=alice, kind="passkey", now=utcnow(), ceremony="enrolment"
    )
    body, _ = SOFT.register(challenge=unb64url(challenge.key), user_handle=alice.user_handle)
    with pytest.raises(PasskeyError) as refused:
        passkeys.finish_registration(
            db,
            POLICY,
            user=alice,
            secret=challenge.secret,
            body=json.dumps(body).encode(),
            client=CLIENT,
            now=utcnow(),
        )
    assert (refused.value.code, refused.value.reason) == (
        "bad_challenge",
        "challenge_wrong_ceremony",
    )
    [row] = failures(db)
    assert (row.tag, row.reason, row.user_id) == (
        str(Event.CREDENTIAL_REFUSED),
        "challenge_wrong_ceremony",
        alice.id,
    )


def test_challenge_issued_to_another_account(db: Session, app: Flask, alice: User) -> None:
    bob = make_user(db, app, "bob", password=None)
    challenge = passkeys.begin_registration(db, POLICY, user=alice, kind="passkey", now=utcnow())
    body, _ = SOFT.register(challenge=unb64url(challenge.key), user_handle=bob.user_handle)
    with pytest.raises(PasskeyError, match="challenge_other_account"):
        passkeys.finish_registration(
            db,
            POLICY,
            user=bob,
            secret=challenge.secret,
            body=json.dumps(body).encode(),
            client=CLIENT,
            now=utcnow(),
        )


def test_challenges_expire_after_five_minutes(db: Session, alice: User) -> None:
    _, soft = register(db, alice)
    challenge = passkeys.begin_authentication(db, POLICY, now=utcnow())
    body = json.dumps(SOFT.authenticate(soft, challenge=unb64url(challenge.key))).encode()
    assert timedelta(minutes=5) == passkeys.CHALLENGE_LIFETIME
    with pytest.raises(PasskeyError, match="challenge_expired"):
        passkeys.finish_authentication(
            db,
            POLICY,
            secret=challenge.secret,
            body=body,
            client=CLIENT,
            now=utcnow() + timedelta(minutes=5),
        )
    assert [r.user_id for r in failures(db)] == [alice.id]


def test_a_failed_attempt_spends_its_challenge(db: Session, alice: User) -> None:
    _, soft = register(db, alice)
    challenge = passkeys.begin_authentication(db, POLICY, now=utcnow())
    body = json.dumps(SOFT.authenticate(soft, challenge=unb64url(challenge.key))).encode()
    with pytest.raises(PasskeyError, match="malformed"):
        passkeys.finish_authentication(
            db,
            POLICY,
            secret=challenge.secret,
            body=body.replace(b'"type"', b'"kind"'),
            client=CLIENT,
            now=utcnow(),
        )
    with pytest.raises(PasskeyError, match="challenge_replayed"):
        passkeys.finish_authentication(
            db, POLICY, secret=challenge.secret, body=body, client=CLIENT, now=utcnow()
        )


# -- username-first options and decoys -----------------------------------------------------


def test_decoys_are_stable_per_username_and_secret_key(db: Session, app: Flask) -> None:
    def allow(policy: PasskeyPolicy, name: str) -> Any:
        options = passkeys.begin_authentication(db, policy, now=utcnow(), username=name)
        return json.loads(options.options_json)["allowCredentials"]

    assert allow(POLICY, "Nobody") == allow(POLICY, "nobody") != allow(POLICY, "somebody")
    other_site = dataclasses.replace(POLICY, decoy_key=b"other")
    assert allow(POLICY, "nobody") != allow(other_site, "nobody")
    shapes = {len(unb64url(allow(POLICY, f"user{i}")[0]["id"])) for i in range(40)}
    assert shapes <= {16, 32, 48, 64} and len(shapes) > 1


def test_disabled_accounts_get_a_decoy(db: Session, alice: User) -> None:
    real, _ = register(db, alice)
    alice.status = UserStatus.DISABLED
    db.commit()
    options = passkeys.begin_authentication(db, POLICY, now=utcnow(), username="alice")
    ids = [d["id"] for d in json.loads(options.options_json)["allowCredentials"]]
    assert ids and real.lookup_key not in ids


# -- registration details -----------------------------------------------------------------


def test_credential_row_and_audit(db: Session, alice: User) -> None:
    credential, _ = register(db, alice)
    assert credential.details == {
        "kind": "passkey",
        "attachment": "cross-platform",
        "user_verified": True,
        "device_type": "single_device",
    }
    [added] = db.scalars(select(AuditEvent).where(AuditEvent.tag == "account:credential:added"))
    assert added.details == {
        "label": "Security key",
        "kind": "passkey",
        "model": None,
        "attestation": "none",
    }


def test_refusal_audit_row_carries_the_detail(db: Session, alice: User) -> None:
    challenge = passkeys.begin_registration(db, POLICY, user=alice, kind="passkey", now=utcnow())
    body, _ = SOFT.register(challenge=unb64url(challenge.key), origin="https://evil.example")
    with pytest.raises(PasskeyError) as refused:
        passkeys.finish_registration(
            db,
            POLICY,
            user=alice,
            secret=challenge.secret,
            body=json.dumps(body).encode(),
            client=CLIENT,
            now=utcnow(),
        )
    assert (refused.value.code, refused.value.status) == ("bad_origin", 400)
    [row] = failures(db)
    assert row.details["ceremony"] == "registration" and row.details["kind"] == "passkey"
    assert "evil.example" in row.details["detail"]
    assert (row.address, row.user_agent) == ("192.0.2.1", "pytest")


# -- policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "trust", "backup_eligible", "refusal"),
    [
        (Role.USER, "none", True, None),
        (Role.ADMIN, "verified", False, None),
        (Role.ADMIN, "verified", True, "synced_credential"),
        (Role.ADMIN, "basic-unverified", False, "attestation_not_verified"),
        (Role.ADMIN, "self", False, "attestation_not_verified"),
        (Role.ADMIN, "none", False, "attestation_not_verified"),
        (Role.ADMIN, None, False, "attestation_not_verified"),
    ],
)
def test_hardware_key_policy(
    role: Role, trust: str | None, backup_eligible: bool, refusal: str | None
) -> None:
    policy = dataclasses.replace(POLICY, hardware_key_roles=frozenset({"admin"}))
    check = passkeys._check_model  # the one rule both ceremonies apply
    if refusal is None:
        check(policy, User(role=role), None, trust, backup_eligible, "authentication")
        return
    with pytest.raises(PasskeyError) as refused:
        check(policy, User(role=role), None, trust, backup_eligible, "authentication")
    assert (refused.value.code, refused.value.reason, refused.value.status) == (
        "hardware_key_required",
        refusal,
        403,
    )


@pytest.mark.parametrize(
    ("code", "ceremony", "status"),
    [
        ("too_large", "authentication", 413),
        ("malformed", "registration", 400),
        ("bad_signature", "authentication", 401),
        ("bad_signature", "registration", 400),
        ("already_registered", "registration", 409),
        ("account_disabled", "authentication", 403),
        ("enrolment_link_used", "enrolment", 404),
    ],
)
def test_statuses(code: str, ceremony: passkeys.Ceremony, status: int) -> None:
    error = PasskeyError(code, ceremony=ceremony)
    assert error.status == status and error.message and error.reason == code


# -- housekeeping without cron -----------------------------------------------------------


def test_issuing_challenges_prunes_long_expired_ones(db: Session) -> None:
    from app.models import OneTimeToken

    pruning, never = (dataclasses.replace(POLICY, prune_every=n) for n in (1, 2**62))
    start = utcnow()
    passkeys.begin_authentication(db, never, now=start - timedelta(hours=3))  # long expired
    passkeys.begin_authentication(db, never, now=start - timedelta(minutes=30))  # lately
    assert len(db.scalars(select(OneTimeToken)).all()) == 2
    passkeys.begin_authentication(db, pruning, now=start)
    # The one expired for over an hour is gone; the late one stays, so that an answer to it
    # is still audited as "expired" rather than "unknown".
    left = sorted(t.created_at for t in db.scalars(select(OneTimeToken)))
    assert [start - c for c in left] == [timedelta(minutes=30), timedelta(0)]


def test_issuing_challenges_does_not_always_prune(db: Session) -> None:
    from app.models import OneTimeToken

    never = dataclasses.replace(POLICY, prune_every=2**62)
    passkeys.begin_authentication(db, never, now=utcnow() - timedelta(hours=3))
    passkeys.begin_authentication(db, never, now=utcnow())
    assert len(db.scalars(select(OneTimeToken)).all()) == 2


def test_the_stored_counter_never_goes_back(db: Session, alice: User) -> None:
    """Two assertions verified at once may be recorded out of order (§6.1.1)."""
    from app.services import credentials
    from tests.support import factories

    key = factories.passkey(db, alice, synced=False)  # stored counter 7
    credentials.record_sign_in(db, key, client=CLIENT, now=utcnow(), sign_count=12)
    credentials.record_sign_in(db, key, client=CLIENT, now=utcnow(), sign_count=9)
    db.commit()
    db.expire_all()
    assert db.get(Credential, key.id).sign_count == 12  # type: ignore[union-attr]


def test_pruning_deletes_in_batches(db: Session) -> None:
    from app.models import OneTimeToken

    never = dataclasses.replace(POLICY, prune_every=2**62)
    long_ago = utcnow() - timedelta(hours=5)
    for _ in range(3):
        passkeys.begin_authentication(db, never, now=long_ago)
    assert passkeys.prune_challenges(db, now=utcnow(), batch=2) == 2
    assert len(db.scalars(select(OneTimeToken)).all()) == 1
