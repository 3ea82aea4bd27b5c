"""The first administrator, set up from the one-time link, lands on their account page and
finds the way to Administration there (issue 15, item 8)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import AccountRequest, Role, utcnow
from app.services import accounts
from app.services.audit import SYSTEM
from tests.conftest import PASSWORD, AuthActions, csrf_from


def _main(page: str) -> str:
    return page.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def test_the_first_administrator_is_pointed_to_administration(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    with app.app_context():
        admin = accounts.create_user(
            db, username="admin", role=Role.ADMIN, client=SYSTEM, now=utcnow()
        )
        secret = accounts.issue_enrolment_link(db, admin, client=SYSTEM, now=utcnow())
        db.add(AccountRequest(username="bob", username_normalized="bob", email="b@example.org"))
        db.commit()
    form = client.get(f"/enroll/{secret}").get_data(as_text=True)
    done = client.post(
        f"/enroll/{secret}",
        data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_from(form)},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    main = _main(client.get("/account").get_data(as_text=True))
    assert re.search(r'<a href="/admin/" id="go-to-administration">Go to Administration</a>', main)
    assert '<a href="/admin/requests">1 waiting</a>' in main


def test_other_users_see_no_pointer(client: FlaskClient, auth: AuthActions, alice: object) -> None:
    auth.login()
    main = _main(client.get("/account").get_data(as_text=True))
    assert "/admin/" not in main and "administrator" not in main
