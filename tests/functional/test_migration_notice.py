"""The move from a certificate file to a hardware-backed key: the account page's notice and
the certificate sunset (``KEYSTILE_CERT_SUNSET``) at each of its stages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User, utcnow
from app.services import credentials
from app.services.audit import SYSTEM
from tests.conftest import AuthActions, csrf_from
from tests.support import factories
from tests.support.pki import Pki
from tests.support.proxied import PROXY, events, pin, via_proxy

TODAY = utcnow().date()


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"trusted_proxies": PROXY, "cert_login": "auto"}


def sunset(days_from_today: int, grace: int = 30) -> dict[str, Any]:
    return {
        "trusted_proxies": PROXY,
        "cert_login": "auto",
        "cert_sunset_grace_days": grace,
        "cert_sunset": (TODAY + timedelta(days=days_from_today)).isoformat(),
    }


def notice(client: FlaskClient) -> str:
    page = client.get("/account").get_data(as_text=True)
    found = re.search(r'<section aria-labelledby="migration-heading".*?</section>', page, re.S)
    return found.group(0) if found else ""


def cert_sign_in(client: FlaskClient, pki: Pki) -> int:
    return client.get("/login", **via_proxy(pki.self_signed.cert)).status_code


def test_after_a_certificate_sign_in_offer_a_key(
    client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    assert cert_sign_in(client, pki) == 303
    box = notice(client)
    assert "Your certificate is a file on this computer" in box
    assert 'href="#add-security-key"' in box and 'href="#add-passkey"' in box
    assert "Retire certificate" not in box


def test_no_notice_after_a_password_sign_in(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    assert auth.login().status_code == 303 and auth.session()["method"] == "password"
    assert notice(client) == ""


def test_with_a_passkey_offer_to_retire_the_certificate(
    client: FlaskClient, alice: User, db: Session, pki: Pki, auth: AuthActions
) -> None:
    cert = pin(db, alice, pki.self_signed.cert)
    factories.passkey(db, alice, synced=True)
    assert cert_sign_in(client, pki) == 303
    box = notice(client)
    assert "You can retire your certificate" in box
    form = re.search(r'<form method="post" action="([^"]+)"', box)
    assert form and form.group(1) == f"/account/credentials/{cert.id}/remove"
    resp = client.post(form.group(1), data={"csrf_token": csrf_from(box)})
    assert resp.status_code == 303
    db.expire_all()
    assert cert.revoked_at is not None
    # The owner's own session goes on (any other session the certificate opened ended), and
    # the notice has nothing left to offer.
    assert auth.is_signed_in()
    assert "retire" not in notice(client)


@pytest.mark.parametrize("app_overrides", [{**sunset(0), "require_hardware_key_for": "admin"}])
def test_admins_need_an_attested_key_before_retiring(
    client: FlaskClient, db: Session, app: Flask, pki: Pki
) -> None:
    from tests.conftest import make_user

    root = make_user(db, app, "root", admin=True)
    pin(db, root, pki.self_signed.cert)
    factories.passkey(db, root, synced=True)
    assert cert_sign_in(client, pki) == 303
    box = notice(client)
    assert "Your certificate is a file" in box and "add-passkey" not in box
    factories.passkey(db, root, synced=False, attested=True)
    assert "Retire certificate" in notice(client)


@pytest.mark.parametrize(
    ("app_overrides", "says"),
    [
        (sunset(10), "you will be asked to move"),
        (sunset(-5), "It stops working on"),
    ],
    ids=["announced", "grace-period"],
)
def test_sunset_before_refusal_still_signs_in_and_warns(
    client: FlaskClient, alice: User, db: Session, pki: Pki, says: str
) -> None:
    pin(db, alice, pki.self_signed.cert)
    assert cert_sign_in(client, pki) == 303
    assert says in notice(client)


@pytest.mark.parametrize("app_overrides", [sunset(-40)])
def test_after_the_grace_period_certificates_are_refused_with_guidance(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    cred = pin(db, alice, pki.self_signed.cert)
    resp = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert resp.status_code == 200 and not auth.is_signed_in()
    ended = (TODAY - timedelta(days=10)).strftime("%d %B %Y")
    assert f"Certificate sign-in ended on {ended}" in resp.get_data(as_text=True)
    row = events(db, "auth:certificate:failure")[-1]
    assert (row.reason, row.user_id, row.credential_id) == ("certificate_sunset", alice.id, cred.id)
    form_post = client.post(
        "/certificate/login",
        data={"csrf_token": csrf_from(resp.get_data(as_text=True))},
        **via_proxy(pki.self_signed.cert),
    )
    assert form_post.status_code == 403 and not auth.is_signed_in()
    # other methods still work, and the notice explains
    assert auth.login().status_code == 303 and auth.is_signed_in()
    assert "Certificate sign-in ended on" in notice(client)


@pytest.mark.parametrize("app_overrides", [sunset(-40)])
def test_after_the_sunset_a_revoked_pin_is_still_audited_as_revoked(
    client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    """The more precise refusal wins (found by review: the sunset overwrote it)."""
    cred = pin(db, alice, pki.self_signed.cert)
    credentials.remove(db, cred, client=SYSTEM, now=utcnow(), allow_last=True)
    client.get("/login", **via_proxy(pki.self_signed.cert))
    row = events(db, "auth:certificate:failure")[-1]
    assert (row.reason, row.user_id, row.credential_id) == ("revoked_pin", alice.id, cred.id)


@pytest.mark.parametrize("app_overrides", [sunset(-40)])
def test_after_the_grace_period_no_new_certificate_is_linked(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki
) -> None:
    from app.models import Credential, CredentialKind

    assert auth.login().status_code == 303 and auth.is_signed_in()
    page = client.get("/account", **via_proxy(pki.self_signed.cert)).get_data(as_text=True)
    for path, data in [
        ("/certificate/pin-presented", {}),
        ("/certificate/upload", {"certificate_text": pki.self_signed.pem}),
    ]:
        resp = client.post(
            path,
            data={**data, "csrf_token": csrf_from(page)},
            follow_redirects=True,
            **via_proxy(pki.self_signed.cert),
        )
        assert "Certificate sign-in ended on" in resp.get_data(as_text=True), path
    assert db.query(Credential).filter_by(kind=CredentialKind.CERTIFICATE).count() == 0
