"""Headers, CSRF on every state-changing route, and bad input that must never be a 500."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import User
from tests.conftest import AuthActions


def test_security_headers_on_pages(client: FlaskClient) -> None:
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    assert resp.headers["Cache-Control"] == "no-store"


def test_no_inline_script_in_pages(client: FlaskClient, auth: AuthActions, alice: User) -> None:
    pages = [client.get("/login"), client.get("/request-account")]
    auth.login()
    pages.append(client.get("/account"))
    for page in pages:
        html = page.get_data(as_text=True)
        for tag in html.split("<script")[1:]:
            assert 'src="' in tag.split(">")[0], "inline script found"
        assert " onclick=" not in html and "javascript:" not in html


def test_no_hsts_over_plain_http(app: Flask) -> None:
    resp = app.test_client().get("/login", base_url="http://localhost")
    assert "Strict-Transport-Security" not in resp.headers


def _state_changing_rules(app: Flask) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.methods and {"POST", "PUT", "PATCH", "DELETE"} & set(rule.methods):
            path = rule.rule
            for arg in rule.arguments:
                conv = rule._converters[arg]  # type: ignore[attr-defined]
                value = "1" if type(conv).__name__ == "IntegerConverter" else "x"
                if type(conv).__name__ == "AnyConverter":
                    value = sorted(conv.items)[0] if hasattr(conv, "items") else "approve"
                path = path.replace(f"<{arg}>", value)
                path = path.replace(f"<int:{arg}>", "1")
            out.append(__import__("re").sub(r"<[^>]+>", "x", path))
    return out


def test_every_state_changing_route_requires_csrf(
    app: Flask, client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    """Threat model E.21: signed in, but without the token, every POST is refused."""
    auth.login()
    paths = _state_changing_rules(app)
    assert "/logout" in paths and "/login" in paths
    for path in paths:
        form = client.post(path, data={"x": "1"})
        assert form.status_code in (400, 403, 404), path
        json = client.post(path, json={"x": 1})
        assert json.status_code in (400, 403, 404), path
        assert form.status_code != 500 and json.status_code != 500
    assert auth.is_signed_in()  # nothing was changed, not even a logout


@pytest.mark.parametrize(
    "path",
    [
        "/login?next=%ff%fe",
        "/login?next=" + "a" * 5000,
        "/enroll/%00",
        "/enroll/..%2f..%2f",
        "/account/credentials/99999999999999999999/remove",
        "/nope",
        "/static/../app/config.py",
    ],
)
def test_odd_urls_never_500(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code < 500


@pytest.mark.parametrize(
    "data",
    [
        {"username": "a" * 10000, "password": "x"},
        {"username": "\x00\x01", "password": "\x00"},
        {"username": "alice", "password": "p" * 5000},
        {"username": ["a", "b"], "password": "x"},
        {"username": "𝕒𝕝𝕚𝕔𝕖", "password": "ﬁ" * 20},
    ],
)
def test_odd_login_input_is_a_clear_4xx(
    client: FlaskClient, auth: AuthActions, alice: User, data: dict[str, object]
) -> None:
    token = auth.csrf()
    resp = client.post("/login", data={**data, "csrf_token": token})
    assert 400 <= resp.status_code < 500
    assert "Traceback" not in resp.get_data(as_text=True)


def test_oversized_body_is_413(client: FlaskClient) -> None:
    resp = client.post("/login", data={"username": "a", "password": "b" * (300 * 1024)})
    assert resp.status_code == 413


def test_unexpected_error_is_a_plain_500_page(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "secret detail" not in body and "Traceback" not in body
    assert "Nothing was changed" in body


def test_invalid_utf8_form_is_a_clear_4xx(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    token = auth.csrf()
    body = b"username=%ff%fe&password=%ed%a0%80&csrf_token=" + token.encode()
    resp = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert 400 <= resp.status_code < 500


class TestBehindProxy:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"trusted_proxies": "10.0.0.1"}

    def test_forwarded_proto_trusted_only_from_the_proxy(self, app: Flask) -> None:
        client = app.test_client()
        via_proxy = client.get(
            "/login",
            base_url="http://localhost",
            headers={"X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert "Strict-Transport-Security" in via_proxy.headers
        direct = client.get(
            "/login",
            base_url="http://localhost",
            headers={"X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
        assert "Strict-Transport-Security" not in direct.headers


@pytest.mark.parametrize("path", ["/login?next=%00", "/request-account?x=%00"])
def test_nul_in_query_is_a_400(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 400


def test_nul_in_json_username_is_harmless(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    """PostgreSQL refuses NUL in text; a JSON body must not turn that into a 500."""
    token = auth.csrf()
    resp = client.post(
        "/webauthn/login/options", json={"username": "ali\u0000ce"}, headers={"X-CSRFToken": token}
    )
    assert resp.status_code < 500
