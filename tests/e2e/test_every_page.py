"""Every page Keystile shows, in a real Chromium, at a desktop and a phone width: axe-core
(vendored, tests/e2e/vendor/axe-core) finds no violation of moderate impact or worse on any
of them, none scrolls sideways, and each is saved as a screenshot for people to look at.

The walk: the anonymous pages (sign-in, its error, account request and its answers, an
enrolment link, a spent link, the error pages 400/403/404/405/429), an account page with a
password only, with a passkey only (made on the enrolment link by a virtual authenticator),
with every kind of credential (password, certificate, synced passkey, security key) and
with a certificate only (signed in by it, through a trusted proxy's
header), the sign-in page with that certificate still presented after signing out and with
a certificate nobody pinned, the certificate refusal, the certificate upload and request
pages, the step-up page of a user and of an administrator, and the admin pages (dashboard,
users, a user, audit log, requests, an approval).

Screenshots go to ``$KEYSTILE_SCREENSHOTS`` when set, else to the test's temporary directory
(pytest prints where): ``NN-name-1280.png`` (1280x800) and ``NN-name-390.png`` (390x844),
full pages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from app.models import User, utcnow
from app.services import cert_auth, credentials
from app.services.audit import SYSTEM
from app.services.certificates import describe
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import STEP_TIMEOUT_MS, Authenticators, LiveServer
from tests.support import factories
from tests.support.admin import age_sessions
from tests.support.axe import at_least, axe_violations
from tests.support.pki import self_signed_named

pytestmark = pytest.mark.e2e

#: (name, width, height): a desktop and a phone (iPhone 12-15 CSS pixels)
VIEWPORTS = [("1280", 1280, 800), ("390", 390, 844)]


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # A low per-account limit of failed sign-ins shows the throttled page after three tries;
    # the browser's requests carry a certificate header as a trusted proxy on loopback would.
    return {
        "login_limit_per_account": "3/minute",
        "trusted_proxies": "127.0.0.1",
        "cert_login": "auto",
    }


def presenting(page: Any, cert: x509.Certificate | None) -> None:
    """Make the browser's requests carry ``cert`` as nginx forwards a client certificate."""
    if cert is None:
        page.context.set_extra_http_headers({})
        return
    pem = cert.public_bytes(Encoding.PEM).decode()
    page.context.set_extra_http_headers(
        {"X-SSL-Client-Cert": quote(pem, safe=""), "X-SSL-Client-Verify": "FAILED:self-signed"}
    )


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("KEYSTILE_SCREENSHOTS", "")
    target = Path(chosen) if chosen else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    """One page of a context that bypasses CSP, so that axe-core can be injected into the
    very page a form post or redirect produced (a second navigation would change it)."""
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


