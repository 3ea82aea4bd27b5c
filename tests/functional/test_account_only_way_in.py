""" "Remove" is not offered on the only credential that can still sign in; the page says why
(issue 15, item 7): the server would refuse it anyway."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from app.services.credentials import only_way_in
from tests.conftest import AuthActions
from tests.support import factories


def _removable(page: str) -> list[str]:
    return re.findall(r'<button type="submit" class="danger" aria-label="Remove ([^"]+)"', page)


def test_the_only_credential_has_no_remove_button(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert _removable(page) == []
    assert "Your only way to sign in, so it cannot be removed: add another first." in page


def test_a_flagged_copy_does_not_count_as_a_way_in(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    flagged = factories.passkey(db, alice, synced=False, model="Flagged key", clone_flagged=True)
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert _removable(page) == ["Flagged key"]  # the password stays the only way in
    assert page.count('class="hint only-way-in"') == 1
    db.refresh(alice)
    assert only_way_in(alice.active_credentials()) is not flagged


def test_with_two_ways_in_either_can_go(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    factories.certificate(db, alice, subject="CN=alice")
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert sorted(_removable(page)) == ["CN=alice", "Password"]
    assert "only-way-in" not in page
