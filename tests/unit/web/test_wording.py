"""How the account page words audit reasons and user agents."""

from __future__ import annotations

import pytest

from app.web.wording import browser_summary, reason_text


@pytest.mark.parametrize(
    ("agent", "shown"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/156.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:131.0) Gecko/20100101 Firefox/131.0",
            "Firefox on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chromium/120.0.0.0 Chrome/120.0.0.0 Safari/537.36",
            "Chromium on Linux",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "unknown"),
        (None, "unknown"),
        ("\x00\u202e" + "x" * 100, "x" * 40),
    ],
    ids=[
        "chrome-linux",
        "edge-windows",
        "safari-ios",
        "firefox-macos",
        "chrome-ios",
        "chromium-linux",
        "other",
        "empty",
        "none",
        "control-characters",
    ],
)
def test_browser_summary(agent: str | None, shown: str) -> None:
    assert browser_summary(agent) == shown


def test_reason_text() -> None:
    assert reason_text("wrong_password") == "wrong password"
    assert reason_text("code_other_browser") == "sign-in link opened in another browser"
    assert reason_text("something_new") == "something new"
    assert reason_text(None) == ""
