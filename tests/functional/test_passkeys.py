"""Passkeys through the HTTP endpoints: Flask's test client plus a software authenticator.

Full ceremonies as a browser runs them, then every item of threat model section C at the
HTTP level. Each refusal is checked the same way: its status and error code, no session, no
credential change, and exactly one audit row carrying the precise reason.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import (
    AuditEvent,
    AuthSession,
    Credential,
    CredentialKind,
    OneTimeToken,
    Role,
    User,
    UserStatus,
    utcnow,
)
from app.services import accounts
from app.services.audit import SYSTEM, Event
from app.services.mds import MetadataBlob, MetadataEntry
from app.webauthn.views import POLICY
from tests.conftest import make_user
from tests.support.browser import (
    ORIGIN,
    SESSION_COOKIE,
    YUBIKEY_AAGUID,
    YUBIKEY_AAGUID_BYTES,
    Browser,
)
from tests.support.soft_authenticator import (
    SoftAuthenticator,
    SoftCredential,
    attestation_ca,
    b64url,
    unb64url,
)


def audit_rows(db: Session, event: Event) -> list[AuditEvent]:
    db.expire_all()
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.tag == str(event)).order_by(AuditEvent.id))
    )


def passkey_rows(db: Session) -> list[Credential]:
    db.expire_all()
    return list(
        db.scalars(
            select(Credential)
            .where(Credential.kind == CredentialKind.PASSKEY)
            .order_by(Credential.id)
        )
    )


def passkey_sessions(db: Session) -> int:
    """Live sessions opened by a passkey."""
    return int(
        db.scalar(
            select(func.count())
            .select_from(AuthSession)
            .where(AuthSession.method == "passkey", AuthSession.revoked_at.is_(None))
        )
        or 0
    )


def assert_refused(
    resp: Any,
    db: Session,
    browser: Browser,
    *,
    status: int,
    code: str,
    reason: str,
    event: Event = Event.PASSKEY_FAILURE,
) -> AuditEvent:
    """The common checks for every refusal: status, code, no session, one audit row."""
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert body["error"] == code and body["message"]
    assert "Traceback" not in resp.get_data(as_text=True)
    assert browser.session() == {"authenticated": False} or event is not Event.PASSKEY_FAILURE
    assert passkey_sessions(db) == 0
    [row] = audit_rows(db, event)
    assert (row.reason, row.outcome, row.method) == (reason, "failure", "passkey")
    return row


# -- registration -----------------------------------------------------------------------


def test_register_a_passkey_and_sign_in_without_a_username(
    browser: Browser, db: Session, app: Flask
) -> None:
    alice = make_user(db, app, "alice")
    browser.password_login()
    options = browser.creation_options("passkey")
    # A discoverable credential with user verification (§5.4.6): it can replace the username.
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none" and options["excludeCredentials"] == []
    assert unb64url(options["user"]["id"]) == alice.user_handle
    resp, credential = browser.register(label="  Work   laptop ")
    assert resp.status_code == 201
    assert resp.get_json()["credential"]["name"] == "Work laptop"
    [row] = passkey_rows(db)
    assert row.user_id == alice.id and row.lookup_key == credential.id_b64url
    assert (row.sign_count, row.transports, row.aaguid, row.model_name) == (
        0,
        ["usb"],
        "00000000-0000-0000-0000-000000000000",
        None,
    )
    assert (row.attestation_format, row.attestation_trust) == ("none", "none")
    assert (row.backup_eligible, row.backup_state) == (False, False)
    assert audit_rows(db, Event.CREDENTIAL_ADDED)[-1].credential_id == row.id

    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    options = browser.request_options()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    resp = browser.post(
        "/webauthn/login/verify",
        browser.authenticator.authenticate(credential, challenge=unb64url(options["challenge"])),
    )
    assert resp.status_code == 200 and resp.get_json()["username"] == "alice"
    assert "signal" not in resp.get_json()  # the account page signals (Signal API)
    state = browser.client.get("/webauthn/signal-state").get_json()
    assert state["allAcceptedCredentialIds"] == [credential.id_b64url]
    assert browser.session() == {
        "authenticated": True,
        "username": "alice",
        "method": "passkey",
        "credential_id": row.id,
    }
    [success] = audit_rows(db, Event.PASSKEY_SUCCESS)
    assert success.credential_id == row.id
    [row] = passkey_rows(db)
    assert row.sign_count == 1 and row.last_used_at is not None


def test_security_key_uses_direct_attestation_and_is_named(
    browser: Browser, db: Session, app: Flask
) -> None:
    make_user(db, app, "alice")
    browser.password_login()
    options = browser.creation_options("security-key")
    assert options["attestation"] == "direct" and options["hints"] == ["security-key"]
    assert options["authenticatorSelection"]["authenticatorAttachment"] == "cross-platform"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    key = SoftAuthenticator(
        origin=ORIGIN, rp_id="localhost", aaguid=YUBIKEY_AAGUID, transports=("nfc", "usb")
    )
    browser.authenticator = key
    # UV is only preferred for security keys: a key without a PIN may still register.
    resp, _ = browser.register("security-key", attestation="packed", uv=False)
    assert resp.status_code == 201, resp.get_json()
    [row] = passkey_rows(db)
    assert (row.model_name, row.attestation_format, row.attestation_trust, row.transports) == (
        "YubiKey 5 Series",
        "packed",
        "basic-unverified",
        ["nfc", "usb"],
    )
    page = browser.client.get("/account").get_data(as_text=True)
    assert "Security key · YubiKey 5 Series (as it reports itself)" in page
    assert '<span class="badge strength-4">device-bound key</span>' in page


def test_existing_passkeys_are_excluded_and_listed_for_the_signal_api(
    browser: Browser, enrolled: SoftCredential
) -> None:
    assert browser.login(enrolled).status_code == 200  # F.24: the account's strongest level
    options = browser.creation_options("security-key")
    assert options["excludeCredentials"] == [
        {"id": enrolled.id_b64url, "type": "public-key", "transports": ["usb"]}
    ]
    state = browser.client.get("/webauthn/signal-state").get_json()
    assert state["allAcceptedCredentialIds"] == [enrolled.id_b64url]
    assert (state["rpId"], state["name"]) == ("localhost", "alice")


def test_signal_state_needs_a_session(browser: Browser) -> None:
    resp = browser.client.get("/webauthn/signal-state")
    assert resp.status_code == 401 and resp.get_json()["error"] == "not_signed_in"


def test_registration_needs_a_recent_sign_in(browser: Browser, db: Session, app: Flask) -> None:
    make_user(db, app, "alice")
    assert browser.post("/webauthn/register/options", {"kind": "passkey"}).status_code == 401
    browser.password_login()
    db.execute(update(AuthSession).values(created_at=utcnow() - timedelta(hours=1)))
    db.commit()
    resp = browser.post("/webauthn/register/options", {"kind": "passkey"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "reauth_required"


@pytest.mark.parametrize(
    "body",
    [{"kind": "platform"}, [1], b"{nope", {"kind": None}],
    ids=["unknown-kind", "not-an-object", "bad-json", "null-kind"],
)
def test_bad_options_requests_are_400(browser: Browser, db: Session, app: Flask, body: Any) -> None:
    make_user(db, app, "alice")
    browser.password_login()
    resp = browser.post("/webauthn/register/options", body)
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"
    bad_login = browser.post("/webauthn/login/options", {"username": ["x"]})
    assert bad_login.status_code == 400


def _flip_attestation_signature(response: dict[str, Any]) -> dict[str, Any]:
    obj = cbor2.loads(unb64url(response["response"]["attestationObject"]))
    sig = bytearray(obj["attStmt"]["sig"])
    sig[-1] ^= 1
    obj["attStmt"]["sig"] = bytes(sig)
    response["response"]["attestationObject"] = b64url(cbor2.dumps(obj))
    return response


def _replace(path: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        target = body
        *parents, last = path.split(".")
        for name in parents:
            target = target[name]
        target[last] = value
        return body

    return edit


REGISTRATION_REFUSALS = [
    pytest.param({"origin": "https://evil.example"}, None, 400, "bad_origin", id="wrong-origin"),
    pytest.param(
        {"origin": "https://localhost.evil.example"},
        None,
        400,
        "bad_origin",
        id="look-alike-origin",
    ),
    pytest.param({"origin": "http://localhost"}, None, 400, "bad_origin", id="http-origin"),
    pytest.param({"origin": "https://localhost:8443"}, None, 400, "bad_origin", id="other-port"),
    pytest.param({"rp_id": "evil.example"}, None, 400, "bad_rp_id", id="wrong-rp-id"),
    pytest.param({"type": "webauthn.get"}, None, 400, "bad_type", id="swapped-ceremony"),
    pytest.param({"up": False}, None, 400, "user_not_present", id="up-0"),
    pytest.param({"uv": False}, None, 400, "user_not_verified", id="uv-0"),
    pytest.param(
        {"cross_origin": True, "top_origin": "https://evil.example"},
        None,
        400,
        "bad_origin",
        id="cross-origin-iframe",
    ),
    pytest.param(
        {"attestation": "packed-self"},
        _flip_attestation_signature,
        400,
        "bad_attestation",
        id="bad-attestation-signature",
    ),
    pytest.param(
        {"credential_id": bytes(1024)}, None, 400, "credential_id_too_long", id="over-long-id"
    ),
    pytest.param({"raw_id": bytes(32)}, None, 400, "malformed", id="id-not-attested"),
    pytest.param(
        {},
        _replace("response.attestationObject", b64url(b"\xa3\x63fmt\xff")),
        400,
        "malformed",
        id="malformed-cbor",
    ),
    pytest.param({}, lambda body: json.dumps(body)[:-9], 400, "malformed", id="malformed-json"),
    pytest.param({}, _replace("response", "nope"), 400, "malformed", id="response-not-object"),
]


@pytest.mark.parametrize(("knobs", "edit", "status", "code"), REGISTRATION_REFUSALS)
def test_registration_refusals(
    browser: Browser,
    db: Session,
    app: Flask,
    knobs: dict[str, Any],
    edit: Any,
    status: int,
    code: str,
) -> None:
    make_user(db, app, "alice")
    browser.password_login()
    resp, _ = browser.register(edit=edit, **knobs)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"] == code
    assert passkey_rows(db) == []
    [row] = audit_rows(db, Event.CREDENTIAL_REFUSED)
    assert (row.reason, row.method, row.user_id) == (code, "passkey", 1)
    assert row.details["ceremony"] == "registration"


def test_duplicate_credential_id_is_refused_without_touching_the_owner(
    browser: Browser, db: Session, app: Flask, enrolled: SoftCredential
) -> None:
    [original] = passkey_rows(db)
    before = (original.user_id, original.public_key, original.sign_count, original.label)
    make_user(db, app, "mallory")
    browser.password_login("mallory")
    # mallory's authenticator claims alice's credential id, with its own key.
    resp, _ = browser.register(credential_id=enrolled.credential_id, label="mine now")
    assert resp.status_code == 409 and resp.get_json()["error"] == "already_registered"
    [row] = passkey_rows(db)
    assert (row.user_id, row.public_key, row.sign_count, row.label) == before
    refused = [r for r in audit_rows(db, Event.CREDENTIAL_REFUSED)]
    assert [(r.reason, r.user_id) for r in refused] == [("already_registered", 2)]


def test_registration_challenge_is_single_use(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    # Signed in with the passkey: registering another needs that level (F.24).
    assert browser.login(enrolled).status_code == 200
    browser.authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
    options = browser.creation_options()
    body, _ = browser.authenticator.register(
        challenge=unb64url(options["challenge"]), user_handle=unb64url(options["user"]["id"])
    )
    cookie = browser.client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    assert browser.post("/webauthn/register/verify", body).status_code == 201
    # The captured request again, old cookie and all: the token is spent.
    browser.client.set_cookie(SESSION_COOKIE, cookie.value, domain="localhost")
    resp = browser.post("/webauthn/register/verify", body)
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_challenge"
    [row] = audit_rows(db, Event.CREDENTIAL_REFUSED)
    assert row.reason == "challenge_replayed"


def test_registration_challenge_of_another_account(
    app: Flask, db: Session, browser: Browser
) -> None:
    make_user(db, app, "alice")
    make_user(db, app, "bob")
    browser.password_login("alice")
    options = browser.creation_options()
    body, _ = browser.authenticator.register(challenge=unb64url(options["challenge"]))
    browser.password_login("bob")  # the same browser, now bob's session
    resp = browser.post("/webauthn/register/verify", body)
    # sign_in() starts a new cookie session: the challenge did not survive the switch.
    assert resp.status_code == 400
    [row] = audit_rows(db, Event.CREDENTIAL_REFUSED)
    assert (row.reason, row.user_id) == ("challenge_not_in_session", 2)


# -- enrolment links: a passkey instead of a password -------------------------------------


@pytest.fixture
def link(app: Flask, db: Session) -> str:
    with app.app_context():
        user = accounts.create_user(db, username="carol", client=SYSTEM, now=utcnow())
        secret = accounts.issue_enrolment_link(db, user, client=SYSTEM, now=utcnow())
        db.commit()
    return secret


def test_enrolment_link_sets_up_a_passkey_only_account(
    browser: Browser, db: Session, link: str
) -> None:
    path = f"/webauthn/enrol/{link}"
    # A failed attempt leaves the link usable ...
    resp, _ = browser.register(path=path, uv=False)
    assert resp.status_code == 400 and resp.get_json()["error"] == "user_not_verified"
    assert browser.client.get(f"/enroll/{link}").status_code == 200
    # ... a good one spends it and signs in.
    resp, credential = browser.register(path=path)
    assert resp.status_code == 201 and resp.get_json()["redirect"] == "/account"
    assert browser.session()["method"] == "passkey"
    carol = db.scalar(select(User).where(User.username == "carol"))
    assert carol is not None
    assert [c.kind for c in carol.active_credentials()] == [CredentialKind.PASSKEY]
    assert browser.client.get(f"/enroll/{link}").status_code == 404
    resp = browser.post(f"{path}/options", {"kind": "passkey"})
    assert resp.status_code == 404 and resp.get_json()["error"] == "enrolment_link_invalid"
    # and the new passkey signs in without a username
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.login(credential).status_code == 200


def test_enrolment_link_used_for_a_password_meanwhile(
    browser: Browser, db: Session, app: Flask, link: str
) -> None:
    options = browser.creation_options(path=f"/webauthn/enrol/{link}")
    body, _ = browser.authenticator.register(
        challenge=unb64url(options["challenge"]), user_handle=unb64url(options["user"]["id"])
    )
    db.execute(
        update(OneTimeToken).where(OneTimeToken.purpose == "enrolment").values(used_at=utcnow())
    )
    db.commit()
    resp = browser.post(f"/webauthn/enrol/{link}/verify", body)
    assert resp.status_code == 404 and passkey_rows(db) == []


# -- sign-in --------------------------------------------------------------------------


def test_username_first_lists_the_accounts_security_keys(
    browser: Browser, enrolled: SoftCredential
) -> None:
    options = browser.request_options("ALICE")
    assert options["allowCredentials"] == [
        {"id": enrolled.id_b64url, "type": "public-key", "transports": ["usb"]}
    ]
    # A non-discoverable credential returns no user handle; allowCredentials named the user.
    resp = browser.login(enrolled, "alice", user_handle=None)
    assert resp.status_code == 200 and browser.session()["username"] == "alice"


def test_unknown_usernames_get_a_stable_plausible_decoy(
    browser: Browser, db: Session, app: Flask, enrolled: SoftCredential
) -> None:
    make_user(db, app, "bob")  # exists, but has no passkey
    real = browser.request_options("alice")["allowCredentials"]
    for name in ("nobody", "bob"):
        first = browser.request_options(name)["allowCredentials"]
        assert first == browser.request_options(name)["allowCredentials"]
        assert len(first) == 1 and first != real
        assert set(first[0]) == set(real[0]) and first[0]["type"] == "public-key"
        assert 16 <= len(unb64url(first[0]["id"])) <= 64
    assert (
        browser.request_options("nobody")["allowCredentials"]
        != browser.request_options("bob")["allowCredentials"]
    )


def test_zero_counters_are_fine(browser: Browser, db: Session, app: Flask) -> None:
    """Synced passkeys report 0 every time (§6.1.1): never a clone."""
    make_user(db, app, "alice")
    browser.authenticator = SoftAuthenticator(
        origin=ORIGIN, rp_id="localhost", counter_step=0, backup_eligible=True
    )
    browser.password_login()
    _, credential = browser.register()
    for _ in range(2):
        browser.client.post("/logout", data={"csrf_token": browser.csrf()})
        assert browser.login(credential).status_code == 200
    [row] = passkey_rows(db)
    assert row.sign_count == 0 and row.clone_flagged_at is None


def test_backup_state_is_kept_current(browser: Browser, db: Session, app: Flask) -> None:
    make_user(db, app, "alice")
    browser.authenticator = SoftAuthenticator(
        origin=ORIGIN, rp_id="localhost", backup_eligible=True
    )
    browser.password_login()
    _, credential = browser.register()
    assert passkey_rows(db)[0].backup_state is False
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.login(credential, bs=True).status_code == 200
    assert passkey_rows(db)[0].backup_state is True


def _flip_signature(body: dict[str, Any]) -> dict[str, Any]:
    sig = bytearray(unb64url(body["response"]["signature"]))
    sig[-1] ^= 1
    body["response"]["signature"] = b64url(bytes(sig))
    return body


AUTHENTICATION_REFUSALS = [
    pytest.param(
        {"origin": "https://evil.example"}, None, 401, "bad_origin", "bad_origin", id="wrong-origin"
    ),
    pytest.param(
        {"origin": "https://localhost.evil.example"},
        None,
        401,
        "bad_origin",
        "bad_origin",
        id="look-alike-origin",
    ),
    pytest.param(
        {"origin": "https://loca1host"},
        None,
        401,
        "bad_origin",
        "bad_origin",
        id="homoglyph-origin",
    ),
    pytest.param(
        {"origin": "http://localhost"}, None, 401, "bad_origin", "bad_origin", id="http-origin"
    ),
    pytest.param(
        {"origin": "https://localhost:8443"}, None, 401, "bad_origin", "bad_origin", id="other-port"
    ),
    pytest.param(
        {"cross_origin": True}, None, 401, "bad_origin", "bad_origin", id="cross-origin-iframe"
    ),
    pytest.param({"rp_id": "evil.example"}, None, 401, "bad_rp_id", "bad_rp_id", id="wrong-rp-id"),
    pytest.param(
        {"type": "webauthn.create"}, None, 401, "bad_type", "bad_type", id="swapped-ceremony"
    ),
    pytest.param({"up": False}, None, 401, "user_not_present", "user_not_present", id="up-0"),
    pytest.param({"uv": False}, None, 401, "user_not_verified", "user_not_verified", id="uv-0"),
    pytest.param({}, _flip_signature, 401, "bad_signature", "bad_signature", id="bad-signature"),
    pytest.param(
        {"be": True},
        None,
        401,
        "backup_eligibility_changed",
        "backup_eligibility_changed",
        id="be-changed",
    ),
    pytest.param({"bs": True}, None, 400, "malformed", "malformed", id="bs-without-be"),
    pytest.param(
        {"user_handle": bytes(64)},
        None,
        401,
        "user_handle_mismatch",
        "user_handle_mismatch",
        id="user-handle-of-nobody",
    ),
    pytest.param(
        {"user_handle": None},
        None,
        401,
        "user_handle_missing",
        "user_handle_missing",
        id="no-user-handle-discoverable",
    ),
    pytest.param(
        {},
        _replace("response.authenticatorData", b64url(b"\x00" * 20)),
        400,
        "malformed",
        "malformed",
        id="malformed-authenticator-data",
    ),
    pytest.param(
        {},
        _replace("response.clientDataJSON", b64url(b"{")),
        400,
        "malformed",
        "malformed",
        id="malformed-client-data",
    ),
    pytest.param(
        {}, lambda body: json.dumps(body)[:-9], 400, "malformed", "malformed", id="malformed-json"
    ),
    pytest.param(
        {}, _replace("type", "password"), 400, "malformed", "malformed", id="wrong-credential-type"
    ),
    pytest.param(
        {},
        lambda b: {**b, "id": b64url(bytes(1024)), "rawId": b64url(bytes(1024))},
        400,
        "malformed",
        "malformed",
        id="over-long-id",
    ),
    pytest.param(
        {},
        lambda b: {**b, "id": b64url(bytes(32)), "rawId": b64url(bytes(32))},
        401,
        "unknown_credential",
        "unknown_credential",
        id="unknown-credential",
    ),
]


@pytest.mark.parametrize(("knobs", "edit", "status", "code", "reason"), AUTHENTICATION_REFUSALS)
def test_authentication_refusals(
    browser: Browser,
    db: Session,
    enrolled: SoftCredential,
    knobs: dict[str, Any],
    edit: Any,
    status: int,
    code: str,
    reason: str,
) -> None:
    resp = browser.login(enrolled, edit=edit, **knobs)
    assert_refused(resp, db, browser, status=status, code=code, reason=reason)
    [row] = passkey_rows(db)
    assert row.sign_count == 0 and row.last_used_at is None and row.clone_flagged_at is None


def test_unknown_credential_is_named_for_the_signal_api(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    stranger = browser.authenticator.register(challenge=bytes(32))[1]
    resp = browser.login(stranger)
    assert resp.get_json() == {
        "error": "unknown_credential",
        "message": resp.get_json()["message"],
        "credentialId": stranger.id_b64url,
        "rpId": "localhost",
    }


def test_another_credentials_signature(
    browser: Browser, db: Session, app: Flask, enrolled: SoftCredential
) -> None:
    other = browser.authenticator.register(challenge=bytes(32))[1]
    resp = browser.login(enrolled, sign_with=other)
    assert_refused(resp, db, browser, status=401, code="bad_signature", reason="bad_signature")


def test_revoked_credential(browser: Browser, db: Session, enrolled: SoftCredential) -> None:
    db.execute(
        update(Credential)
        .where(Credential.kind == CredentialKind.PASSKEY)
        .values(revoked_at=utcnow())
    )
    db.commit()
    resp = browser.login(enrolled)
    assert_refused(
        resp, db, browser, status=401, code="unknown_credential", reason="revoked_credential"
    )


def test_disabled_account(browser: Browser, db: Session, enrolled: SoftCredential) -> None:
    db.execute(update(User).values(status=UserStatus.DISABLED))
    db.commit()
    resp = browser.login(enrolled)
    assert_refused(
        resp, db, browser, status=403, code="account_disabled", reason="account_disabled"
    )


def test_credential_of_another_account_in_username_first_sign_in(
    browser: Browser, db: Session, app: Flask, enrolled: SoftCredential
) -> None:
    bob = make_user(db, app, "bob")
    db.add(
        Credential(
            kind=CredentialKind.PASSKEY,
            user_id=bob.id,
            lookup_key="b0b",
            public_key=b"k",
            sign_count=0,
            transports=["usb"],
        )
    )
    db.commit()
    resp = browser.login(enrolled, "bob")  # bob's options, alice's passkey
    assert_refused(
        resp,
        db,
        browser,
        status=401,
        code="credential_not_allowed",
        reason="credential_not_allowed",
    )


def test_counter_regression_flags_a_possible_clone(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    assert browser.login(enrolled).status_code == 200  # stored count 1
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    resp = browser.login(enrolled, sign_count=1)  # not greater: a copy signed meanwhile
    row = assert_refused(
        resp, db, browser, status=401, code="counter_regression", reason="counter_regression"
    )
    [flag] = audit_rows(db, Event.CREDENTIAL_CLONE_FLAGGED)
    [credential] = passkey_rows(db)
    assert row.credential_id == flag.credential_id == credential.id
    assert credential.clone_flagged_at is not None and credential.sign_count == 1
    assert "possible clone" in _account_page(browser)
    # From now on the flagged credential is refused, even with a higher counter.
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    resp = browser.login(enrolled, sign_count=50)
    assert resp.status_code == 401 and resp.get_json()["error"] == "credential_flagged"


def _account_page(browser: Browser) -> str:
    browser.password_login()
    return str(browser.client.get("/account").get_data(as_text=True))


# -- challenges (C.11) ------------------------------------------------------------------


def test_replayed_assertion_with_the_captured_cookie(
    browser: Browser, db: Session, app: Flask, enrolled: SoftCredential
) -> None:
    body = browser.assertion(enrolled)
    cookie = browser.client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    csrf = browser.csrf()
    assert browser.post("/webauthn/login/verify", body).status_code == 200
    attacker = Browser(app.test_client())
    attacker.client.set_cookie(SESSION_COOKIE, cookie.value, domain="localhost")
    resp = attacker.client.post(
        "/webauthn/login/verify",
        data=json.dumps(body),
        headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
    )
    assert resp.status_code == 401 and resp.get_json()["error"] == "bad_challenge"
    assert attacker.session() == {"authenticated": False} and passkey_sessions(db) == 1
    [row] = audit_rows(db, Event.PASSKEY_FAILURE)
    assert row.reason == "challenge_replayed"


def test_replay_in_the_same_browser(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    body = browser.assertion(enrolled, uv=False)
    assert browser.post("/webauthn/login/verify", body).status_code == 401
    resp = browser.post("/webauthn/login/verify", body)
    assert resp.status_code == 401 and resp.get_json()["error"] == "bad_challenge"
    assert [r.reason for r in audit_rows(db, Event.PASSKEY_FAILURE)] == [
        "user_not_verified",
        "challenge_not_in_session",
    ]


def test_expired_challenge(browser: Browser, db: Session, enrolled: SoftCredential) -> None:
    body = browser.assertion(enrolled)
    db.execute(update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    resp = browser.post("/webauthn/login/verify", body)
    assert_refused(resp, db, browser, status=401, code="bad_challenge", reason="challenge_expired")


def test_challenge_from_another_browser_session(
    browser: Browser, db: Session, app: Flask, enrolled: SoftCredential
) -> None:
    body = browser.assertion(enrolled)  # issued to this browser
    other = Browser(app.test_client(), browser.authenticator)
    other.request_options()  # which has a challenge of its own
    resp = other.post("/webauthn/login/verify", body)
    assert_refused(
        resp, db, other, status=401, code="bad_challenge", reason="challenge_not_in_session"
    )
    # the victim's own challenge was not spent by that
    assert browser.post("/webauthn/login/verify", body).status_code == 200


def test_registration_challenge_answered_at_sign_in(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    assert browser.login(enrolled).status_code == 200
    options = browser.creation_options()
    body = browser.authenticator.authenticate(enrolled, challenge=unb64url(options["challenge"]))
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    resp = browser.post("/webauthn/login/verify", body)
    assert_refused(
        resp, db, browser, status=401, code="bad_challenge", reason="challenge_not_in_session"
    )


def test_several_pending_challenges_in_one_browser(
    browser: Browser, enrolled: SoftCredential
) -> None:
    """Two tabs (or autofill, then the button): each answer finds its own challenge."""
    first = browser.assertion(enrolled)
    second = browser.assertion(enrolled)
    assert browser.post("/webauthn/login/verify", first).status_code == 200
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.post("/webauthn/login/verify", second).status_code == 401  # cleared


# -- envelope: size and CSRF (C.16, E.21) -----------------------------------------------


@pytest.mark.parametrize("path", ["/webauthn/login/verify", "/webauthn/register/verify"])
def test_oversized_body_is_413(
    browser: Browser, db: Session, enrolled: SoftCredential, path: str
) -> None:
    assert browser.login(enrolled).status_code == 200
    body = browser.assertion(enrolled)
    body["padding"] = "x" * (65 * 1024)
    resp = browser.post(path, body)
    assert resp.status_code == 413 and resp.get_json()["error"] == "too_large"
    event = Event.PASSKEY_FAILURE if "login" in path else Event.CREDENTIAL_REFUSED
    assert [r.reason for r in audit_rows(db, event)] == ["too_large"]


def test_missing_csrf_header_is_400(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    body = browser.assertion(enrolled)
    resp = browser.post("/webauthn/login/verify", body, csrf=False)
    assert_refused(resp, db, browser, status=400, code="csrf", reason="csrf")
    # the challenge was not touched: the proper request still works
    assert browser.post("/webauthn/login/verify", body).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/webauthn/login/options",
        "/webauthn/register/options",
        "/webauthn/enrol/x/options",
        "/webauthn/enrol/x/verify",
    ],
)
def test_every_endpoint_needs_the_csrf_header(browser: Browser, path: str) -> None:
    resp = browser.post(path, {}, csrf=False)
    assert resp.status_code == 400 and resp.get_json()["error"] == "csrf"


# -- KEYSTILE_REQUIRE_HARDWARE_KEY_FOR and the MDS blob ---------------------------------


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Every app in this module: administrators need hardware keys (alice is no admin)."""
    return {"require_hardware_key_for": ("admin",)}


