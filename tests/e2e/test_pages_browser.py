"""What people see, in a real browser at 1280 px and at phone width (issue 15): the account
page's history and credential names, its layout, the header's one link colour, the password
"Sign in" as the primary action, the certificate card on plain http, and full-width
dashboard charts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import Authenticators, LiveServer
from tests.support import factories

pytestmark = pytest.mark.e2e

WIDE, PHONE = 1280, 390
ACCOUNT = re.compile(r"/account$")

#: how many lines each element's text takes (a Range's client rects, one per line box)
LINES = """els => els.map(el => { const r = document.createRange(); r.selectNodeContents(el);
  return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })"""


def _sign_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(ACCOUNT)


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE, page.url


def test_the_account_page_as_its_owner_sees_it(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    db = live_server.db()
    alice = make_user(db, live_server.app, "alice")
    db.close()
    page.set_viewport_size({"width": WIDE, "height": 900})
    _sign_in(page, live_server, "alice")
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(re.compile(r"/login"))
    _sign_in(page, live_server, "alice")

    # 1: a sign-out is listed as one
    history = page.get_by_role("table", name=re.compile("Recent sign-ins, refused"))
    assert history.locator("tr", has_text="signed out").count() == 1
    assert history.locator("tr", has_text="signed in").count() == 2

    # 2: a passkey made on the computer, attestation none, is no security key
    authenticators.add("internal")
    page.get_by_role("button", name="Add a passkey").click()
    facts = page.locator(".passkey-facts")
    facts.wait_for()
    assert facts.inner_text() == "Passkey on this device"
    row = page.locator("tr", has=facts).inner_text()
    assert "device-bound key" in row and "hardware" not in row and "Security key" not in row
    # 10: the flash says it; the notice box does not say it again in this browser
    assert page.locator(".flash.success").inner_text().startswith("Added a passkey")
    assert (
        page.locator("#notices-heading").count() == 0
        or "passkey" not in page.locator(".notices").inner_text()
    )

    # 10: adding keys is not under "Certificates"; dates never break; the name fits its box
    db = live_server.db()
    factories.certificate(
        db, db.merge(alice), subject="CN=alice,O=Example Corporation,OU=Engineering"
    )
    db.close()
    page.reload()
    add = page.get_by_role("button", name="Add a passkey")
    heading = page.get_by_role("heading", name="Add a passkey or a security key")
    certificates = page.get_by_role("heading", name="Certificates", exact=True)
    assert heading.bounding_box()["y"] < add.bounding_box()["y"] < certificates.bounding_box()["y"]
    assert set(page.locator("td.when").evaluate_all(LINES)) == {1}
    cert_row = page.locator("tr", has=page.locator(".certificate-facts"))
    cert_row.locator("details.rename summary").click()
    box = cert_row.get_by_label("New name")
    assert box.input_value() == "CN=alice,O=Example Corporation,OU=Engineering"
    assert box.evaluate("el => el.scrollWidth <= el.clientWidth")

    # 14: one link colour in the header, the sign-out button included
    colours = page.locator("header.top nav a, header.top nav button.link").evaluate_all(
        "els => els.map(el => getComputedStyle(el).color)"
    )
    assert len(colours) == 2 and len(set(colours)) == 1  # "Your account", "Sign out"

    page.set_viewport_size({"width": PHONE, "height": 800})
    page.reload()
    _no_sideways_scroll(page)


def test_the_sign_in_page(live_server: LiveServer, page: Any) -> None:
    page.set_viewport_size({"width": WIDE, "height": 900})
    page.goto(f"{live_server.url}/login")
    # 14: the password's "Sign in" is the primary action of its card
    sign_in = page.get_by_role("button", name="Sign in", exact=True)
    key = page.get_by_role("button", name="Use a security key for this username")
    key.wait_for()
    style = "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).fontWeight]"
    (sign_in_bg, sign_in_weight), (key_bg, key_weight) = (
        sign_in.evaluate(style),
        key.evaluate(style),
    )
    assert sign_in_bg == "rgb(11, 87, 208)" and key_bg == "rgb(255, 255, 255)"
    assert int(sign_in_weight) > int(key_weight)
    assert sign_in.bounding_box()["width"] >= key.bounding_box()["width"] - 1
    assert sign_in.bounding_box()["y"] < key.bounding_box()["y"]
    # 3: on plain http the certificate card does not say "install and reload"
    card = page.locator("section.method", has=page.locator("#certificate-heading"))
    assert "https" in card.inner_text() and "reload" not in card.inner_text()
    page.set_viewport_size({"width": PHONE, "height": 800})
    page.reload()
    _no_sideways_scroll(page)


def test_the_dashboard_uses_the_width(live_server: LiveServer, page: Any) -> None:
    db = live_server.db()
    make_user(db, live_server.app, "root", admin=True)
    db.close()
    page.set_viewport_size({"width": WIDE, "height": 900})
    _sign_in(page, live_server, "root")
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("#active-users").inner_text().startswith("1 active user,")
    main = page.locator("#main h1").evaluate("el => el.parentElement.clientWidth")
    widths = page.locator("svg.chart").evaluate_all(
        "els => els.map(el => el.getBoundingClientRect().width)"
    )
    assert widths and min(widths) > 0.85 * (main - 48)  # main's padding aside
    # 11: a user's page with rows of a sensible height
    page.goto(f"{live_server.url}/admin/users/1")
    heights = page.locator("table tbody tr").evaluate_all(
        "els => els.map(el => el.getBoundingClientRect().height)"
    )
    assert heights and max(heights) < 100
