"""An administrator in a real browser: the dashboard, the users table, a user's page, a
revocation that ends the user's session at once, and the audit log; every page checked with
axe-core (vendored), failing on serious or critical violations, and watched for
Content-Security-Policy violations (the pages carry no inline script or style)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_user
from tests.e2e.conftest import LiveServer
from tests.support import factories
from tests.support.axe import AXE_SCRIPT
from tests.support.browsing import sign_in_with_password

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's ``axe.min.js``, vendored (tests/e2e/vendor/axe-core): no network needed."""
    return AXE_SCRIPT


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"require_hardware_key_for": "admin"}


@pytest.fixture
def csp_violations(page: Any) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return seen


@pytest.fixture
def axe_context(browser: Any) -> Iterator[Any]:
    """A second context for axe only: injecting its script needs CSP bypassed."""
    ctx = browser.new_context(bypass_csp=True)
    try:
        yield ctx
    finally:
        ctx.close()


def check_accessibility(axe_context: Any, page: Any, axe_script: Path) -> None:
    """Run axe-core on the page's URL with the same cookies; fail on serious violations."""
    axe_context.clear_cookies()
    axe_context.add_cookies(page.context.cookies())
    probe = axe_context.new_page()
    try:
        probe.goto(page.url)
        probe.add_script_tag(path=str(axe_script))
        violations: list[dict[str, Any]] = probe.evaluate("""async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""")
    finally:
        probe.close()
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert blocking == [], f"{page.url}: {blocking}"


def test_admin_walks_the_dashboard_and_revokes_a_credential(
    live_server: LiveServer,
    page: Any,
    browser: Any,
    axe_context: Any,
    axe_script: Path,
    csp_violations: list[str],
) -> None:
    db = live_server.db()
    make_user(db, live_server.app, "root", admin=True)
    bob = make_user(db, live_server.app, "bob")
    factories.certificate(db, bob, subject="CN=bob,O=<script>alert(1)</script>")
    factories.passkey(db, bob, synced=False, attested=True)
    db.close()

    bob_context = browser.new_context()
    try:
        bob_page = bob_context.new_page()
        sign_in_with_password(bob_page, live_server, "bob")

        sign_in_with_password(page, live_server, "root")
        page.get_by_role("link", name="Administration", exact=True).click()
        page.wait_for_url(re.compile(r"/admin/$"))
        assert page.get_by_role("heading", name="Dashboard").is_visible()
        assert page.locator("svg.chart[role=img]").count() >= 3
        funnel = page.get_by_role("table", name="Active users by strongest credential")
        assert funnel.locator("tr", has_text="password only").locator("td").inner_text() == "1"
        check_accessibility(axe_context, page, axe_script)

        nav = page.get_by_role("navigation", name="Administration")
        nav.get_by_role("link", name="Users").click()
        page.get_by_label("Show").select_option("certificate-no-hardware-key")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(r"filter=certificate-no-hardware-key"))
        assert page.get_by_role("link", name="bob").count() == 0  # bob has a hardware key
        page.get_by_label("Show").select_option("")
        page.get_by_role("button", name="Show").click()
        check_accessibility(axe_context, page, axe_script)

        page.get_by_role("link", name="bob", exact=True).click()
        page.wait_for_url(re.compile(r"/admin/users/\d+$"))
        assert page.get_by_text("CN=bob,O=<script>alert(1)</script>").count() >= 1
        assert page.get_by_text("attested hardware key").count() >= 1
        check_accessibility(axe_context, page, axe_script)

        # It asks first: declined, nothing happens; accepted, the password is revoked.
        asked: list[str] = []

        def answer(accept: bool) -> Callable[[Any], None]:
            def handle(dialog: Any) -> None:
                asked.append(dialog.message)
                if accept:
                    dialog.accept()
                else:
                    dialog.dismiss()

            return handle

        page.once("dialog", answer(False))
        page.get_by_role("button", name="Revoke Password").click()
        assert asked == [
            "Revoke Password of bob? It can never sign in again, and the sessions it opened end."
        ]
        assert page.get_by_role("button", name="Revoke Password").is_visible()
        page.once("dialog", answer(True))
        page.get_by_role("button", name="Revoke Password").click()
        page.wait_for_url(re.compile(r"/admin/users/\d+$"))
        assert page.get_by_role("status").inner_text().startswith("Revoked Password of bob")
        assert page.get_by_role("heading", name="Active sessions").is_visible()
        assert page.get_by_text("No active sessions.").is_visible()
        bob_page.goto(f"{live_server.url}/account")
        bob_page.wait_for_url(re.compile(r"/login"))  # bob's session ended at once

        nav.get_by_role("link", name="Audit log").click()
        page.get_by_label("User").fill("bob")
        page.get_by_role("button", name="Filter").click()
        row = page.locator("tr", has_text="account:credential:removed").first
        assert "root" in row.inner_text()  # the admin is named as the actor
        check_accessibility(axe_context, page, axe_script)
    finally:
        bob_context.close()
    assert csp_violations == []


@pytest.mark.parametrize("app_overrides", [{"cert_sunset": "2099-01-31"}])
def test_migration_notice_guides_a_certificate_user(
    live_server: LiveServer,
    page: Any,
    axe_context: Any,
    axe_script: Path,
    csp_violations: list[str],
) -> None:
    """A certificate user, told of the sunset, is one step from a security key."""
    db = live_server.db()
    carl = make_user(db, live_server.app, "carl")
    factories.certificate(db, carl)
    db.close()
    sign_in_with_password(page, live_server, "carl")
    notice = page.get_by_role("region", name="Your certificate is a file on this computer")
    assert "from 02 March 2099 certificates will no longer sign you in" in notice.inner_text()
    check_accessibility(axe_context, page, axe_script)
    notice.get_by_role("link", name="Set up a security key").click()
    page.wait_for_url(re.compile(r"/account#add-security-key$"))
    assert page.get_by_role("button", name="Add a security key").is_visible()
    assert csp_violations == []
