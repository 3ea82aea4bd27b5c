"""A real browser signs in once and uses two protected hosts through nginx (issue 12).

Debian's Chromium, headless, driven by Playwright, started with ``--host-resolver-rules``
mapping ``wiki.test`` and ``tools.example`` to 127.0.0.1, so the browser itself sees three
sites with three names: Keystile on ``localhost`` and the two protected hosts of
``tests.e2e.proxies.gate_stack``. ``ignore_https_errors`` stands in for trusting the test CA.
Single sign-on goes through the hand-off, which gives each protected host a cookie of its
own; no cookie is shared between names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, STEP_TIMEOUT_MS
from tests.e2e.proxies.conftest import Tls
from tests.e2e.proxies.gate_stack import TOOLS, WIKI, Deployment, deploy

pytestmark = pytest.mark.e2e

GATE_COOKIE = "__Host-keystile-gate"
SESSION_COOKIE = "__Host-keystile-session"


@pytest.fixture
def deployment(tls: Tls, tmp_path: Path) -> Iterator[Deployment]:
    with deploy("nginx", tls, tmp_path) as deployed:
        yield deployed


@pytest.fixture
def mapped_page(browser: Any) -> Iterator[Any]:
    """A page of a Chromium that resolves both protected names to loopback."""
    rules = f"MAP {WIKI} 127.0.0.1, MAP {TOOLS} 127.0.0.1"
    mapped = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"],
    )
    try:
        context = mapped.new_context(ignore_https_errors=True)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        yield context.new_page()
    finally:
        mapped.close()


def echoed_headers(page: Any) -> dict[str, str]:
    """The echo upstream's answer shown in the page: the headers it received."""
    text = page.locator("body").inner_text()
    return {name.lower(): value for name, value in json.loads(text)["headers"]}


def test_one_sign_in_covers_two_protected_hosts(deployment: Deployment, mapped_page: Any) -> None:
    page = mapped_page
    wiki = deployment.url(WIKI, "/page?x=1")
    page.goto(wiki)
    # Sent to Keystile's sign-in page, on Keystile's own name.
    page.wait_for_url(re.compile(rf"^{re.escape(deployment.origin)}/login"))
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    # The form's answer redirects through /gate/continue to another name: allowed only by
    # the form-action Keystile's pages name the protected hosts in.
    page.wait_for_url(wiki)
    seen = echoed_headers(page)
    assert seen["remote-user"] == "alice"
    assert seen["remote-auth-method"] == "password"

    # The other host: no sign-in page, straight through the hand-off.
    tools = deployment.url(TOOLS, "/docs/")
    page.goto(tools)
    page.wait_for_url(tools)
    assert echoed_headers(page)["remote-user"] == "alice"

    cookies = {(c["domain"], c["name"]) for c in page.context.cookies()}
    assert {(WIKI, GATE_COOKIE), (TOOLS, GATE_COOKIE), ("localhost", SESSION_COOKIE)} <= cookies
    # Each name has its own cookie; none is set for a parent domain.
    assert all(not domain.startswith(".") for domain, _ in cookies)
