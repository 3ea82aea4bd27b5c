"""A real browser presenting a client certificate through nginx: logout holds.

Debian's Chromium, headless, driven by Playwright. Playwright's ``client_certificates``
context option presents the certificate: Playwright then terminates TLS to the site itself,
so ``ignore_https_errors`` stands in for trusting the test CA (the browser never sees the
server's certificate). Threat model E.23: after signing out, a browser that keeps
presenting its certificate is not signed straight back in; the user chooses to continue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import STEP_TIMEOUT_MS
from tests.e2e.proxies.conftest import Stack, StackSpec

pytestmark = pytest.mark.e2e


@pytest.fixture
def certificate_page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A page in a fresh context presenting alice's pinned self-signed certificate."""
    identity = stack.tls.pki.self_signed
    context = browser.new_context(
        ignore_https_errors=True,
        client_certificates=[
            {
                "origin": stack.origin,
                "certPath": str(identity.cert_path),
                "keyPath": str(identity.key_path),
            }
        ],
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def session_of(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("fetch('/api/session').then(r => r.json())")
    return result


@pytest.mark.parametrize("stack", [StackSpec("nginx", "pinned")], indirect=True, ids=str)
def test_logout_holds_until_the_user_continues_with_the_certificate(
    stack: Stack, certificate_page: Any
) -> None:
    page = certificate_page
    continue_button = page.get_by_role(
        "button",
        name=re.compile(
            r"^Continue as alice with certificate .*CN=alice-self.*, "
            r"issued by .*CN=alice-self"
        ),
    )

    # Auto mode: the sign-in page signs the certificate holder in without a form.
    page.goto(f"{stack.origin}/login")
    expect(page).to_have_url(f"{stack.origin}/account")
    assert session_of(page)["method"] == "certificate"

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(f"{stack.origin}/login")
    expect(page.get_by_text("You have signed out.")).to_be_visible()

    # The browser still presents the certificate, but visiting the sign-in page again does
    # not sign it back in: it offers to continue instead.
    page.goto(f"{stack.origin}/login")
    expect(page).to_have_url(f"{stack.origin}/login")
    expect(continue_button).to_be_visible()
    assert session_of(page) == {"authenticated": False}

    continue_button.click()
    expect(page).to_have_url(f"{stack.origin}/account")
    session = session_of(page)
    assert session["method"] == "certificate"
    assert session["credential_id"] == stack.pins["self_signed"]
