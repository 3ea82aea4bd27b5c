"""Fixtures shared by the functional tests of passkeys, the gate and the sign-in edge."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import make_user
from tests.support.browser import Browser
from tests.support.soft_authenticator import SoftCredential

#: the sign-in test modules: each of their tests runs with the sign-in edge and without it
#: (Flask answering every request), which must give the same outcomes
BOTH_SIGN_IN_PATHS = frozenset(
    {
        "test_passkeys",
        "test_certificates",
        "test_password_login",
        "test_csrf",
        "test_origin",
        "test_gate",
        "test_gate_assertion",
        "test_handoff",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in BOTH_SIGN_IN_PATHS and "sign_in_edge" in metafunc.fixturenames:
        metafunc.parametrize("sign_in_edge", [True, False], ids=["edge", "flask"])


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
