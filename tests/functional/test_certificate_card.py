"""The sign-in page's certificate card says what can work on the address it is read at."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


def test_on_plain_http_it_points_to_the_https_address(client: FlaskClient) -> None:
    """No browser presents a certificate over plain http: "install it and reload" could
    never work there (issue 15, item 3)."""
    page = client.get("/login?next=/account", base_url="http://localhost:8080").get_data(
        as_text=True
    )
    assert 'id="certificate-https"' in page and "reload" not in page
    assert 'href="https://localhost/login?next=/account"' in page


def test_on_https_it_explains_how_to_present_one(client: FlaskClient) -> None:
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    assert 'id="certificate-https"' not in page
    assert "install it in this browser and reload this page" in page


@pytest.mark.parametrize("app_overrides", [{"origin": "http://localhost:8080"}])
def test_without_an_https_origin_it_says_so(
    client: FlaskClient, app_overrides: dict[str, Any]
) -> None:
    page = client.get("/login", base_url="http://localhost:8080").get_data(as_text=True)
    assert "open this site at its https address" in page and "reload" not in page
    assert 'id="certificate-https-link"' not in page
