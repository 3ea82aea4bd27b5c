"""Users hear of every credential change and of sign-ins by a new method: a notice on the
account page, and e-mail through a real SMTP server (aiosmtpd) that the tests start."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Notice, User
from tests.conftest import PASSWORD, AuthActions, csrf_from, make_user
from tests.support.admin import admin_signed_in, post
from tests.support.pki import Pki
from tests.support.proxied import PROXY, pin, via_proxy


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        with self.lock:
            return [m["Subject"] for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp: tuple[int, Inbox]) -> Inbox:
    smtp[1].messages.clear()
    return smtp[1]


@pytest.fixture
def app_overrides(smtp: tuple[int, Inbox]) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp[0]}",
        "mail_from": "keystile@example.org",
        "trusted_proxies": PROXY,
        "cert_login": "auto",
    }


def test_password_change_is_mailed(
    client: FlaskClient, auth: AuthActions, alice: User, inbox: Inbox
) -> None:
    auth.login()
    token = csrf_from(client.get("/account").get_data(as_text=True))
    client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "csrf_token": token,
            "new_password": "a new and longer passphrase",
        },
    )
    assert inbox.to("alice@example.org") == ["Keystile: Your password was changed."]
    message = inbox.messages[-1]
    assert message["From"] == "keystile@example.org"
    assert "Your password was changed." in message.get_content()


def test_rename_and_new_credentials_are_mailed(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, pki: Pki, inbox: Inbox
) -> None:
    cred = pin(db, alice, pki.self_signed.cert)  # the CLI path: no mailer, a notice only
    auth.login()
    token = csrf_from(client.get("/account").get_data(as_text=True))
    client.post(
        f"/account/credentials/{cred.id}/rename", data={"label": "Work laptop", "csrf_token": token}
    )
    subjects = inbox.to("alice@example.org")
    assert len(subjects) == 1 and subjects[0].startswith("Keystile: A certificate of your")
    assert "is now Work laptop" in inbox.messages[-1].get_content()


def test_sign_in_by_a_new_method_is_mailed_once(
    app: Flask, auth: AuthActions, alice: User, db: Session, pki: Pki, inbox: Inbox
) -> None:
    pin(db, alice, pki.self_signed.cert)
    auth.login()  # the first sign-in ever: nothing new to tell
    assert inbox.to("alice@example.org") == []
    for _ in range(2):  # two other browsers presenting the certificate
        browser = app.test_client()
        browser.get("/login", **via_proxy(pki.self_signed.cert))
        assert AuthActions(browser).session()["method"] == "certificate"
    subjects = inbox.to("alice@example.org")
    assert len(subjects) == 1
    assert subjects[0].startswith("Keystile: You signed in with a certificate for the first")
    assert "sign out everywhere" in inbox.messages[-1].get_content()
    notices = db.scalars(select(Notice.tag).where(Notice.user_id == alice.id)).all()
    assert notices.count("account:sign_in:new_method") == 1


def test_admin_revocation_is_mailed(
    client: FlaskClient, db: Session, app: Flask, inbox: Inbox
) -> None:
    admin_signed_in(client, db, app)
    bob = make_user(db, app, "bob")
    post(client, f"/admin/users/{bob.id}/credentials/{bob.credentials[0].id}/revoke")
    post(client, f"/admin/users/{bob.id}/sessions/end-all")
    assert inbox.to("bob@example.org") == [
        "Keystile: Your password was removed.",
        "Keystile: An administrator ended all your sessions. Sign in again to continue.",
    ]


@pytest.mark.parametrize("app_overrides", [{"smtp_url": f"smtp://127.0.0.1:{free_port()}"}])
def test_mail_server_down_does_not_undo_the_change(
    client: FlaskClient,
    auth: AuthActions,
    alice: User,
    db: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth.login()
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new and longer passphrase",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 303
    assert "could not send mail" in caplog.text
    assert db.scalar(
        select(Notice).where(Notice.user_id == alice.id, Notice.tag == "account:password:changed")
    )
