"""Helpers for the admin tests: an administrator signed in through the real form, actions
posted with the page's CSRF token, and sessions made old enough to need a new sign-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AuditEvent, AuthSession, User
from tests.conftest import PASSWORD, csrf_from, make_user


def admin_signed_in(client: FlaskClient, db: Session, app: Flask, name: str = "root") -> User:
    admin = make_user(db, app, name, admin=True)
    sign_in(client, name)
    return admin


def sign_in(client: FlaskClient, name: str) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 303, resp.status_code


def post(client: FlaskClient, url: str, *, page: str = "/admin/", **data: str) -> Any:
    """POST ``url`` with the CSRF token of ``page`` (what a browser's form would send)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def age_sessions(db: Session, user: User, by: timedelta = timedelta(hours=1)) -> None:
    """Make ``user``'s sign-ins old: no longer recent enough for admin actions."""
    for row in db.scalars(select(AuthSession).where(AuthSession.user_id == user.id)):
        db.execute(
            update(AuthSession)
            .where(AuthSession.id == row.id)
            .values(created_at=row.created_at - by)
        )
    db.commit()


def events(db: Session, tag: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.id)))
