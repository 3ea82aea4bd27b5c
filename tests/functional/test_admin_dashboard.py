"""The admin dashboard: SVG charts with their tables, the funnel, and who policies affect."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import utcnow
from tests.conftest import make_user
from tests.support import factories
from tests.support.admin import admin_signed_in

SUNSET = utcnow().date() + timedelta(days=20)


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {
        "cert_sunset": SUNSET.isoformat(),
        "cert_sunset_grace_days": 10,
        "require_hardware_key_for": "admin",
    }


@pytest.fixture
def page(client: FlaskClient, db: Session, app: Flask) -> str:
    admin_signed_in(client, db, app)  # root: an admin with a password only
    cora = make_user(db, app, "cora", password=None)
    factories.certificate(db, cora)
    carl = make_user(db, app, "carl")
    factories.certificate(db, carl)
    sam = make_user(db, app, "sam")
    factories.passkey(db, sam, synced=True)
    hana = make_user(db, app, "hana", admin=True)
    factories.passkey(db, hana, synced=False, attested=True)
    dina = make_user(db, app, "dina")  # a laptop's passkey: device-bound, attestation none
    factories.passkey(db, dina, synced=False, model="Chrome on Mac")
    return client.get("/admin/").get_data(as_text=True)


def table(page: str, caption: str) -> dict[str, list[str]]:
    """A chart's table for screen readers: first cell of each row -> the other cells."""
    start = page.index(f"<caption>{caption}</caption>")
    body = page[start : page.index("</table>", start)]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>(.*?)</tr>", body, re.S)
    return {head: re.findall(r"<td>([^<]*)</td>", cells) for head, cells in rows}


def test_funnel_counts_users_by_strongest_credential(page: str) -> None:
    funnel = table(page, "Active users by strongest credential")
    assert funnel == {
        "no credential": ["0"],
        "password only": ["1"],
        "certificate file": ["2"],
        "synced passkey": ["1"],
        "device-bound key": ["1"],
        "attested hardware key": ["1"],
    }
    assert "security key" not in page  # hardware is counted only where attested


def test_policies_show_who_is_affected(page: str) -> None:
    sunset = page[page.index('id="policy-cert-sunset"') : page.index('id="policy-hardware-key"')]
    assert SUNSET.isoformat() in sunset
    assert (SUNSET + timedelta(days=10)).isoformat() in sunset
    figures = re.findall(r"<dd>(?:<a [^>]+>)?(\d+)", sunset)
    assert figures == ["2", "2", "1"]  # holders, no passkey to move to, certificates only
    hardware = page[page.index('id="policy-hardware-key"') :]
    assert "admins without an attested hardware key (of 2)" in hardware
    assert re.search(r'filter=hardware-key-policy">1</a>', hardware)


def test_charts_are_svg_with_tables(page: str) -> None:
    # the funnel, then one small chart per strength (5) and per method (3); no failures yet
    assert page.count('<svg class="chart"') == 9 == page.count('role="img"')
    assert "<script" not in page.split("</main>")[0].split("<main")[1]
    mix = table(page, "Live credentials by strength, per day")
    today = utcnow().date().isoformat()
    assert len(mix) == 30 and mix[today] == ["5", "2", "1", "1", "1"]
    sign_ins = table(page, "Successful sign-ins per method, per day")
    assert sign_ins[today][0] == "1"  # root's password sign-in
    assert "No failed sign-ins in this period." in page


def test_failures_by_reason(client: FlaskClient, page: str, app: Flask) -> None:
    from tests.conftest import AuthActions

    other = app.test_client()
    for _ in range(2):
        AuthActions(other).login("carl", "not carl's password at all")
    AuthActions(other).login("nobody-here", "whatever it is")
    again = client.get("/admin/").get_data(as_text=True)
    failures = table(again, "Failed sign-ins by reason, last 30 days")
    # in words, not codes
    assert failures == {"password: wrong password": ["2"], "password: unknown user": ["1"]}


@pytest.mark.parametrize(("days", "shown"), [("7", 7), ("90", 90), ("13", 30), ("x", 30)])
def test_dashboard_windows(
    client: FlaskClient, db: Session, app: Flask, days: str, shown: int
) -> None:
    admin_signed_in(client, db, app)
    page = client.get(f"/admin/?days={days}").get_data(as_text=True)
    assert len(table(page, "Live credentials by strength, per day")) == shown
    assert f'days={shown}" aria-current="true"' in page


@pytest.mark.parametrize("app_overrides", [{}])
def test_no_policies_configured(client: FlaskClient, db: Session, app: Flask) -> None:
    admin_signed_in(client, db, app)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Not scheduled" in page and "No role requires one" in page


def test_one_active_user_is_one(client: FlaskClient, db: Session, app: Flask) -> None:
    admin_signed_in(client, db, app)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="active-users">1 active user,' in page


@pytest.mark.parametrize("app_overrides", [{}])
def test_a_zero_is_no_link(client: FlaskClient, db: Session, app: Flask) -> None:
    admin_signed_in(client, db, app)
    page = client.get("/admin/").get_data(as_text=True)
    sunset = page[page.index('id="policy-cert-sunset"') : page.index('id="policy-hardware-key"')]
    assert re.findall(r"<dd>([^<]*)</dd>", sunset) == ["0", "0", "0"]


def test_equal_series_each_have_their_own_chart(page: str) -> None:
    """Overlapping lines hid equal counts; each series now has its own panel."""
    mix = page[
        page.index('id="credential-mix"') : page.index(
            "</figure>", page.index('id="credential-mix"')
        )
    ]
    titles = re.findall(r'class="panel-title"[^>]*>([^<]+)<span', mix)
    assert [t.strip() for t in titles] == [
        "password",
        "certificate file",
        "synced passkey",
        "device-bound key",
        "attested hardware key",
    ]
