"""The certificate sunset and the migration notice as pure decisions, at fixed instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.models import Credential, CredentialKind, Strength
from app.services.policy import (
    CertSunset,
    SunsetStage,
    is_attested_hardware_key,
    migration_advice,
    needs_hardware_key,
    step_up_to,
)

SUNSET = CertSunset(date(2027, 3, 1), grace_days=30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("sunset", "now", "stage"),
    [
        pytest.param(CertSunset(), at("2027-06-01T00:00"), SunsetStage.NONE, id="not-configured"),
        pytest.param(SUNSET, at("2027-02-28T23:59:59"), SunsetStage.ANNOUNCED, id="day-before"),
        pytest.param(SUNSET, at("2027-03-01T00:00"), SunsetStage.ASK_TO_MOVE, id="sunset-midnight"),
        pytest.param(SUNSET, at("2027-03-30T23:59:59"), SunsetStage.ASK_TO_MOVE, id="last-grace"),
        pytest.param(SUNSET, at("2027-03-31T00:00"), SunsetStage.REFUSED, id="grace-over"),
        pytest.param(
            CertSunset(date(2027, 3, 1), 0),
            at("2027-03-01T00:00"),
            SunsetStage.REFUSED,
            id="no-grace",
        ),
        pytest.param(
            CertSunset(date(2027, 3, 1), -5),
            at("2027-03-01T00:00"),
            SunsetStage.REFUSED,
            id="negative-grace-is-none",
        ),
    ],
)
def test_sunset_stage(sunset: CertSunset, now: datetime, stage: SunsetStage) -> None:
    assert sunset.stage(now) is stage


def test_sunset_days_are_utc_days() -> None:
    plus_one, minus_one = timezone(timedelta(hours=1)), timezone(timedelta(hours=-1))
    assert SUNSET.stage(datetime(2027, 3, 1, 0, 30, tzinfo=plus_one)) is SunsetStage.ANNOUNCED
    assert SUNSET.stage(datetime(2027, 2, 28, 23, 30, tzinfo=minus_one)) is SunsetStage.ASK_TO_MOVE


def test_refusal_message_names_the_date_and_the_way_out() -> None:
    text = SUNSET.refusal_message()
    assert "31 March 2027" in text and "passkey" in text and "administrator" in text


def _cert(revoked: bool = False) -> Credential:
    return Credential(
        kind=CredentialKind.CERTIFICATE, revoked_at=at("2027-01-01T00:00") if revoked else None
    )


def _passkey(synced: bool, attested: bool = False) -> Credential:
    return Credential(
        kind=CredentialKind.PASSKEY,
        backup_eligible=synced,
        attestation_trust="verified" if attested else "none",
    )


PASSWORD = Credential(kind=CredentialKind.PASSWORD)


@pytest.mark.parametrize(
    ("creds", "by_cert", "sunset", "hardware", "offer", "retire"),
    [
        pytest.param([PASSWORD], True, CertSunset(), False, False, 0, id="no-certificate"),
        pytest.param([_cert()], False, CertSunset(), False, False, 0, id="password-sign-in"),
        pytest.param([_cert()], True, CertSunset(), False, True, 0, id="after-cert-sign-in"),
        pytest.param([_cert()], False, SUNSET, False, True, 0, id="sunset-announced"),
        pytest.param(
            [_cert(), _passkey(True)], True, CertSunset(), False, False, 1, id="has-passkey-retire"
        ),
        pytest.param(
            [_cert(), _cert(), _passkey(False)],
            True,
            CertSunset(),
            False,
            False,
            2,
            id="two-certificates",
        ),
        pytest.param(
            [_cert(revoked=True), _passkey(True)],
            True,
            CertSunset(),
            False,
            False,
            0,
            id="revoked-certificate",
        ),
        pytest.param(
            [_cert(), _passkey(True)],
            True,
            CertSunset(),
            True,
            True,
            0,
            id="role-needs-hardware-synced-not-enough",
        ),
        pytest.param(
            [_cert(), _passkey(False)],
            True,
            CertSunset(),
            True,
            True,
            0,
            id="role-needs-attested-reported-not-enough",
        ),
        pytest.param(
            [_cert(), _passkey(False, attested=True)],
            True,
            CertSunset(),
            True,
            False,
            1,
            id="role-attested-retire",
        ),
    ],
)
def test_migration_advice(
    creds: list[Credential],
    by_cert: bool,
    sunset: CertSunset,
    hardware: bool,
    offer: bool,
    retire: int,
) -> None:
    advice = migration_advice(
        creds,
        signed_in_with_certificate=by_cert,
        sunset=sunset,
        now=at("2027-01-15T12:00"),
        hardware_required=hardware,
    )
    assert advice.offer_key is offer
    assert len(advice.retire) == retire
    assert advice.show is (offer or retire > 0)


def test_hardware_rule_helpers() -> None:
    assert needs_hardware_key("admin", ("admin",)) and not needs_hardware_key("user", ("admin",))
    assert is_attested_hardware_key(_passkey(False, attested=True))
    assert not is_attested_hardware_key(_passkey(True, attested=True))
    assert not is_attested_hardware_key(_passkey(False))


# -- F.24: credential changes need a sign-in at the account's level ----------------------

CERT, KEY, SYNCED, OLD_CERT = _cert(), _passkey(False), _passkey(True), _cert(revoked=True)
ATTESTED = _passkey(False, attested=True)
UPLOAD = Credential(kind=CredentialKind.CERTIFICATE, proven=False)


@pytest.mark.parametrize(
    ("signed_in_with", "live", "removing", "needed"),
    [
        pytest.param(PASSWORD, [PASSWORD], None, None, id="password-only-account"),
        pytest.param(
            PASSWORD,
            [PASSWORD, KEY],
            None,
            Strength.DEVICE_KEY,
            id="phished-password-cannot-add-or-change",
        ),
        pytest.param(CERT, [CERT], None, None, id="certificate-user-adds-a-key"),
        pytest.param(CERT, [CERT, KEY], CERT, None, id="then-retires-the-certificate"),
        pytest.param(
            CERT,
            [CERT, KEY],
            KEY,
            Strength.DEVICE_KEY,
            id="copied-certificate-cannot-remove-the-key",
        ),
        pytest.param(CERT, [CERT, KEY], None, Strength.DEVICE_KEY, id="nor-add-another-key"),
        pytest.param(
            PASSWORD,
            [PASSWORD, CERT],
            None,
            Strength.CERTIFICATE,
            id="a-proven-certificate-sets-the-bar",
        ),
        pytest.param(SYNCED, [PASSWORD, SYNCED], None, None, id="synced-passkey-is-strongest"),
        pytest.param(SYNCED, [SYNCED, KEY], SYNCED, None, id="remove-own-level"),
        pytest.param(KEY, [PASSWORD, CERT, KEY], KEY, None, id="device-key-does-anything"),
        # What the pages call an attested hardware key ranks above a device-bound key whose
        # make is unproven (docs/credentials.md): the order the pages show is the one enforced.
        pytest.param(
            KEY,
            [KEY, ATTESTED],
            ATTESTED,
            Strength.HARDWARE_KEY,
            id="unattested-key-cannot-remove-the-attested-one",
        ),
        pytest.param(
            KEY,
            [KEY, ATTESTED],
            None,
            Strength.HARDWARE_KEY,
            id="nor-add-while-an-attested-key-is-held",
        ),
        pytest.param(
            ATTESTED, [PASSWORD, KEY, ATTESTED], KEY, None, id="attested-key-does-anything"
        ),
        pytest.param(None, [PASSWORD], None, Strength.PASSWORD, id="no-credential-recorded"),
        pytest.param(PASSWORD, [PASSWORD, OLD_CERT], None, None, id="revoked-ones-do-not-count"),
        pytest.param(PASSWORD, [PASSWORD, UPLOAD], None, None, id="unproven-upload-sets-no-bar"),
        pytest.param(PASSWORD, [PASSWORD, UPLOAD], UPLOAD, None, id="and-goes-at-any-level"),
        pytest.param(
            OLD_CERT,
            [PASSWORD, KEY],
            None,
            Strength.DEVICE_KEY,
            id="revoked-sign-in-counts-as-none",
        ),
        pytest.param(OLD_CERT, [PASSWORD], None, Strength.PASSWORD, id="even-for-a-password"),
    ],
)
def test_step_up_to(
    signed_in_with: Credential | None,
    live: list[Credential],
    removing: Credential | None,
    needed: Strength | None,
) -> None:
    assert step_up_to(signed_in_with, live, removing=removing) == needed