def _with_metadata(app: Flask, *entries: MetadataEntry) -> None:
    blob = MetadataBlob(number=1, next_update="2099-01-01", entries={e.aaguid: e for e in entries})
    app.extensions[POLICY] = dataclasses.replace(app.extensions[POLICY], metadata=blob)


def _yubikey(statuses: tuple[str, ...] = ("FIDO_CERTIFIED",)) -> MetadataEntry:
    ca = attestation_ca(YUBIKEY_AAGUID_BYTES)  # what the soft authenticator signs with
    return MetadataEntry(
        aaguid=YUBIKEY_AAGUID,
        description="YubiKey 5 (from MDS)",
        attestation_roots=(ca.root_pem,),
        statuses=statuses,
    )


def _admin(browser: Browser, db: Session, app: Flask) -> None:
    make_user(db, app, "root", admin=True)
    browser.password_login("root")
    browser.authenticator = SoftAuthenticator(
        origin=ORIGIN, rp_id="localhost", aaguid=YUBIKEY_AAGUID
    )


def test_hardware_key_role_refuses_unattested_passkeys(
    browser: Browser, db: Session, app: Flask
) -> None:
    _admin(browser, db, app)
    assert browser.creation_options("passkey")["attestation"] == "direct"
    resp, _ = browser.register("security-key", attestation="packed")
    assert resp.status_code == 403 and resp.get_json()["error"] == "hardware_key_required"
    [row] = audit_rows(db, Event.CREDENTIAL_REFUSED)
    assert row.reason == "attestation_not_verified" and passkey_rows(db) == []


