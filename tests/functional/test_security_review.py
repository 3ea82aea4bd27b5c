"""Attacks and bad inputs found by the security review of 2026-11-27, one test each.

Each failed on the code as reviewed: login CSRF through explicit mode's one-time code, Unicode
case folding in UPN/e-mail mapping, certificate sign-in with ``CERT_LOGIN=off``, the admin page
skipping the step-up on the admin's own credentials, JSON or file parts read into forms (500s
and a throttle counted on another username), CR/LF in a certificate subject reaching a mail
header, double or missing audit rows, a clone-flagged passkey counted as a way in, and a key
the library cannot load reaching the certificate services.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from tests.conftest import AuthActions, csrf_from, make_user
from tests.support.pki import Pki
from tests.support.proxied import PROXY, events, pin, via_proxy


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"trusted_proxies": PROXY, "cert_login": "auto"}


def test_refused_certificate_continue_writes_one_audit_row(
    client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    """POST /certificate/login with a certificate that is refused (here: not linked)
    must write exactly one auth:certificate:failure row (threat model F.27)."""
    page = client.get("/login").get_data(as_text=True)  # no certificate: no audit row
    assert events(db, "auth:certificate:failure") == []
    resp = client.post(
        "/certificate/login",
        data={"csrf_token": csrf_from(page)},
        **via_proxy(pki.self_signed.cert),
    )
    assert resp.status_code == 403
    rows = events(db, "auth:certificate:failure")
    assert [r.reason for r in rows] == ["unknown_certificate"]


@pytest.mark.parametrize("app_overrides", [{"trusted_proxies": PROXY, "cert_login": "off"}])
def test_cert_login_off_refuses_certificate_sign_in(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    """KEYSTILE_CERT_LOGIN=off: no certificate sign-in at all, also not by the
    "Continue as ..." form endpoint."""
    pin(db, alice, pki.self_signed.cert)
    page = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert page.status_code == 200 and not auth.is_signed_in()
    client.post(
        "/certificate/login",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
        **via_proxy(pki.self_signed.cert),
    )
    assert not auth.is_signed_in()


@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "trusted_proxies": PROXY,
            "cert_login": "explicit",
            "cert_login_origin": "https://cert.localhost",
        }
    ],
)
def test_explicit_mode_code_is_bound_to_the_browser_that_started(
    app: Flask, db: Session, pki: Pki
) -> None:
    """Login CSRF: the attacker runs /certificate/start with their own certificate and
    sends the victim the /certificate/complete link (or loads it in an <img>). The
    victim's browser must not end up signed in to the attacker's account."""
    from tests.support.proxied import start_link

    mallory = make_user(db, app, "mallory")
    pin(db, mallory, pki.self_signed.cert)
    make_user(db, app, "alice")
    attacker = app.test_client()
    resp = attacker.get(
        start_link(attacker), base_url="https://cert.localhost", **via_proxy(pki.self_signed.cert)
    )
    assert resp.status_code == 303
    path = resp.headers["Location"].removeprefix("https://localhost")

    victim = app.test_client()
    victim_auth = AuthActions(victim)
    assert victim_auth.login().status_code == 303  # alice, signed in
    victim.get(path)  # a cross-site top-level GET: SameSite=Lax does not stop it
    assert victim_auth.session()["username"] == "alice"
    # One attempt, one row: no success was written when the attacker's code was issued.
    assert [e.reason for e in events(db, "auth:certificate:failure")] == ["code_other_browser"]
    assert events(db, "auth:certificate:success") == []
    # The attacker's own browser, which asked for the code, could have used it.


def test_admin_page_does_not_bypass_the_step_up_on_own_credentials(
    client: FlaskClient, db: Session, app: Flask
) -> None:
    """F.24: removing a credential needs a sign-in at least as strong as it. The account
    page enforces this; the admin page lets an admin signed in with (a phished) password
    revoke their own hardware key all the same."""
    from tests.support import factories
    from tests.support.admin import admin_signed_in, post

    admin = admin_signed_in(client, db, app)  # signed in with the password
    key = factories.passkey(db, admin, synced=False, attested=True)
    # The account page refuses: sign in again with the security key.
    resp = post(client, f"/account/credentials/{key.id}/remove", page="/account")
    assert resp.status_code == 302 and "reauth=1" in resp.headers["Location"]
    # The admin page must refuse the same change.
    post(
        client,
        f"/admin/users/{admin.id}/credentials/{key.id}/revoke",
        page=f"/admin/users/{admin.id}",
    )
    db.expire_all()
    assert db.get(type(key), key.id).revoked_at is None


def _json_login(client: FlaskClient, username: Any, password: Any) -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    import json as _json

    return client.post(
        "/login",
        data=_json.dumps({"username": username, "password": password, "csrf_token": token}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )


@pytest.mark.parametrize(
    "app_overrides",
    [{"login_limit_per_account": "3/minute", "login_limit_per_address": "100/minute"}],
)
def test_account_throttle_holds_for_json_bodies(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    """The per-account key reads request.form; so does the form now. A JSON body (which
    Flask-WTF alone would have read into the form) is no sign-in attempt at all, so
    guessing cannot go on in JSON once alice's form guesses are throttled."""
    for _ in range(3):
        assert auth.login(password="wrong wrong wrong").status_code == 401
    assert auth.login(password="wrong wrong wrong").status_code == 429  # alice is throttled
    before = len(events(db, "auth:password:failure"))
    assert _json_login(client, "alice", "still wrong, still wrong").status_code == 415
    assert len(events(db, "auth:password:failure")) == before  # no password was checked