class Walk:
    """Checks and photographs each page it is shown; the violations are kept for the end."""

    def __init__(self, page: Any, server: LiveServer, shots: Path) -> None:
        self.page, self.server, self.shots = page, server, shots
        self.seen: list[str] = []
        self.violations: list[str] = []

    def go(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def check(self, name: str, *, status: int | None = None, response: Any = None) -> None:
        if status is not None and response is not None:
            assert response.status == status, f"{name}: {response.status} at {self.page.url}"
        self.page.wait_for_load_state("load")
        number = len(self.seen) + 1
        self.seen.append(name)
        for label, width, height in VIEWPORTS:
            self.page.set_viewport_size({"width": width, "height": height})
            for v in at_least(axe_violations(self.page), "moderate"):
                self.violations.append(
                    f"{name} at {label} px: {v['id']} ({v['impact']}): {v['help']} {v['nodes']}"
                )
            # Wide tables scroll in their own box; the page itself never scrolls sideways.
            page_width = self.page.evaluate("() => document.documentElement.scrollWidth")
            if page_width > width:
                self.violations.append(
                    f"{name} at {label} px: the page is {page_width} px wide and scrolls sideways"
                )
            self.page.screenshot(
                path=str(self.shots / f"{number:02d}-{name}-{label}.png"), full_page=True
            )
        self.page.set_viewport_size({"width": 1280, "height": 800})

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.go("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.locator("#password-form button[type=submit]").click()
        self.page.wait_for_url(re.compile(r"/account$"))

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out", exact=True).click()
        self.page.wait_for_url(re.compile(r"/login"))


def test_every_page_passes_axe_at_desktop_and_phone_width(
    live_server: LiveServer, axe_page: Any, shots: Path
) -> None:
    db = live_server.db()
    root = make_user(db, live_server.app, "root", admin=True)
    make_user(db, live_server.app, "alice")
    bob = make_user(db, live_server.app, "bob")
    bob.display_name = "Bob Example"
    factories.certificate(db, bob, subject="CN=bob,O=Example Corp")
    factories.passkey(db, bob, synced=True)
    factories.passkey(db, bob, synced=False, attested=True)
    db.commit()
    carol = make_user(db, live_server.app, "carol", password=None)
    carol_cert = self_signed_named("carol")
    credentials.add(
        db,
        cert_auth.certificate_credential(describe(carol_cert), source="operator", proven=True),
        user=carol,
        client=SYSTEM,
        now=utcnow(),
    )
    bob_id, root_id = bob.id, root.id
    db.close()
    enrol_link = live_server.cli("user", "create", "erin").output.strip().splitlines()[-1]
    assert enrol_link.startswith(live_server.url + "/enroll/"), enrol_link
    walk = Walk(axe_page, live_server, shots)
    page = walk.page

    # -- anonymous ------------------------------------------------------------------------
    walk.check("sign-in", status=200, response=walk.go("/login"))
    page.fill("#username", "alice")
    page.fill("#password", "not the password at all")
    page.locator("#password-form button[type=submit]").click()
    walk.check("sign-in-wrong-password")
    walk.check("request-account", status=200, response=walk.go("/request-account"))
    page.fill("#username", "bad name!")
    page.get_by_role("button", name="Send request").click()
    walk.check("request-account-errors")
    page.fill("#username", "newperson")
    page.fill("#display_name", "New Person")
    page.fill("#email", "new@example.org")
    page.fill("#message", "Please let me in.")
    page.get_by_role("button", name="Send request").click()
    walk.check("request-sent")
    walk.check("enrolment", status=200, response=page.goto(enrol_link))
    page.fill("#password", "passwordpassword")
    page.fill("#confirm", "passwordpassword")
    page.locator("form[method=post] button[type=submit]").click()
    walk.check("enrolment-weak-password")
    # erin takes a passkey instead (a virtual platform authenticator): a passkey-only account.
    authenticators = Authenticators(page.context.new_cdp_session(page))
    platform = authenticators.add("internal")
    page.locator("#enrol-passkey-button").click()
    page.wait_for_url(re.compile(r"/account$"))
    walk.check("account-passkey-only")
    authenticators.remove(platform)  # else the sign-in page's autofill would use it
    page.context.clear_cookies()
    walk.check("enrolment-link-spent", status=404, response=walk.go("/enroll/not-a-real-link"))
    walk.check("error-404", status=404, response=walk.go("/no-such-page"))
    walk.check("error-405", status=405, response=walk.go("/logout"))
    page.evaluate("""() => {
        const form = Object.assign(document.createElement('form'),
                                   {method: 'post', action: '/login'});
        for (const [name, value] of [['username', 'alice'], ['password', 'x'],
                                     ['csrf_token', 'forged']]) {
            form.append(Object.assign(document.createElement('input'), {name, value}));
        }
        document.body.append(form);
        form.submit();
    }""")
    page.wait_for_url(re.compile(r"/login$"))
    walk.check("error-400-csrf")
    for _ in range(4):
        walk.go("/login")
        page.fill("#username", "ghost")
        page.fill("#password", "not the password at all")
        page.locator("#password-form button[type=submit]").click()
        page.wait_for_load_state("load")
    assert "wait" in page.content().lower()
    walk.check("error-429-throttled")

    # -- a user with a password only ------------------------------------------------------
    walk.sign_in("alice")
    walk.check("account-password-only")
    walk.check("error-403", status=403, response=walk.go("/admin/"))
    walk.go("/account")
    walk.sign_out()

    # -- a user with every kind of credential ---------------------------------------------
    walk.sign_in("bob")
    walk.check("account-every-kind")
    walk.check("certificate-upload", response=walk.go("/certificate/upload"))
    walk.check("certificate-request", response=walk.go("/certificate/csr"))
    walk.go("/account")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "velvet quarry lantern")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(re.compile(r"reauth=1"))
    walk.check("step-up-user")
    # Bob leaves without signing out: his session stays, for the admin's view of his page.
    page.context.clear_cookies()

    # -- a user with a certificate only, then certificates the site does not know ----------
    presenting(page, carol_cert)
    walk.go("/login")
    page.wait_for_url(re.compile(r"/account$"))  # the pinned certificate signs carol in
    walk.check("account-certificate-only")
    walk.sign_out()
    walk.check("sign-in-certificate-still-presented")
    presenting(page, self_signed_named("stranger"))
    walk.check("sign-in-unknown-certificate", status=200, response=walk.go("/login"))
    page.evaluate("""() => {
        const form = Object.assign(document.createElement('form'),
                                   {method: 'post', action: '/certificate/login'});
        const token = document.querySelector('meta[name="csrf-token"]').content;
        form.append(Object.assign(document.createElement('input'),
                                  {name: 'csrf_token', value: token}));
        document.body.append(form);
        form.submit();
    }""")
    page.wait_for_url(re.compile(r"/certificate/login"))
    walk.check("certificate-refused")
    presenting(page, None)

    # -- the administrator ----------------------------------------------------------------
    walk.sign_in("root")
    walk.check("admin-dashboard", status=200, response=walk.go("/admin/"))
    walk.check("admin-users", status=200, response=walk.go("/admin/users"))
    walk.check("admin-user", status=200, response=walk.go(f"/admin/users/{bob_id}"))
    assert page.locator("form[action*='/sessions/']").count() >= 1  # bob's session is listed
    walk.check("admin-audit", status=200, response=walk.go("/admin/audit"))
    walk.check("admin-requests", status=200, response=walk.go("/admin/requests"))
    db = live_server.db()
    age_sessions(db, db.get(User, root_id))  # type: ignore[arg-type]
    page.get_by_role("button", name=re.compile("^Approve")).first.click()
    page.wait_for_url(re.compile(r"reauth=1"))
    walk.check("step-up-admin")
    page.fill("#password", PASSWORD)
    page.locator("#password-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/"))
    if page.get_by_role("button", name=re.compile("^Approve")).count():
        page.get_by_role("button", name=re.compile("^Approve")).first.click()
    page.wait_for_load_state("load")
    assert db.scalar(select(User).where(User.username == "newperson")) is not None
    db.close()
    walk.check("admin-request-approved")

    print(f"\n{len(walk.seen)} pages, screenshots in {shots}")
    assert len(walk.seen) >= 25
    assert walk.violations == [], "\n".join(walk.violations)