def test_hardware_key_role_accepts_a_verified_device_bound_key(
    browser: Browser, db: Session, app: Flask
) -> None:
    _with_metadata(app, _yubikey())
    _admin(browser, db, app)
    resp, credential = browser.register("security-key", attestation="packed")
    assert resp.status_code == 201, resp.get_json()
    [row] = passkey_rows(db)
    assert (row.attestation_trust, row.model_name) == ("verified", "YubiKey 5 (from MDS)")
    assert "YubiKey 5 (from MDS) (attested)" in browser.client.get("/account").get_data(
        as_text=True
    )
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.login(credential).status_code == 200


def test_hardware_key_role_refuses_synced_passkeys_and_refuses_sign_in(
    browser: Browser, db: Session, app: Flask
) -> None:
    _with_metadata(app, _yubikey())
    _admin(browser, db, app)
    browser.authenticator.backup_eligible = True
    resp, _ = browser.register("passkey", attestation="packed")
    assert resp.status_code == 403
    assert audit_rows(db, Event.CREDENTIAL_REFUSED)[0].reason == "synced_credential"
    # A passkey that predates the setting no longer counts for the role.
    browser.authenticator.backup_eligible = False
    app.extensions[POLICY] = dataclasses.replace(
        app.extensions[POLICY], hardware_key_roles=frozenset()
    )
    _, credential = browser.register("passkey")
    app.extensions[POLICY] = dataclasses.replace(
        app.extensions[POLICY], hardware_key_roles=frozenset({"admin"})
    )
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    resp = browser.login(credential)
    assert_refused(
        resp,
        db,
        browser,
        status=403,
        code="hardware_key_required",
        reason="attestation_not_verified",
    )
    assert db.scalar(select(User.role).where(User.username == "root")) is Role.ADMIN


