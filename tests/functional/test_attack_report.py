"""The operator sees an attack; a targeted user is told (issue 17).

Audit rows are seeded as the sign-in writes them (``record``), some moved out of the window,
and every figure of the dashboard section, ``keystile report attacks`` and the account
page's notice is checked against them.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User, utcnow
from app.services.attacks import attack_report, targeted_notice
from app.services.audit import Client, Event, record
from tests.conftest import AuthActions, make_user
from tests.support.admin import admin_signed_in


def _fail(db: Session, address: str, user: User | None, reason: str, times: int = 1) -> None:
    for _ in range(times):
        record(
            db,
            Event.PASSWORD_FAILURE,
            client=Client(address=address),
            success=False,
            user=user,
            method="password",
            reason=reason,
            details={} if user else {"username": "nobody"},
        )
    db.commit()


def _refused(db: Session, address: str, reason: str) -> None:
    record(
        db,
        Event.THROTTLED,
        client=Client(address=address),
        success=False,
        method="password",
        reason=reason,
        details={"key": address},
    )
    db.commit()


def _age_all(db: Session, by: timedelta) -> None:
    for row in db.scalars(select(AuditEvent)):
        row.created_at -= by
    db.commit()


@pytest.fixture
def seeded(db: Session, app: Flask) -> dict[str, User]:
    """An hour ago and more: 7 failures (not counted). In the last hour: alice 5 wrong
    passwords from 10.0.0.1 and 2 from 10.0.0.2, bob 3 from 10.0.0.2, 4 unknown usernames
    from 10.0.0.3; refusals: two keys throttled, one busy."""
    alice, bob = make_user(db, app, "alice"), make_user(db, app, "bob")
    _fail(db, "10.0.0.9", alice, "wrong_password", 7)
    _refused(db, "10.0.0.9", "throttled")
    _age_all(db, timedelta(minutes=61))
    _fail(db, "10.0.0.1", alice, "wrong_password", 5)
    _fail(db, "10.0.0.2", alice, "wrong_password", 2)
    _fail(db, "10.0.0.2", bob, "wrong_password", 3)
    _fail(db, "10.0.0.3", None, "unknown_user", 4)
    _refused(db, "10.0.0.1", "throttled")
    _refused(db, "10.0.0.2", "throttled")
    _refused(db, "10.0.0.3", "busy")
    return {"alice": alice, "bob": bob}


def test_the_last_hour_in_figures(db: Session, seeded: dict[str, User]) -> None:
    report = attack_report(db, now=utcnow() + timedelta(seconds=1))
    assert (report.failures, report.unknown_usernames) == (14, 4)
    assert report.failures_per_minute == 0.2
    assert dict(report.refusals) == {"throttled": 2, "busy": 1}
    assert [(a.address, a.failures, a.accounts) for a in report.top_addresses] == [
        ("10.0.0.1", 5, 1),
        ("10.0.0.2", 5, 2),
        ("10.0.0.3", 4, 0),
    ]
    assert [(u.username, u.failures, u.addresses) for u in report.targeted_accounts] == [
        ("alice", 7, 2),
        ("bob", 3, 1),
    ]
    assert report.targeted_accounts[0].first_at >= utcnow() - timedelta(minutes=5)


def test_nothing_to_report(db: Session, app: Flask) -> None:
    report = attack_report(db, now=utcnow())
    assert (report.failures, report.refusals, report.top_addresses, report.targeted_accounts) == (
        0,
        (),
        (),
        (),
    )


def test_the_cli_reports_the_same(runner: Any, seeded: dict[str, User]) -> None:
    result = runner.invoke(args=["report", "attacks", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["failed_password_sign_ins"] == 14 and data["unknown_usernames"] == 4
    assert data["refusals"] == {"throttled": 2, "busy": 1}
    assert [a["address"] for a in data["top_addresses"]] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert [(u["username"], u["failures"], u["addresses"]) for u in data["targeted_accounts"]] == [
        ("alice", 7, 2),
        ("bob", 3, 1),
    ]
    text = runner.invoke(args=["report", "attacks"])
    assert text.exit_code == 0, text.output
    assert "14 failed password sign-ins (0.2/minute), 4 naming no account" in text.stdout
    assert "refused (keys per window): throttled 2, busy 1" in text.stdout
    assert re.search(r"account  alice +7 failures  2 addresses", text.stdout)
    wider = runner.invoke(args=["report", "attacks", "--json", "--minutes", "120"])
    assert json.loads(wider.stdout)["failed_password_sign_ins"] == 21


def test_the_cli_refuses_a_bad_window(runner: Any) -> None:
    result = runner.invoke(args=["report", "attacks", "--minutes", "0"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_the_dashboard_shows_the_last_hour(
    client: FlaskClient, db: Session, app: Flask, seeded: dict[str, User]
) -> None:
    admin_signed_in(client, db, app)
    page = client.get("/admin/").get_data(as_text=True)
    section = page[page.index('id="attacks"') :]
    section = section[: section.index("</section>")]
    assert "14 (0.2 a minute; 4 naming no account)" in section
    assert "<dt>Refused: too many attempts</dt><dd>2 addresses or accounts</dd>" in section
    assert "<dt>Refused: sign-in was too busy</dt><dd>1 address or account</dd>" in section
    rows = re.findall(
        r"<tr><td>(?:<a [^>]+>)?([^<]+)(?:</a>)?</td><td>([\d,]+)</td>"
        r"<td>(\d+)</td>",
        section,
    )
    assert rows == [
        ("10.0.0.1", "5", "1"),
        ("10.0.0.2", "5", "2"),
        ("10.0.0.3", "4", "0"),
        ("alice", "7", "2"),
        ("bob", "3", "1"),
    ]
    assert "10.0.0.9" not in section


def test_a_targeted_user_is_told_without_the_addresses(
    client: FlaskClient, db: Session, app: Flask, seeded: dict[str, User]
) -> None:
    alice = seeded["alice"]
    # 7 + 7 wrong passwords in the last week, from 3 addresses; 14 >= the notice's 10
    notice = targeted_notice(db, alice.id, now=utcnow() + timedelta(seconds=1))
    assert notice is not None and (notice.wrong_passwords, notice.addresses) == (14, 3)
    auth = AuthActions(client)
    assert auth.login().status_code == 303
    page = client.get("/account").get_data(as_text=True)
    notice_html = page[page.index('id="password-guesses"') :]
    notice_html = notice_html[: notice_html.index("</section>")]
    assert "Someone is guessing your password" in notice_html
    assert re.search(
        r"14 wrong passwords were given for your account from 3 different "
        r"addresses since <time",
        notice_html,
    )
    assert not re.search(r"10\.0\.0\.\d", notice_html)


def test_no_notice_below_the_threshold_or_for_others(
    client: FlaskClient, db: Session, app: Flask, seeded: dict[str, User]
) -> None:
    assert targeted_notice(db, seeded["bob"].id, now=utcnow()) is None  # 3 < 10
    _age_all(db, timedelta(days=8))  # alice's too are now older than a week
    assert targeted_notice(db, seeded["alice"].id, now=utcnow()) is None
    auth = AuthActions(client)
    assert auth.login("bob").status_code == 303
    assert "Someone is guessing" not in client.get("/account").get_data(as_text=True)
