"""Passkeys in a real browser: headless Chromium, CDP virtual authenticators, a live server.

Issue 4's scenarios: a platform passkey enrolled from the account page signs in without a
username; autofill (conditional mediation) signs in on page load; a USB security key with
direct attestation is named and signs in username-first; a counter regression made with
``WebAuthn.addCredential`` is refused and flagged; a passkey is removed; and an enrolment link
sets up a passkey-only account; a passkey the site does not know is reported to the
authenticator through the Signal API.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.models import utcnow
from app.services import accounts
from app.services.audit import SYSTEM
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import Authenticators, LiveServer
from tests.support.browsing import ACCOUNT, sign_in_with_password

pytestmark = pytest.mark.e2e


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(re.compile(r"/login"))


def sign_out_without_autofill(page: Any) -> None:
    """Sign out onto a sign-in page whose autofill request failed.

    The page starts autofill on load, and a virtual platform authenticator answers it at
    once: that would sign straight back in. Failing its one options request keeps the test
    in charge of what signs in next.
    """
    page.route("**/webauthn/login/options", lambda route: route.abort(), times=1)
    sign_out(page)
    page.locator("body[data-autofill='failed']").wait_for(state="attached")


def session_info(page: Any) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate("fetch('/api/session').then(r => r.json())")
    return info


def add_from_account_page(page: Any, button: str) -> None:
    """Press "Add a passkey" / "Add a security key"; the page reloads with the new row."""
    rows = page.locator(".passkey-facts").count()
    page.get_by_role("button", name=button).click()
    page.locator(".passkey-facts").nth(rows).wait_for()


def open_login_page(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/login")
    # Attribute selectors, not wait_for_function: the CSP forbids the eval it may use.
    page.locator("body[data-autofill]").wait_for(state="attached")


def wait_signed_in(page: Any) -> None:
    """Wait for the account page; if it never comes, say what the sign-in page shows."""
    try:
        page.wait_for_url(ACCOUNT)
    except PlaywrightTimeoutError as exc:
        state = page.evaluate("""() => ({url: location.href,
            autofill: document.body.dataset.autofill,
            status: document.getElementById('passkey-status')?.textContent})""")
        raise AssertionError(f"not signed in: {state}") from exc


def passkey_login(page: Any) -> None:
    page.get_by_role("button", name="Sign in with a passkey").click()
    wait_signed_in(page)


def cli_passkeys(server: LiveServer, username: str = "alice") -> list[dict[str, Any]]:
    result = server.cli("passkey", "list", username, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


@pytest.fixture
def alice(live_server: LiveServer) -> None:
    db = live_server.db()
    make_user(db, live_server.app, "alice")
    db.close()


@pytest.mark.usefixtures("alice")
def test_platform_passkey_signs_in_without_a_username(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    platform = authenticators.add("internal")
    sign_in_with_password(page, live_server)
    add_from_account_page(page, "Add a passkey")
    # A passkey made on the computer itself, attestation none: named for what it is, and
    # never a security key or hardware (issue 15, item 2).
    assert page.locator(".passkey-facts").inner_text() == "Passkey on this device"
    row_text = page.locator("tr", has=page.locator(".passkey-facts")).inner_text()
    assert "device-bound key" in row_text
    assert "security key" not in row_text.lower() and "hardware" not in row_text
    [held] = authenticators.credentials(platform)
    assert held["isResidentCredential"]  # residentKey "required": usable without a username
    sign_out_without_autofill(page)
    passkey_login(page)
    # excludeCredentials: the same authenticator cannot register twice (InvalidStateError).
    # (Signed in with the passkey: adding to an account that has one needs that level, F.24.)
    page.goto(f"{live_server.url}/account")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("already registered to your account").wait_for()
    info = session_info(page)
    assert info["method"] == "passkey" and info["username"] == "alice"
    [row] = cli_passkeys(live_server)
    assert row["sign_count"] >= 2 and row["last_used_at"] is not None


@pytest.mark.usefixtures("alice")
def test_autofill_signs_in_on_page_load(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    authenticators.add("internal")
    sign_in_with_password(page, live_server)
    add_from_account_page(page, "Add a passkey")
    sign_out_without_autofill(page)
    # Conditional mediation starts on load; Chromium's virtual platform authenticator
    # answers it without a click, as a user picking the passkey from autofill would.
    page.goto(f"{live_server.url}/login")
    wait_signed_in(page)
    assert session_info(page)["method"] == "passkey"


@pytest.mark.usefixtures("alice")
def test_security_key_with_direct_attestation_then_username_first_sign_in(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    # A key without resident credentials: only allowCredentials can find its credential.
    authenticators.add("usb", hasResidentKey=False)
    sign_in_with_password(page, live_server)
    add_from_account_page(page, "Add a security key")
    facts = page.locator(".passkey-facts").inner_text()
    # Chromium's virtual authenticator has an AAGUID but no model name; its self-signed
    # packed attestation is not verified, so it is a security key of unproven make.
    assert facts == "Security key"
    row_text = page.locator("tr", has=page.locator(".passkey-facts")).inner_text()
    assert "device-bound key" in row_text and "hardware" not in row_text
    [row] = cli_passkeys(live_server)
    assert row["attestation_format"] == "packed"
    assert row["attestation_trust"] == "basic-unverified"
    assert row["aaguid"] == "01020304-0506-0708-0102-030405060708"
    assert row["transports"] == ["usb"]
    sign_out(page)

    open_login_page(page, live_server)
    assert page.evaluate("document.body.dataset.autofill") == "unavailable"
    page.get_by_role("button", name="Sign in with a passkey").click()  # no username: nothing
    page.get_by_text("cancelled or timed out").wait_for()
    # No username yet: the message sits under the button and is tied to the username field.
    page.get_by_role("button", name="Use a security key for this username").click()
    page.locator("#security-key-status", has_text="Enter your username first").wait_for()
    assert page.get_attribute("#username", "aria-invalid") == "true"
    assert page.get_attribute("#username", "aria-describedby") == "security-key-status"
    page.fill("#username", "alice")
    page.get_by_role("button", name="Use a security key for this username").click()
    wait_signed_in(page)
    assert session_info(page)["method"] == "passkey"


@pytest.mark.usefixtures("alice")
def test_step_up_page_leads_a_password_session_to_its_security_key(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    """Once the account has a security key, changing the password from a password session
    sends the browser to a sign-in page that offers only what reaches that level: no password
    form, the username filled in, "Use a security key for this username"; then the change
    goes through."""
    authenticators.add("usb", hasResidentKey=False)
    sign_in_with_password(page, live_server)
    add_from_account_page(page, "Add a security key")
    new_password = "a different passphrase for the lake house"
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", new_password)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(re.compile(r"/login\?reauth=1&need=device_key"))
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    assert "device-bound key" in page.locator("#reauth-need").inner_text()
    assert page.locator("input[type=password]").count() == 0
    assert page.input_value("#username") == "alice"
    page.get_by_role("button", name="Use a security key for this username").wait_for()
    page.press("#username", "Enter")  # as the button does (the button: the test above)
    page.wait_for_url(f"{live_server.url}/account")  # (ACCOUNT also matches "next=/account")
    assert session_info(page)["method"] == "passkey"
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", new_password)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password was changed.").wait_for()


@pytest.mark.usefixtures("alice")
def test_counter_regression_is_refused_and_flagged(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    original = authenticators.add("usb")
    sign_in_with_password(page, live_server)
    add_from_account_page(page, "Add a passkey")
    sign_out(page)
    open_login_page(page, live_server)
    passkey_login(page)
    sign_out(page)

    # Clone the credential onto another authenticator with a counter behind the server's.
    [stored] = authenticators.credentials(original)
    authenticators.remove(original)
    clone = authenticators.add("usb")
    authenticators.add_credential(
        clone,
        {
            "credentialId": stored["credentialId"],
            "isResidentCredential": True,
            "rpId": stored["rpId"],
            "privateKey": stored["privateKey"],
            "userHandle": stored["userHandle"],
            "signCount": 0,
        },
    )
    open_login_page(page, live_server)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("may have been copied").wait_for()
    assert session_info(page) == {"authenticated": False}

    sign_in_with_password(page, live_server)
    assert page.locator(".badge.danger", has_text="possible clone").count() == 1
    [row] = cli_passkeys(live_server)
    assert row["possible_clone"] is True


@pytest.mark.usefixtures("alice")
def test_remove_a_passkey(
    live_server: LiveServer,
    page: Any,
    authenticators: Authenticators,
    wait_until: Callable[..., None],
) -> None:
    platform = authenticators.add("internal")
    sign_in_with_password(page, live_server)
    add_from_account_page(page, "Add a passkey")
    assert len(authenticators.credentials(platform)) == 1
    # Removing a passkey needs a sign-in at least as strong (F.24): with the passkey itself,
    # whose session goes on after it is removed.
    sign_out_without_autofill(page)
    passkey_login(page)
    page.goto(f"{live_server.url}/account")
    page.once("dialog", lambda dialog: dialog.accept())  # "Remove ...? You will no longer..."
    page.get_by_role("button", name="Remove Passkey on this device").click()
    page.get_by_text("Removed Passkey on this device.").wait_for()
    assert page.locator(".passkey-facts").count() == 0
    assert cli_passkeys(live_server) == []
    # The account page tells the provider which passkeys remain (signalAllAcceptedCredentials),
    # and Chromium's authenticator drops the removed one.
    wait_until(lambda: authenticators.credentials(platform) == [], what="passkey dropped")


def test_unknown_passkey_is_refused_and_signalled(
    live_server: LiveServer,
    page: Any,
    authenticators: Authenticators,
    wait_until: Callable[..., None],
) -> None:
    """A passkey this site does not know: a clear message, and signalUnknownCredential."""
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    holder = authenticators.add("usb")
    authenticators.add_credential(
        holder,
        {
            "credentialId": base64.b64encode(os.urandom(32)).decode(),
            "isResidentCredential": True,
            "rpId": "localhost",
            "privateKey": base64.b64encode(pkcs8).decode(),
            "userHandle": base64.b64encode(os.urandom(64)).decode(),
            "signCount": 0,
        },
    )
    open_login_page(page, live_server)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("not registered here").wait_for()
    wait_until(lambda: authenticators.credentials(holder) == [], what="passkey dropped")
    assert session_info(page) == {"authenticated": False}


def test_enrolment_link_sets_up_a_passkey_only_account(
    live_server: LiveServer, page: Any, authenticators: Authenticators
) -> None:
    authenticators.add("internal")
    db = live_server.db()
    with live_server.app.app_context():
        user = accounts.create_user(db, username="bob", client=SYSTEM, now=utcnow())
        link = accounts.issue_enrolment_link(db, user, client=SYSTEM, now=utcnow())
        db.commit()
    db.close()
    page.goto(f"{live_server.url}/enroll/{link}")
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_url(ACCOUNT)
    assert session_info(page)["method"] == "passkey"
    assert page.get_by_text("You sign in without a password.").count() == 1
    page.goto(f"{live_server.url}/enroll/{link}")  # used up
    assert "Create a passkey" not in page.content()