def test_mds_compromised_model_is_refused(browser: Browser, db: Session, app: Flask) -> None:
    _with_metadata(app, _yubikey(("FIDO_CERTIFIED", "ATTESTATION_KEY_COMPROMISE")))
    make_user(db, app, "alice")
    browser.password_login()
    browser.authenticator = SoftAuthenticator(
        origin=ORIGIN, rp_id="localhost", aaguid=YUBIKEY_AAGUID
    )
    resp, _ = browser.register("security-key", attestation="packed")
    assert resp.status_code == 403 and resp.get_json()["error"] == "authenticator_compromised"
    assert audit_rows(db, Event.CREDENTIAL_REFUSED)[0].reason == "authenticator_compromised"


def test_mds_roots_refuse_a_chain_that_does_not_match_the_claimed_model(
    browser: Browser, db: Session, app: Flask
) -> None:
    _with_metadata(app, _yubikey())
    make_user(db, app, "alice")
    browser.password_login()
    browser.authenticator = SoftAuthenticator(
        origin=ORIGIN, rp_id="localhost", aaguid=YUBIKEY_AAGUID
    )
    other_vendor = attestation_ca(YUBIKEY_AAGUID_BYTES, name="Counterfeit")
    resp, _ = browser.register("security-key", attestation="packed", ca=other_vendor)
    assert resp.status_code == 400 and resp.get_json()["error"] == "untrusted_attestation"