@pytest.mark.parametrize(
    "body",
    [
        {"username": 5, "password": "x"},
        {"username": {"a": 1}, "password": "x"},
        {"username": "alice", "password": 12345678},
        {"username": True, "password": "x"},
    ],
)
def test_login_with_non_string_json_values_is_not_a_500(
    client: FlaskClient, alice: User, body: dict[str, Any]
) -> None:
    resp = _json_login(client, body["username"], body["password"])
    assert resp.status_code < 500


@pytest.mark.parametrize("path", ["/login", "/request-account"])
@pytest.mark.parametrize("raw", ["[1, 2]", '"text"'])
def test_non_object_json_body_on_a_form_is_not_a_500(
    client: FlaskClient, path: str, raw: str
) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(
        path, data=raw, headers={"Content-Type": "application/json", "X-CSRFToken": token}
    )
    assert resp.status_code < 500


def test_file_part_in_a_text_field_is_not_a_500(client: FlaskClient, alice: User) -> None:
    import io

    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login",
        data={"username": (io.BytesIO(b"alice"), "u.txt"), "password": "x", "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert resp.status_code < 500


def _self_signed_with_cn(cn: str) -> Any:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=300))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    "app_overrides",
    [{"trusted_proxies": PROXY, "cert_login": "auto", "smtp_url": "smtp://127.0.0.1:9"}],
)
def test_certificate_subject_with_a_line_break_is_not_a_500_when_mail_is_on(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    """The notice e-mail's Subject is built from the certificate's subject DN, which
    rfc4514_string() leaves CR/LF in; EmailMessage refuses such a header with ValueError,
    which notify() does not catch: the upload answers 500 (nothing is linked)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = _self_signed_with_cn("laptop\r\nBcc: someone@evil.example")
    assert auth.login().status_code == 303
    page = client.get("/certificate/upload").get_data(as_text=True)
    resp = client.post(
        "/certificate/upload",
        data={
            "certificate_text": cert.public_bytes(Encoding.PEM).decode(),
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code < 500


def test_last_usable_credential_cannot_be_removed(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    """F.24 "the last credential cannot be removed": the count includes a passkey flagged
    as a clone, which is refused at every sign-in from then on, so a user can remove their
    password and lock themselves out."""
    from app.models import Credential, CredentialKind
    from tests.support import factories

    factories.passkey(db, alice, synced=True, clone_flagged=True)
    assert auth.login().status_code == 303
    password = db.scalar(
        select(Credential).where(
            Credential.user_id == alice.id, Credential.kind == CredentialKind.PASSWORD
        )
    )
    assert password is not None
    token = csrf_from(client.get("/account").get_data(as_text=True))
    client.post(f"/account/credentials/{password.id}/remove", data={"csrf_token": token})
    db.expire_all()
    assert db.get(Credential, password.id).revoked_at is None  # type: ignore[union-attr]


def _unsupported_curve_certificate() -> Any:
    """A well-formed certificate whose key is on a curve cryptography does not know."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = _self_signed_with_cn("odd-curve").public_bytes(Encoding.DER)
    p256 = bytes.fromhex("06082A8648CE3D030107")  # OID 1.2.840.10045.3.1.7
    assert der.count(p256) == 1
    return x509.load_der_x509_certificate(der.replace(p256, bytes.fromhex("06082A8648CE3D030109")))


@pytest.mark.parametrize("path", ["/login", "/account"])
def test_certificate_with_an_unsupported_key_is_not_a_500(
    client: FlaskClient, auth: AuthActions, alice: User, path: str
) -> None:
    """A.6: the proxy adapter accepts the certificate (it parses), but describe() raises
    CertificateError(malformed) for the key, and identify() calls describe() outside its
    try: every page that looks at the certificate answers 500."""
    if path == "/account":
        assert auth.login().status_code == 303
    resp = client.get(path, **via_proxy(_unsupported_curve_certificate()))
    assert resp.status_code < 500


class TestUpnMapping:
    @pytest.fixture
    def app_overrides(self, pki: Pki) -> dict[str, Any]:
        return {
            "trusted_proxies": PROXY,
            "cert_login": "auto",
            "cert_mapping": "upn",
            "client_ca": str(pki.ca.cert_path),
        }

    @pytest.mark.parametrize(
        "upn",
        [
            "\u212aevin@corp.example.org",  # KELVIN SIGN
            "\u017fam@corp.example.org",
        ],
    )  # LONG S
    def test_upn_mapping_is_exact_not_casefolded(
        self, app: Flask, client: FlaskClient, db: Session, pki: Pki, upn: str
    ) -> None:
        """B.10: identity from "an exact SAN value". The UPN (a UTF8String) is casefolded before
        it is compared with lower(users.email): a certificate the CA issued for the UPN
        "\u212aevin@..." signs in as the user whose verified address is kevin@...."""
        from cryptography import x509

        from app.services.certificates.facts import UPN_OID
        from tests.support.pki import _Builder, _utf8_string

        victim = "kevin" if upn.startswith("\u212a") else "sam"
        user = make_user(db, app, victim, email=f"{victim}@corp.example.org")
        user.email_verified = True
        db.commit()
        cert, _key = _Builder(pki.directory, pki.now).client(
            pki.ca, "mallory", sans=[x509.OtherName(UPN_OID, _utf8_string(upn))]
        )
        headers = {**via_proxy(cert)["headers"], "X-SSL-Client-Verify": "SUCCESS"}
        client.get("/login", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
        assert client.get("/api/session").status_code == 401


@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "trusted_proxies": PROXY,
            "cert_login": "explicit",
            "cert_login_origin": "https://cert.localhost",
        }
    ],
)
def test_explicit_mode_refused_code_is_audited(
    client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    """F.27: every sign-in attempt writes one audit row. A replayed (or expired, or
    revoked-meanwhile) code at /certificate/complete is refused without any."""
    pin(db, alice, pki.self_signed.cert)
    resp = client.get(
        "/certificate/start", base_url="https://cert.localhost", **via_proxy(pki.self_signed.cert)
    )
    path = resp.headers["Location"].removeprefix("https://localhost")
    assert client.get(path).status_code == 303  # signed in
    other = client.application.test_client()
    before = len(db.scalars(select(AuditEvent)).all())
    assert other.get(path).status_code == 303  # replayed: back to /login
    assert other.get("/api/session").status_code == 401
    db.expire_all()
    new = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[before:]
    assert [(e.tag, e.outcome) for e in new] == [("auth:certificate:failure", "failure")]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ali\u0000ce"},
        {"username": "\u0000"},
    ],
    ids=["inside", "alone"],
)
def test_nul_in_a_json_username_is_not_a_500(
    client: FlaskClient, alice: User, body: dict[str, Any]
) -> None:
    """PostgreSQL text cannot hold NUL: a JSON value with one must be refused, not sent."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/webauthn/login/options", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code < 500


def test_nul_in_a_passkey_response_is_not_a_500(client: FlaskClient, alice: User) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    assert client.post("/webauthn/login/options", json={}, headers=headers).status_code == 200
    resp = client.post(
        "/webauthn/login/verify",
        headers=headers,
        json={
            "id": "a\u0000b",
            "rawId": "a\u0000b",
            "type": "public-key",
            "response": {
                "clientDataJSON": "\u0000",
                "authenticatorData": "\u0000",
                "signature": "\u0000",
                "userHandle": "\u0000",
            },
        },
    )
    assert 400 <= resp.status_code < 500
