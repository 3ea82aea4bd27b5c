"""Bad input found by fuzzing every route and CLI command on 2026-11-27, one case each.

JSON bodies sent to HTML form views (any type, any depth, lone surrogates) are refused with
415 before a form reads them; CLI arguments out of range (ids beyond a column, lifetimes,
ports), unknown migration revisions and unwritable paths end with a message, never a
traceback, and ``ca issue`` pins nothing when the key file cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, User
from tests.conftest import AuthActions, csrf_from, make_user


def _token(client: FlaskClient, page: str = "/login") -> str:
    return csrf_from(client.get(page).get_data(as_text=True))


# 1. a JSON body on a form view (Flask-WTF reads JSON as form data)
@pytest.mark.parametrize("body", [b"1", b'"s"', b"true", b"NaN", b"[" * 100_000, b'{"a":' * 50_000])
def test_json_scalar_or_deep_body_on_login(client: FlaskClient, body: bytes) -> None:
    resp = client.post(
        "/login",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": _token(client)},
    )
    assert resp.status_code == 415


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": 1, "password": "x"}',
        b'{"username": {"a": 1}, "password": "x"}',
        b'{"username": "alice", "password": {"a": 1}}',
        b'{"username": "alice", "password": "\\udc00x"}',
    ],
)
def test_json_wrong_types_on_login(client: FlaskClient, alice: User, body: bytes) -> None:
    resp = client.post(
        "/login",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": _token(client)},
    )
    assert resp.status_code == 415


def test_json_lone_surrogate_username_on_login(client: FlaskClient) -> None:
    client.application.config["PROPAGATE_EXCEPTIONS"] = False  # what production does
    resp = client.post(
        "/login",
        data=b'{"username": "\\udc00", "password": "x"}',
        content_type="application/json",
        headers={"X-CSRFToken": _token(client)},
    )
    assert resp.status_code == 415


def test_json_lone_surrogate_display_name_on_request_account(
    client: FlaskClient, db: Session
) -> None:
    resp = client.post(
        "/request-account",
        data=(b'{"username": "erin", "display_name": "\\udc00x", "email": "erin@example.org"}'),
        content_type="application/json",
        headers={"X-CSRFToken": _token(client)},
    )
    assert resp.status_code == 415


def test_json_dict_reason_on_admin_revoke(client: FlaskClient, db: Session, app: Flask) -> None:
    from tests.support.admin import admin_signed_in
    from tests.support.factories import certificate

    admin_signed_in(client, db, app)
    bob = make_user(db, app, "bob")
    cert = certificate(db, bob)
    db.commit()
    resp = client.post(
        f"/admin/users/{bob.id}/credentials/{cert.id}/revoke",
        data=b'{"reason": {"a": 1}}',
        content_type="application/json",
        headers={"X-CSRFToken": _token(client, "/admin/")},
    )
    assert resp.status_code == 415
    db.expire_all()
    assert db.get(Credential, cert.id).revoked_at is None  # type: ignore[union-attr]


def test_json_int_label_on_rename(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    auth.login()
    cred = db.scalar(select(Credential).where(Credential.user_id == alice.id))
    resp = client.post(
        f"/account/credentials/{cred.id}/rename",  # type: ignore[union-attr]
        data=b'{"label": 5}',
        content_type="application/json",
        headers={"X-CSRFToken": _token(client, "/account")},
    )
    assert resp.status_code == 415


# 2. CLI
@pytest.mark.parametrize(
    "args",
    [
        ["request", "approve", str(2**63)],
        ["request", "reject", "9" * 40],
        ["db", "upgrade", "nosuchrevision"],
        ["ca", "crl", "--days", "0"],
        ["ca", "crl", "--days", "99999999999"],
        ["ca", "crl", "--out", "/nonexistent/dir/crl.pem"],
        ["ca", "issue", "alice", "--p12", "a.p12", "--days", "0"],
        ["dev", "serve", "--https-port", "-1"],
    ],
)
def test_cli_bad_arguments(
    runner: Any,
    app: Flask,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    if args[0] == "ca":
        assert runner.invoke(args=["ca", "init"]).exit_code == 0
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and result.output.strip()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def test_cli_ca_issue_to_an_unwritable_path_pins_nothing(
    runner: Any, alice: User, db: Session
) -> None:
    assert runner.invoke(args=["ca", "init"]).exit_code == 0
    result = runner.invoke(args=["ca", "issue", "alice", "--p12", "/nonexistent/dir/a.p12"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code != 0
    db.expire_all()
    assert (
        db.scalar(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE)) is None
    )  # nothing half-done


def test_cli_ca_issue_never_overwrites_a_file(
    runner: Any, alice: User, db: Session, tmp_path: Path
) -> None:
    assert runner.invoke(args=["ca", "init"]).exit_code == 0
    there = tmp_path / "someone-else.p12"
    there.write_bytes(b"another key")
    result = runner.invoke(args=["ca", "issue", "alice", "--p12", str(there)])
    assert result.exit_code != 0 and "exists" in result.output
    assert there.read_bytes() == b"another key"
    db.expire_all()
    assert (
        db.scalar(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE)) is None
    )
