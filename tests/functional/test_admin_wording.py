"""The admin pages in words: user agents summarised with the full string on demand, how a
passkey was attested and a certificate pinned (issue 15, item 11)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.web.wording import attestation_text, pin_source_text
from tests.conftest import make_user
from tests.support.admin import admin_signed_in, sign_in

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize("path", ["/admin/audit", "/admin/users/{bob}"])
def test_user_agents_are_summarised_with_the_full_string_on_demand(
    client: FlaskClient, db: Session, app: Flask, path: str
) -> None:
    admin_signed_in(client, db, app)
    bob = make_user(db, app, "bob")
    other = app.test_client()
    other.environ_base = {"HTTP_USER_AGENT": CHROME}
    sign_in(other, "bob")
    page = client.get(path.format(bob=bob.id)).get_data(as_text=True)
    assert (
        f'<details class="agent"><summary>Chrome on Linux</summary><code>{CHROME}</code></details>'
    ) in page
    assert f"<small>{CHROME[:120]}</small>" not in page


@pytest.mark.parametrize(
    ("fmt", "trust", "text"),
    [
        (None, None, "no attestation: the model is the authenticator's own claim"),
        ("none", "none", "no attestation: the model is the authenticator's own claim"),
        (
            "packed",
            "self",
            "packed format, self-attested: signed by the key itself, which proves "
            "nothing about its maker",
        ),
        (
            "packed",
            "basic-unverified",
            "packed format, signed by a certificate chain that no known maker's root vouches for",
        ),
        ("tpm", "verified", "tpm format, verified against the maker's root in the FIDO metadata"),
    ],
)
def test_attestation_in_words(fmt: str | None, trust: str | None, text: str) -> None:
    assert attestation_text(fmt, trust) == text


def test_pin_sources_in_words() -> None:
    assert pin_source_text("ca") == "Keystile's CA (keystile ca issue)"
    assert pin_source_text("handshake").startswith("the user, from the certificate")
    assert pin_source_text(None) == "unknown"
