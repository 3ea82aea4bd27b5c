"""Return URLs and header values no browser would send: a page or a redirect, never a 500.

Issue 17: ``GET /login?next=https://evil.test%EF%BC%8Fapp/`` (a fullwidth solidus in the
return URL's host) answered 500, as ``urlsplit`` refused the host with ``ValueError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from app.models import User
from tests.conftest import PASSWORD, AuthActions
from tests.support.properties import ADDRESS_LIKE, THROUGH_THE_APP, URL_LIKE

PROXY = "10.9.8.7"

HOSTILE_NEXT = [
    "https://evil.test%EF%BC%8Fapp/",
    "//evil.test%EF%BC%8Fapp/",
    "https://evil.test%E2%88%95app/",  # division slash
    "https://evil.test%EF%B9%AB@app/",  # small commercial at
    "http://[evil.test/",
    "//[::1",
    "/%09/evil.test",
    "/%E2%80%AE/account",
]


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"trusted_proxies": PROXY}


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_page_with_a_hostile_return_url(client: FlaskClient, target: str) -> None:
    resp = client.get(f"/login?next={target}")
    assert resp.status_code == 200
    assert "evil.test" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_with_a_hostile_return_url_goes_to_the_account(
    auth: AuthActions, alice: User, target: str
) -> None:
    token = auth.csrf()
    resp = auth.client.post(
        f"/login?next={target}",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


def test_a_signed_in_visitor_with_a_hostile_return_url(auth: AuthActions, alice: User) -> None:
    assert auth.login().status_code == 303
    resp = auth.client.get(f"/login?next={HOSTILE_NEXT[0]}&reauth=1")
    assert resp.status_code == 200


@THROUGH_THE_APP
@given(target=URL_LIKE)
def test_any_return_url_is_a_page(client: FlaskClient, target: str) -> None:
    resp = client.get("/login?next=" + quote(target, safe="", errors="surrogatepass"))
    assert resp.status_code in {200, 400}


@THROUGH_THE_APP
@given(
    cookie=st.text(alphabet=st.characters(codec="ascii", exclude_characters="\r\n;"), max_size=200),
    forwarded=ADDRESS_LIKE.filter(str.isascii),
    agent=st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=300),
    request_id=st.text(
        alphabet=st.characters(codec="ascii", exclude_characters="\r\n"), max_size=80
    ),
)
def test_any_header_value_through_a_trusted_proxy(
    client: FlaskClient, cookie: str, forwarded: str, agent: str, request_id: str
) -> None:
    headers = {
        "Cookie": f"__Host-keystile-session={cookie}; __Host-keystile={cookie}",
        "X-Forwarded-For": forwarded,
        "User-Agent": agent,
        "X-Request-Id": request_id,
        "X-Forwarded-Proto": forwarded,
    }
    for path in ("/login", "/api/session"):
        resp = client.get(path, headers=headers, environ_base={"REMOTE_ADDR": PROXY})
        assert resp.status_code in {200, 400, 401}, (path, resp.status_code)
