"""Fixtures shared by the functional tests of passkeys and of the sign-in edge."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import make_user
from tests.support.browser import Browser
from tests.support.soft_authenticator import SoftCredential


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def enrolled(browser: Browser, db: Session, app: Flask) -> SoftCredential:
    """alice with a password and one passkey, signed out again."""
    make_user(db, app, "alice")
    browser.password_login()
    resp, credential = browser.register()
    assert resp.status_code == 201, resp.get_json()
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    assert browser.session() == {"authenticated": False}
    return credential
