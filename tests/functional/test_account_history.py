"""The account page's history says what each event was: a sign-out is no sign-in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from app.models import User
from app.web.wording import event_text
from tests.conftest import AuthActions


def _history(page: str) -> list[str]:
    """The "What" cell of each row of the history table, newest first."""
    table = page.split('id="events-heading"', 1)[1].split("</table>", 1)[0]
    return re.findall(
        r'<tr class="event-\w+"><td class="when">[^<]*</td>\s*<td>([^<]*)</td>', table
    )


def test_sign_outs_are_listed_as_sign_outs(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    auth.login()
    auth.logout()
    auth.login(password="not the password at all")
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert _history(page) == [
        "signed in",
        "sign-in refused: wrong password",
        "signed out",
        "signed in",
    ]
    assert "Recent sign-ins and sign-outs" in page


def test_event_text_names_every_auth_event() -> None:
    assert event_text("auth:logout", "success") == "signed out"
    assert event_text("auth:passkey:success", "success") == "signed in"
    assert event_text("auth:throttled", "failure", "throttled") == (
        "sign-in refused: too many attempts"
    )
    assert event_text("auth:password:failure", "failure") == "sign-in refused"
    assert event_text("auth:certificate:header_ignored", "failure", "untrusted_peer") == (
        "certificate ignored: untrusted peer"
    )
