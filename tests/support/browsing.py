"""Steps a person takes in a real browser (Playwright pages), shared by the e2e tests."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import PASSWORD

ACCOUNT = re.compile(r"/account$")


def sign_in_with_password(page: Any, server: Any, username: str = "alice") -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(ACCOUNT)
