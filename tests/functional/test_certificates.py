"""Certificate sign-in through a trusted proxy's headers (nginx format), via the test client.

The real proxies doing real handshakes are in tests/e2e; here the headers are what nginx
sends, so every rule of threat model A and B can be checked quickly and exactly.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, User, UserStatus, utcnow
from app.services import credentials
from app.services.audit import SYSTEM
from app.services.certificates import describe
from tests.conftest import AuthActions, csrf_from, make_user
from tests.support.pki import Pki
from tests.support.proxied import (
    CLIENT,
    PROXY,
    events,
    nginx_headers,
    pin,
    start_link,
    via_proxy,
)


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"trusted_proxies": PROXY, "cert_login": "auto"}


@pytest.mark.parametrize("app_overrides", [{"trusted_proxies": "unix", "cert_login": "auto"}])
def test_a_proxy_on_the_unix_socket_is_trusted_when_configured(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    """gunicorn bound to a unix socket reports the peer as an empty address."""
    pin(db, alice, pki.self_signed.cert)
    over_tcp = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert over_tcp.status_code == 200  # 10.9.8.7 is not trusted: the header is ignored
    resp = client.get(
        "/login", headers=nginx_headers(pki.self_signed.cert), environ_base={"REMOTE_ADDR": ""}
    )
    assert resp.status_code == 303 and auth.session()["method"] == "certificate"


def test_pinned_self_signed_certificate_signs_in_without_a_form(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    cred = pin(db, alice, pki.self_signed.cert)
    resp = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"
    data = auth.session()
    assert data["method"] == "certificate" and data["credential_id"] == cred.id
    row = events(db, "auth:certificate:success")[0]
    assert row.details["spki_sha256"] == cred.lookup_key
    assert row.details["serial"] and row.details["issuer"]
    assert row.address == CLIENT


def test_renewed_certificate_with_same_key_still_maps(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    cred = pin(db, alice, pki.self_signed.cert)
    db.commit()
    assert client.get("/login", **via_proxy(pki.renewed_self_signed.cert)).status_code == 303
    assert auth.session()["username"] == "alice"
    # The pin keeps the newest certificate for its key, and the sign-in is recorded on it.
    db.expire_all()
    stored = db.get_one(Credential, cred.id)
    renewed = pki.renewed_self_signed.cert.public_bytes(Encoding.DER)
    assert stored.certificate_der == renewed and stored.proven
    assert stored.last_used_at is not None and stored.user.last_sign_in_at is not None


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"environ_base": {"REMOTE_ADDR": CLIENT}}, id="untrusted-peer"),
        pytest.param(
            {"environ_base": {"REMOTE_ADDR": CLIENT}, "headers": {"X-Forwarded-For": PROXY}},
            id="xff-naming-the-proxy",
        ),
    ],
)
def test_header_from_untrusted_peer_is_ignored_and_audited(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki, how: dict[str, Any]
) -> None:
    pin(db, alice, pki.self_signed.cert)
    headers = {**nginx_headers(pki.self_signed.cert), **how.get("headers", {})}
    resp = client.get("/login", headers=headers, environ_base=how["environ_base"])
    assert resp.status_code == 200
    assert not auth.is_signed_in()
    assert [e.reason for e in events(db, "auth:certificate:header_ignored")] == ["untrusted_peer"]


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_proxy_secret_must_match(
    app: Flask, database_url: str, tmp_path: Path, pki: Pki, secret: str | None
) -> None:
    from tests.conftest import make_app

    app = make_app(
        database_url, tmp_path, trusted_proxies=PROXY, proxy_secret="s3cret-between-proxy-and-app"
    )
    client = app.test_client()
    with app.app_context():
        from app.db import get_db

        db = get_db()
        user = make_user(db, app, "alice")
        pin(db, user, pki.self_signed.cert)
    extra = {"X-Keystile-Proxy-Secret": secret} if secret else {}
    client.get("/login", **via_proxy(pki.self_signed.cert, **extra))
    assert client.get("/api/session").status_code == 401
    ok = {"X-Keystile-Proxy-Secret": "s3cret-between-proxy-and-app"}
    assert client.get("/login", **via_proxy(pki.self_signed.cert, **ok)).status_code == 303


def test_duplicate_or_foreign_certificate_headers_are_refused(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    pem = quote(pki.self_signed.cert.public_bytes(Encoding.PEM).decode(), safe="")
    foreign = via_proxy(pki.self_signed.cert, **{"X-Forwarded-Client-Cert": f"Cert={pem}"})
    resp = client.get("/login", **foreign)
    assert resp.status_code == 200 and not auth.is_signed_in()
    assert 'id="certificate-problem"' in resp.get_data(as_text=True)
    dup = {
        "headers": [
            ("X-SSL-Client-Cert", pem),
            ("X-SSL-Client-Cert", pem),
            ("X-SSL-Client-Verify", "SUCCESS"),
        ],
        "environ_base": {"REMOTE_ADDR": PROXY},
    }
    assert client.get("/login", **dup).status_code == 200
    assert not auth.is_signed_in()
    reasons = [e.reason for e in events(db, "auth:certificate:failure")]
    assert reasons == ["header_foreign_header", "header_duplicate_header"]


@pytest.mark.parametrize(
    "value",
    [
        "%zz",
        "not a cert",
        quote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        "A" * 70000,
    ],
)
def test_garbage_header_is_a_clear_page_not_a_500(
    client: FlaskClient, alice: User, value: str
) -> None:
    resp = client.get(
        "/login",
        headers={"X-SSL-Client-Cert": value, "X-SSL-Client-Verify": "SUCCESS"},
        environ_base={"REMOTE_ADDR": PROXY},
    )
    assert resp.status_code in (200, 400, 431)
    assert client.get("/api/session").status_code == 401


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("expired", "expired on"),
        ("not_yet_valid", "not valid before"),
        ("rsa1024", "weak"),
        ("sha1", "SHA1"),
    ],
)
def test_invalid_certificates_get_a_clear_message(
    client: FlaskClient, alice: User, db: Session, pki: Pki, name: str, needle: str
) -> None:
    cert = getattr(pki, name).cert
    resp = client.get("/login", **via_proxy(cert))
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert needle.lower() in body.lower()
    assert "Sign in with a passkey" in body and 'name="password"' in body
    assert client.get("/api/session").status_code == 401
    row = events(db, "auth:certificate:failure")[-1]
    assert row.details["spki_sha256"] == describe(cert).spki_sha256


def test_unknown_certificate_offers_linking(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    resp = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert "not linked to an account" in resp.get_data(as_text=True)
    assert events(db, "auth:certificate:failure")[0].reason == "unknown_certificate"
    # Sign in with the password while presenting it, then link it.
    token = csrf_from(resp.get_data(as_text=True))
    client.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery staple", "csrf_token": token},
        **via_proxy(pki.self_signed.cert),
    )
    page = client.get("/account", **via_proxy(pki.self_signed.cert)).get_data(as_text=True)
    assert "Use the certificate this browser is presenting" in page
    resp = client.post(
        "/certificate/pin-presented",
        data={"csrf_token": csrf_from(page)},
        **via_proxy(pki.self_signed.cert),
    )
    assert resp.status_code == 303
    cred = db.scalar(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE))
    assert cred is not None and cred.user_id == alice.id and cred.proven
    assert cred.source == "handshake"


def test_one_key_is_never_pinned_by_two_users(
    app: Flask, client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    bob = make_user(db, app, "bob")
    auth = AuthActions(client)
    auth.login(username="bob")
    page = client.get("/certificate/upload").get_data(as_text=True)
    resp = client.post(
        "/certificate/upload",
        data={
            "certificate_text": pki.self_signed.cert.public_bytes(Encoding.PEM).decode(),
            "csrf_token": csrf_from(page),
        },
        follow_redirects=True,
    )
    assert "already registered" in resp.get_data(as_text=True)
    owners = db.scalars(
        select(Credential.user_id).where(Credential.kind == CredentialKind.CERTIFICATE)
    ).all()
    assert owners == [alice.id] and bob.id not in owners


def test_logout_holds_while_the_certificate_is_still_presented(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    cert = via_proxy(pki.self_signed.cert)
    assert client.get("/login", **cert).status_code == 303
    page = client.get("/account", **cert).get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}, **cert).status_code == 303
    login = client.get("/login", **cert)
    assert login.status_code == 200
    assert client.get("/api/session", **cert).status_code == 401
    body = login.get_data(as_text=True)
    assert "Continue as alice with certificate CN=alice-self" in body
    resp = client.post("/certificate/login", data={"csrf_token": csrf_from(body)}, **cert)
    assert resp.status_code == 303
    assert auth.session()["method"] == "certificate"


def test_uploaded_certificate_is_unproven_until_a_handshake(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    auth.login()
    page = client.get("/certificate/upload").get_data(as_text=True)
    der = pki.self_signed.cert.public_bytes(Encoding.DER)
    from io import BytesIO

    resp = client.post(
        "/certificate/upload",
        data={
            "certificate_file": (BytesIO(der), "me.der"),
            "label": "Laptop",
            "csrf_token": csrf_from(page),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    cred = db.scalar(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE))
    assert cred is not None and not cred.proven and cred.label == "Laptop"
    auth.logout()
    with client.session_transaction() as s:
        s.pop("signed_out", None)
    assert client.get("/login", **via_proxy(pki.self_signed.cert)).status_code == 303
    db.expire_all()
    assert db.get(Credential, cred.id).proven  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    ["", "garbage", "-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----"],
)
def test_bad_upload_is_a_clear_400(
    client: FlaskClient, auth: AuthActions, alice: User, data: str
) -> None:
    auth.login()
    page = client.get("/certificate/upload").get_data(as_text=True)
    resp = client.post(
        "/certificate/upload", data={"certificate_text": data, "csrf_token": csrf_from(page)}
    )
    assert resp.status_code == 400


def test_csr_signing_links_and_downloads(
    app: Flask, client: FlaskClient, auth: AuthActions, runner: Any, alice: User, db: Session
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    assert runner.invoke(args=["ca", "init"]).exit_code == 0
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root")]))
        .sign(key, hashes.SHA256())
    )
    auth.login()
    page = client.get("/certificate/csr").get_data(as_text=True)
    assert "openssl req" in page
    resp = client.post(
        "/certificate/csr",
        data={"csr": csr.public_bytes(Encoding.PEM).decode(), "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 200
    cert = x509.load_pem_x509_certificate(resp.data)
    assert cert.subject.rfc4514_string() == "CN=alice"  # the CA ignores the requested subject
    assert cert.public_key() == key.public_key()
    assert (
        db.scalar(
            select(Credential).where(
                Credential.kind == CredentialKind.CERTIFICATE, Credential.source == "csr"
            )
        )
        is not None
    )


class TestCaMode:
    @pytest.fixture
    def app_overrides(self, pki: Pki) -> dict[str, Any]:
        return {
            "trusted_proxies": PROXY,
            "client_ca": str(pki.ca.cert_path),
            "client_crl": str(pki.crl.path),
        }

    def test_ca_issued_pinned_certificate_signs_in(
        self, client: FlaskClient, alice: User, db: Session, pki: Pki
    ) -> None:
        pin(db, alice, pki.good.cert)
        resp = client.get(
            "/login",
            headers=nginx_headers(pki.good.cert, "SUCCESS"),
            environ_base={"REMOTE_ADDR": PROXY},
        )
        assert resp.status_code == 303

    @pytest.mark.parametrize(
        ("name", "verify", "reason"),
        [
            ("revoked", "SUCCESS", "revoked"),
            ("other_ca_client", "FAILED:unable to verify", "untrusted_issuer"),
            ("self_signed", "FAILED:self-signed", "untrusted_issuer"),
            ("no_eku", "SUCCESS", "no_client_auth_eku"),
            ("leaf_ca", "SUCCESS", "leaf_is_ca"),
            ("good", "FAILED:certificate has expired", "proxy_verify_failed"),
            ("good", "NONE", None),  # nginx says no certificate: none is read (A.5)
        ],
    )
    def test_refused(
        self,
        client: FlaskClient,
        alice: User,
        db: Session,
        pki: Pki,
        name: str,
        verify: str,
        reason: str | None,
    ) -> None:
        cert = getattr(pki, name).cert
        pin(db, alice, cert)
        resp = client.get(
            "/login", headers=nginx_headers(cert, verify), environ_base={"REMOTE_ADDR": PROXY}
        )
        assert resp.status_code == 200
        assert client.get("/api/session").status_code == 401
        failures = [e.reason for e in events(db, "auth:certificate:failure")]
        assert failures == ([reason] if reason else [])
        assert events(db, "auth:certificate:success") == []

    def test_stale_crl_fails_closed(
        self, app: Flask, database_url: str, tmp_path: Path, pki: Pki
    ) -> None:
        from tests.conftest import make_app

        app = make_app(
            database_url,
            tmp_path,
            trusted_proxies=PROXY,
            client_ca=str(pki.ca.cert_path),
            client_crl=str(pki.stale_crl.path),
        )
        client = app.test_client()
        with app.app_context():
            from app.db import get_db

            pin(get_db(), make_user(get_db(), app, "alice"), pki.good.cert)
        client.get(
            "/login",
            headers=nginx_headers(pki.good.cert, "SUCCESS"),
            environ_base={"REMOTE_ADDR": PROXY},
        )
        assert client.get("/api/session").status_code == 401


class TestEmailMapping:
    @pytest.fixture
    def app_overrides(self, pki: Pki) -> dict[str, Any]:
        return {
            "trusted_proxies": PROXY,
            "client_ca": str(pki.ca.cert_path),
            "cert_mapping": "email",
        }

    def test_exact_verified_san_email_maps_and_pins(
        self, app: Flask, client: FlaskClient, db: Session, pki: Pki
    ) -> None:
        user = make_user(db, app, "alice", email="alice@example.org")
        headers = nginx_headers(pki.good.cert, "SUCCESS")
        client.get("/login", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
        assert client.get("/api/session").status_code == 401  # e-mail not verified yet
        user = db.get(User, user.id)  # type: ignore[assignment]
        user.email_verified = True
        db.commit()
        assert (
            client.get("/login", headers=headers, environ_base={"REMOTE_ADDR": PROXY}).status_code
            == 303
        )
        cred = db.scalar(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE))
        assert cred is not None and cred.user_id == user.id and cred.source == "ca-first-use"

    def test_other_ca_with_same_email_is_refused(
        self, app: Flask, client: FlaskClient, db: Session, pki: Pki
    ) -> None:
        user = make_user(db, app, "alice", email="alice@example.org")
        user.email_verified = True
        db.commit()
        client.get(
            "/login",
            headers=nginx_headers(pki.other_ca_client.cert, "SUCCESS"),
            environ_base={"REMOTE_ADDR": PROXY},
        )
        assert client.get("/api/session").status_code == 401


class TestExplicitMode:
    @pytest.fixture
    def app_overrides(self) -> dict[str, Any]:
        return {
            "trusted_proxies": PROXY,
            "cert_login": "explicit",
            "cert_login_origin": "https://cert.localhost",
        }

    def test_code_carries_the_sign_in_to_the_main_host(
        self, client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
    ) -> None:
        pin(db, alice, pki.self_signed.cert)
        # The main host does not sign in by itself in explicit mode; it links to the cert host.
        page = client.get("/login", **via_proxy(pki.self_signed.cert))
        assert page.status_code == 200 and not auth.is_signed_in()
        link = start_link(client, query_string={"next": "/account"})
        assert link.startswith("/certificate/start?next=%2Faccount&state=")
        resp = client.get(
            link, base_url="https://cert.localhost", **via_proxy(pki.self_signed.cert)
        )
        assert resp.status_code == 303
        target = resp.headers["Location"]
        assert target.startswith("https://localhost/certificate/complete?code=")
        path = target.removeprefix("https://localhost")
        assert client.get(path).status_code == 303
        assert auth.session()["method"] == "certificate"
        auth.logout()
        assert client.get(path).status_code == 303  # replayed code: back to the login page
        assert client.get("/api/session").status_code == 401

    def test_a_code_dies_with_a_certificate_revoked_meanwhile(
        self, client: FlaskClient, alice: User, db: Session, pki: Pki
    ) -> None:
        cred = pin(db, alice, pki.self_signed.cert)
        resp = client.get(
            start_link(client), base_url="https://cert.localhost", **via_proxy(pki.self_signed.cert)
        )
        path = resp.headers["Location"].removeprefix("https://localhost")
        credentials.remove(db, cred, client=SYSTEM, now=utcnow(), allow_last=True)
        resp = client.get(path)
        assert resp.status_code == 303 and resp.headers["Location"] == "/login"
        assert client.get("/api/session").status_code == 401
        assert [(e.reason, e.credential_id) for e in events(db, "auth:certificate:failure")] == [
            ("revoked_credential", cred.id)
        ]

    def test_start_on_the_main_host_is_404(self, client: FlaskClient, pki: Pki) -> None:
        assert (
            client.get("/certificate/start", **via_proxy(pki.self_signed.cert)).status_code == 404
        )


def test_cert_cli_pin_list_revoke_ends_sessions(
    runner: Any, client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    import json

    assert (
        runner.invoke(args=["cert", "pin", "alice", str(pki.self_signed.cert_path)]).exit_code == 0
    )
    rows = json.loads(runner.invoke(args=["cert", "list", "alice", "--json"]).output)
    assert rows[0]["spki_sha256"] == describe(pki.self_signed.cert).spki_sha256
    assert client.get("/login", **via_proxy(pki.self_signed.cert)).status_code == 303
    result = runner.invoke(args=["cert", "revoke", rows[0]["spki_sha256"]])
    assert result.exit_code == 0 and "1 sessions ended" in result.output
    assert client.get("/api/session").status_code == 401
    again = runner.invoke(args=["cert", "pin", "alice", str(pki.self_signed.cert_path)])
    assert again.exit_code != 0 and "already registered" in again.output


def test_ca_cli_issue_and_crl(runner: Any, alice: User, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    assert runner.invoke(args=["ca", "init"]).exit_code == 0
    assert runner.invoke(args=["ca", "init"]).exit_code != 0  # never replaced
    p12 = tmp_path / "alice.p12"
    result = runner.invoke(args=["ca", "issue", "alice", "--p12", str(p12), "--password", "pw"])
    assert result.exit_code == 0, result.output
    bundle = pkcs12.load_pkcs12(p12.read_bytes(), b"pw")
    assert bundle.cert is not None
    spki = describe(bundle.cert.certificate).spki_sha256
    assert runner.invoke(args=["cert", "revoke", spki]).exit_code == 0
    out = tmp_path / "crl.pem"
    assert runner.invoke(args=["ca", "crl", "--out", str(out)]).exit_code == 0
    crl = x509.load_pem_x509_crl(out.read_bytes())
    assert (
        crl.get_revoked_certificate_by_serial_number(bundle.cert.certificate.serial_number)
        is not None
    )


@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "trusted_proxies": PROXY,
            "cert_login": "auto",
            "cert_sunset_grace_days": 10,
            "cert_sunset": (utcnow() - timedelta(days=11)).date().isoformat(),
        }
    ],
)
def test_cert_cli_refuses_to_pin_after_the_sunset(
    runner: Any, alice: User, db: Session, pki: Pki
) -> None:
    """Past the grace period a pin could never sign in, so the operator is told instead."""
    result = runner.invoke(args=["cert", "pin", "alice", str(pki.self_signed.cert_path)])
    assert result.exit_code != 0 and "certificate sign-in ended on" in result.output
    # Nor does Keystile's own CA issue one (no key file written, nothing pinned).
    assert runner.invoke(args=["ca", "init"]).exit_code == 0
    p12 = pki.directory / "late.p12"
    result = runner.invoke(args=["ca", "issue", "alice", "--p12", str(p12)])
    assert result.exit_code != 0 and "certificate sign-in ended on" in result.output
    assert not p12.exists()
    assert db.scalars(select(Credential).where(Credential.kind == "certificate")).all() == []


def test_an_unproven_upload_sets_no_bar_and_goes_with_the_password(
    app: Flask, db: Session, pki: Pki
) -> None:
    """An uploaded certificate proves nothing (no key was shown): anyone holding the password
    could upload any public certificate, so it must not lock the password out of changes."""
    make_user(db, app, "alice")
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login().status_code == 303
    page = client.get("/certificate/upload").get_data(as_text=True)
    der = pki.self_signed.cert.public_bytes(Encoding.DER)
    resp = client.post(
        "/certificate/upload",
        data={
            "certificate_file": (io.BytesIO(der), "someone-elses.der"),
            "csrf_token": csrf_from(page),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    cert = db.scalar(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE))
    assert cert is not None and not cert.proven
    token = auth.csrf("/account")
    resp = client.post(f"/account/credentials/{cert.id}/remove", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


@pytest.mark.parametrize("case", ["revoked", "disabled"])
def test_a_refused_pin_s_audit_row_names_its_account_and_pin(
    case: str, client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    """Threat model F.27: every attempt's row names the credential (found by review: a
    revoked pin or a disabled account was refused with neither named)."""
    cred = pin(db, alice, pki.self_signed.cert)
    if case == "revoked":
        credentials.remove(db, cred, client=SYSTEM, now=utcnow(), allow_last=True)
    else:
        db.execute(update(User).where(User.id == alice.id).values(status=UserStatus.DISABLED))
        db.commit()
    resp = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert resp.status_code == 200 and not auth.is_signed_in()
    assert "Continue as" not in resp.get_data(as_text=True)
    row = events(db, "auth:certificate:failure")[-1]
    reason = "revoked_pin" if case == "revoked" else "account_disabled"
    assert (row.reason, row.user_id, row.credential_id) == (reason, alice.id, cred.id)
    assert events(db, "auth:certificate:success") == []
