"""An admin action that waited for "confirm it is you" is offered again, by name, on the
page it came from; nothing is done until the administrator says so (issue 15, item 6)."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccountRequest, Credential, RequestStatus, User
from tests.conftest import csrf_from, make_user
from tests.support import factories
from tests.support.admin import admin_signed_in, age_sessions, sign_in


@pytest.fixture
def root(client: FlaskClient, db: Session, app: Flask) -> User:
    return admin_signed_in(client, db, app)


def _requested(db: Session, username: str) -> AccountRequest:
    row = AccountRequest(
        username=username, username_normalized=username, email=f"{username}@example.org"
    )
    db.add(row)
    db.commit()
    return row


def _again(client: FlaskClient, resp: Any) -> str:
    """Sign in again as the sign-in page asks; return where it sends the browser."""
    assert resp.status_code == 303
    login = urlsplit(resp.headers["Location"])
    assert login.path == "/login" and parse_qs(login.query)["reauth"] == ["1"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert page.count("confirm it is you") + page.count("Confirm it is you") == 1  # said once
    sign_in(client, "root")
    return parse_qs(login.query)["next"][0]


def test_a_rejection_waits_and_is_finished_by_name(
    client: FlaskClient, db: Session, root: User
) -> None:
    bob = _requested(db, "bob")
    age_sessions(db, root)
    page = client.get("/admin/requests").get_data(as_text=True)
    resp = client.post(f"/admin/requests/{bob.id}/reject", data={"csrf_token": csrf_from(page)})
    back = _again(client, resp)
    db.expire_all()
    assert db.get(AccountRequest, bob.id).status == RequestStatus.PENDING  # type: ignore[union-attr]

    page = client.get(back).get_data(as_text=True)
    assert "Not done yet: reject the account request for bob" in page
    assert 'id="finish-action">Reject the request for bob</button>' in page
    done = client.post(
        f"/admin/requests/{bob.id}/reject",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "Request rejected." in done.get_data(as_text=True)
    db.expire_all()
    assert db.get(AccountRequest, bob.id).status == RequestStatus.REJECTED  # type: ignore[union-attr]
    # Done, the same address offers nothing any more.
    assert "Not done yet" not in client.get(back).get_data(as_text=True)


def test_a_revocation_comes_back_with_its_reason(
    client: FlaskClient, db: Session, app: Flask, root: User
) -> None:
    carol = make_user(db, app, "carol")
    cert = factories.certificate(db, carol)
    age_sessions(db, root)
    page = client.get(f"/admin/users/{carol.id}").get_data(as_text=True)
    resp = client.post(
        f"/admin/users/{carol.id}/credentials/{cert.id}/revoke",
        data={"csrf_token": csrf_from(page), "reason": "laptop stolen"},
    )
    back = _again(client, resp)
    page = client.get(back).get_data(as_text=True)
    assert f"Not done yet: revoke {html.escape(cert.display_name)} of carol" in page
    assert "(reason: laptop stolen)" in page
    assert '<input type="hidden" name="reason" value="laptop stolen">' in page
    client.post(
        f"/admin/users/{carol.id}/credentials/{cert.id}/revoke",
        data={"csrf_token": csrf_from(page), "reason": "laptop stolen"},
    )
    row = db.scalar(select(Credential).where(Credential.id == cert.id))
    db.refresh(row)
    assert row is not None and row.revoked_reason == "laptop stolen"


@pytest.mark.parametrize(
    "finish",
    [
        "/admin/requests/999/reject",
        "/account/password",
        "/admin/requests",
        "//evil.example/x",
        "/admin/users/1/disable?x=1",
        "/admin/requests/1/frobnicate",
        "x" * 400,
    ],
)
def test_anything_else_named_offers_nothing(
    client: FlaskClient, db: Session, root: User, finish: str
) -> None:
    _requested(db, "bob")
    resp = client.get("/admin/requests", query_string={"finish": finish})
    assert resp.status_code == 200 and "Not done yet" not in resp.get_data(as_text=True)
