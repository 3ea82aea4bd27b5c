"""The gate's optional signed assertion (``Remote-Assertion``) and its JWK Set, as a
protected site sees them: verified with the keys Keystile publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from tests.conftest import AuthActions
from tests.support.gate import (
    WIKI,
    cert_header,
    forward,
    gate_settings,
    nginx,
    pin,
    signed_in,
)
from tests.support.pki import Pki


@pytest.fixture
def app_overrides(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    return gate_settings(tmp_path, **getattr(request, "param", {"gate_assertion": "on"}))


@pytest.fixture
def proxy(app: Flask) -> FlaskClient:
    return app.test_client(use_cookies=False)


def verified(proxy: FlaskClient, token: str, audience: str) -> dict[str, Any]:
    """What a site does: Keystile's JWK Set, the key by ``kid``, ES256, its own origin."""
    resp = proxy.get("/.well-known/jwks.json")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "public, max-age=300"
    jwks = resp.get_json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["ES256"], audience=audience, issuer="https://localhost"
    )
    return claims


def test_a_signed_in_user_comes_with_an_assertion_for_that_site(
    proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    cookie = signed_in(auth)
    resp = nginx(proxy, f"{WIKI}/docs/", cookie=cookie)
    assert resp.status_code == 200
    claims = verified(proxy, resp.headers["Remote-Assertion"], WIKI)
    assert claims["sub"] == "alice" and claims["auth_method"] == "password"
    assert claims["auth_strength"] == "password" and claims["groups"] == []
    assert claims["exp"] - claims["iat"] <= 60
    # Through forwardAuth, on another host and port: that origin is the audience.
    resp = forward(proxy, "/docs/", host="tools.example.org:8443", cookie=cookie)
    assert resp.status_code == 200
    token = resp.headers["Remote-Assertion"]
    assert verified(proxy, token, "https://tools.example.org:8443")["sub"] == "alice"
    with pytest.raises(jwt.InvalidAudienceError):
        verified(proxy, token, WIKI)


def test_a_certificate_user_comes_with_an_assertion(
    proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    resp = nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert))
    assert resp.status_code == 200
    claims = verified(proxy, resp.headers["Remote-Assertion"], WIKI)
    assert (claims["sub"], claims["auth_method"]) == ("alice", "certificate")


def test_a_bypass_answer_carries_an_empty_assertion(
    proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    for cookie in ("", signed_in(auth)):
        resp = nginx(proxy, f"{WIKI}/public/x", cookie=cookie, **{"Remote-Assertion": "forged"})
        assert resp.status_code == 200 and resp.headers["Remote-Assertion"] == ""


def test_no_assertion_where_the_answer_is_not_allow(proxy: FlaskClient) -> None:
    for resp in (nginx(proxy, f"{WIKI}/docs/"), nginx(proxy, "https://evil.com/")):
        assert resp.status_code in (401, 403) and "Remote-Assertion" not in resp.headers


@pytest.mark.parametrize("app_overrides", [{}], indirect=True)
def test_off_by_default_the_header_is_empty_and_no_keys_are_published(
    proxy: FlaskClient, app: Flask, auth: AuthActions, alice: User
) -> None:
    resp = nginx(proxy, f"{WIKI}/docs/", cookie=signed_in(auth))
    assert resp.status_code == 200 and resp.headers["Remote-User"] == "alice"
    assert resp.headers["Remote-Assertion"] == ""  # still sent: it overwrites a client's
    assert proxy.get("/.well-known/jwks.json").status_code == 404
    assert not list(Path(app.instance_path).glob("gate-assertion-key*"))


def test_the_key_is_generated_once_in_the_instance_folder(
    proxy: FlaskClient, app: Flask, auth: AuthActions, alice: User
) -> None:
    cookie = signed_in(auth)
    first = nginx(proxy, f"{WIKI}/docs/", cookie=cookie).headers["Remote-Assertion"]
    key_file = Path(app.instance_path) / "gate-assertion-key.pem"
    assert key_file.is_file()
    second = nginx(proxy, f"{WIKI}/docs/", cookie=cookie).headers["Remote-Assertion"]
    assert jwt.get_unverified_header(first)["kid"] == jwt.get_unverified_header(second)["kid"]
    assert [k["kid"] for k in proxy.get("/.well-known/jwks.json").get_json()["keys"]] == [
        jwt.get_unverified_header(first)["kid"]
    ]