# -- F.24: a credential change needs a sign-in at the account's level --------------------


def test_a_password_session_cannot_change_an_account_that_has_a_security_key(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    from tests.conftest import PASSWORD, AuthActions

    browser.password_login()
    client = browser.client
    change = {
        "current_password": PASSWORD,
        "new_password": "a brand new passphrase here",
        "csrf_token": browser.csrf(),
    }
    resp = client.post("/account/password", data=change)
    assert resp.status_code == 302 and "/login?reauth=1" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "sign in again with your device-bound key" in page
    [key] = passkey_rows(db)
    resp = client.post(f"/account/credentials/{key.id}/remove", data={"csrf_token": browser.csrf()})
    assert resp.status_code == 302 and "/login?reauth=1" in resp.headers["Location"]
    resp = browser.post("/webauthn/register/options", {"kind": "passkey"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "step_up_required"
    db.expire_all()
    assert [k.revoked_at for k in passkey_rows(db)] == [None]
    # Signed in with the key itself, the same changes go through.
    client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.login(enrolled).status_code == 200
    resp = client.post("/account/password", data={**change, "csrf_token": browser.csrf()})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"
    client.post("/logout", data={"csrf_token": browser.csrf()})
    assert AuthActions(client).login(password="a brand new passphrase here").status_code == 303


def test_the_step_up_page_offers_only_the_ways_in_that_reach_the_level(
    browser: Browser, db: Session, enrolled: SoftCredential
) -> None:
    """Sent to sign in again for a change that needs the security key, a password session
    finds no password form (it would only sign in to be refused again): the passkey button
    and the username for a security key, and a sentence naming the level."""
    from tests.conftest import PASSWORD

    browser.password_login()
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase here"}
    resp = browser.client.post("/account/password", data={**change, "csrf_token": browser.csrf()})
    assert "need=device_key" in resp.headers["Location"]
    page = browser.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="reauth-need">For this change, sign in again with your device-bound key,' in page
    assert 'type="password"' not in page and 'id="password-form"' not in page
    assert 'id="certificate-heading"' not in page
    assert 'id="passkey-signin"' in page and 'id="security-key-signin"' in page
    assert re.search(r'<input[^>]*id="username"[^>]*value="alice"', page)
    # Signed in with the key, the same change goes through (the page only advised).
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.login(enrolled).status_code == 200
    resp = browser.client.post("/account/password", data={**change, "csrf_token": browser.csrf()})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


@pytest.mark.parametrize(
    "need", ["hardware_key", "password", "label", "__class__", "hardware_key%20", ""]
)
def test_the_sign_in_page_offers_every_way_in_for_a_need_it_cannot_use(
    app: Flask, db: Session, need: str
) -> None:
    """Signed out, any ``need`` is ignored; signed in, one that names no level above a
    password (or no level at all) leaves the password form where it is."""
    make_user(db, app, "alice")
    client = app.test_client()
    page = client.get(f"/login?reauth=1&need={need}").get_data(as_text=True)
    assert 'id="password-form"' in page and 'id="reauth-need"' not in page
    if need != "hardware_key":
        Browser(client).password_login()
        page = client.get(f"/login?reauth=1&need={need}").get_data(as_text=True)
        assert 'id="password-form"' in page


def test_register_verify_rechecks_the_step_up(app: Flask, db: Session) -> None:
    """TOCTOU: options issued to a password session stay good after the account gains a
    security key; verify adds a credential the password session may no longer add."""
    make_user(db, app, "alice")
    weak = Browser(app.test_client())  # e.g. an attacker with a phished password
    weak.password_login()
    options = weak.creation_options("passkey")
    owner = Browser(app.test_client())
    owner.password_login()
    resp, _ = owner.register("security-key")  # account now needs a hardware-key sign-in
    assert resp.status_code == 201
    # The weak session itself is refused new options now ...
    assert weak.post("/webauthn/register/options", {"kind": "passkey"}).status_code == 403
    # ... but the options it already holds still work.
    body, _ = weak.authenticator.register(
        challenge=unb64url(options["challenge"]), user_handle=unb64url(options["user"]["id"])
    )
    resp = weak.post("/webauthn/register/verify", body)
    assert resp.status_code == 403 and resp.get_json()["error"] == "step_up_required"
