"""``keystile passkey list USERNAME [--json] [--all]`` and ``keystile passkey prune-challenges``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, OneTimeToken, TokenPurpose, utcnow
from app.services import credentials, tokens
from app.services.audit import SYSTEM
from tests.conftest import make_user

AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


def _passkey(db: Session, app: Flask, **fields: Any) -> Credential:
    user = make_user(db, app, "alice") if "user" not in fields else fields.pop("user")
    cred = Credential(
        kind=CredentialKind.PASSKEY,
        public_key=b"cose",
        sign_count=7,
        transports=["usb", "nfc"],
        aaguid=AAGUID,
        model_name="YubiKey 5 Series",
        backup_eligible=False,
        backup_state=False,
        attestation_format="packed",
        attestation_trust="basic-unverified",
        **fields,
    )
    return credentials.add(db, cred, user=user, client=SYSTEM, now=utcnow())


def test_list_json(runner: Any, db: Session, app: Flask) -> None:
    cred = _passkey(db, app, lookup_key="AAEC", label="Desk key")
    cred.last_used_at = utcnow()
    db.commit()
    result = runner.invoke(args=["passkey", "list", "ALICE", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert {
        k: row[k]
        for k in (
            "credential_id",
            "label",
            "model_name",
            "aaguid",
            "attestation_format",
            "attestation_trust",
            "backup_eligible",
            "backup_state",
            "device_type",
            "sign_count",
            "transports",
            "possible_clone",
        )
    } == {
        "credential_id": "AAEC",
        "label": "Desk key",
        "model_name": "YubiKey 5 Series",
        "aaguid": AAGUID,
        "attestation_format": "packed",
        "attestation_trust": "basic-unverified",
        "backup_eligible": False,
        "backup_state": False,
        "device_type": "device-bound",
        "sign_count": 7,
        "transports": ["usb", "nfc"],
        "possible_clone": False,
    }
    assert row["created_at"] and row["last_used_at"] and row["clone_flagged_at"] is None


def test_list_text_shows_clone_flags_and_removed_keys_with_all(
    runner: Any, db: Session, app: Flask
) -> None:
    flagged = _passkey(db, app, lookup_key="AAEC")
    credentials.flag_clone(db, flagged, client=SYSTEM, now=utcnow(), details={})
    removed = _passkey(db, app, user=flagged.user, lookup_key="AAED")
    removed.revoked_at = utcnow()
    db.commit()
    result = runner.invoke(args=["passkey", "list", "alice"])
    assert result.exit_code == 0
    [line] = result.output.strip().splitlines()
    assert "YubiKey 5 Series" in line and "POSSIBLE CLONE" in line and AAGUID in line
    assert "sign count 7" in line and "last used never" in line
    everything = runner.invoke(args=["passkey", "list", "alice", "--all", "--json"])
    assert [r["credential_id"] for r in json.loads(everything.output)] == ["AAEC", "AAED"]


def test_list_unknown_user_and_no_passkeys(runner: Any, db: Session, app: Flask) -> None:
    result = runner.invoke(args=["passkey", "list", "nobody"])
    assert result.exit_code != 0 and "no such user: nobody" in result.output
    make_user(db, app, "bob")
    assert runner.invoke(args=["passkey", "list", "bob"]).output.strip() == "bob has no passkeys"
    assert json.loads(runner.invoke(args=["passkey", "list", "bob", "--json"]).output) == []


def test_prune_challenges_deletes_only_expired_ones(runner: Any, db: Session) -> None:
    now = utcnow()
    for purpose, age in [
        (TokenPurpose.WEBAUTHN_AUTHENTICATION, 10),
        (TokenPurpose.WEBAUTHN_REGISTRATION, 10),
        (TokenPurpose.WEBAUTHN_AUTHENTICATION, 1),
        (TokenPurpose.ENROLMENT, 10),
    ]:
        tokens.issue(db, purpose, now=now - timedelta(minutes=age), lifetime=timedelta(minutes=5))
    db.commit()
    result = runner.invoke(args=["passkey", "prune-challenges"])
    assert result.exit_code == 0 and "deleted 2 expired challenges" in result.output
    left = sorted(db.scalars(select(OneTimeToken.purpose)))
    assert left == ["enrolment", "webauthn-authentication"]
