"""The account page's order, names and notices (issue 15, item 10)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from tests.conftest import AuthActions, csrf_from
from tests.support import factories


def _notices(page: str) -> list[str]:
    if 'id="notices-heading"' not in page:
        return []
    box = page.split('id="notices-heading"', 1)[1].split("</section>", 1)[0]
    return [m.strip() for m in re.findall(r"</time>([^<]*)</li>", box)]


def test_adding_keys_comes_before_and_apart_from_certificates(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    add, certificates = page.index('id="add-passkey"'), page.index("<h3>Certificates</h3>")
    assert page.index("<h3>Add a passkey or a security key</h3>") < add < certificates


def test_notices_name_what_was_added(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    factories.passkey(db, alice, synced=False, model="YubiKey 5 Series")  # usb: a security key
    factories.certificate(db, alice, subject="CN=alice")
    auth.login()
    assert _notices(client.get("/account").get_data(as_text=True)) == [
        "A certificate was added to your account: CN=alice.",
        "A security key was added to your account: YubiKey 5 Series.",
        "A password was added to your account.",
    ]


def test_a_change_made_here_is_said_once_here_and_told_elsewhere(
    app: Flask, client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    cert = factories.certificate(db, alice, subject="CN=alice")
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    client.post("/account/notices/read", data={"csrf_token": csrf_from(page)})
    client.post(
        f"/account/credentials/{cert.id}/rename",
        data={"csrf_token": csrf_from(page), "label": "Work laptop"},
    )
    page = client.get("/account").get_data(as_text=True)
    assert "Renamed." in page and _notices(page) == []
    other = app.test_client()
    AuthActions(other).login()
    assert _notices(other.get("/account").get_data(as_text=True)) == [
        "A certificate of your account was renamed: CN=alice is now Work laptop."
    ]


def test_notices_do_not_pile_up(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    for n in range(7):
        factories.certificate(db, alice, subject=f"CN=alice{n}")
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert len(_notices(page)) == 5 and "Older unread notices are not shown" in page


def test_the_rename_box_holds_the_whole_name_and_dates_do_not_break(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    cert = factories.certificate(db, alice, subject="CN=alice,O=Example Corporation")
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    field = re.search(rf'<input id="label-{cert.id}"[^>]*>', page)
    assert field and 'value="CN=alice,O=Example Corporation"' in field.group(0)
    assert "size=" not in field.group(0)  # the width is the stylesheet's, not 14 characters
    row = page.split(f'id="credential-{cert.id}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'<td class="when" data-label="Added">\d{4}-\d\d-\d\d</td>', row)
