"""Admin users table, a user's page, and the actions taken from it."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuthSession, Credential, Notice, User
from tests.conftest import csrf_from, make_user
from tests.support import factories
from tests.support.admin import admin_signed_in, age_sessions, events, post, sign_in

XSS = '<script>alert("x")</script>'


@pytest.fixture
def admin(client: FlaskClient, db: Session, app: Flask) -> User:
    return admin_signed_in(client, db, app)


@pytest.fixture
def bob(db: Session, app: Flask) -> User:
    """A user with one credential of every kind, signed in from another browser."""
    user = make_user(db, app, "bob")
    user.display_name = XSS
    db.commit()
    factories.certificate(db, user, subject="CN=bob,O=<b>Example</b>")
    factories.passkey(db, user, synced=False, attested=True)
    return user


def bob_browser(app: Flask) -> FlaskClient:
    other = app.test_client()
    other.environ_base = {
        "HTTP_USER_AGENT": "<img src=x onerror=alert(1)>",
        "REMOTE_ADDR": "198.51.100.20",
    }
    sign_in(other, "bob")
    return other


def test_users_table_with_badges_and_escaping(client: FlaskClient, admin: User, bob: User) -> None:
    page = client.get("/admin/users").get_data(as_text=True)
    assert XSS not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    row = page[page.index('href="/admin/users/2"') :]
    row = row[: row.index("</tr>")]
    assert re.findall(r'class="badge strength-(\d)[^"]*">([^<]+)', row) == [
        ("1", "password"),
        ("2", "certificate file"),
        ("5", "attested hardware key"),
    ]


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("filter=password-only", ["root"], ["bob"]),
        ("filter=certificate-no-hardware-key", [], ["root", "bob"]),
        ("filter=hardware-key-policy", [], ["bob", "root"]),
        ("q=BO", ["bob"], ["root"]),
        ("q=root%40example", ["root"], ["bob"]),
    ],
)
def test_users_filters_and_search(
    client: FlaskClient, admin: User, bob: User, query: str, shown: list[str], hidden: list[str]
) -> None:
    page = client.get(f"/admin/users?{query}").get_data(as_text=True)
    for name in shown:
        assert f">{name}</a>" in page
    for name in hidden:
        assert f">{name}</a>" not in page


def test_users_bad_filter_is_refused(client: FlaskClient, admin: User) -> None:
    resp = client.get("/admin/users?filter=%27%3Bdrop")
    assert resp.status_code == 400 and "Not a valid choice" in resp.get_data(as_text=True)


def test_users_pages_link_forward_and_back(
    client: FlaskClient, admin: User, db: Session, app: Flask
) -> None:
    for n in range(55):
        make_user(db, app, f"u{n:02d}", password=None)
    first = client.get("/admin/users?filter=").get_data(as_text=True)
    assert first.count('href="/admin/users/') == 50
    nxt = re.search(r'href="([^"]+)" rel="next"', first)
    assert nxt and "after=u48" in nxt.group(1)  # root, u00 ... u48
    second = client.get(nxt.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert ">u49</a>" in second and ">u54</a>" in second and 'rel="next"' not in second
    prev = re.search(r'href="([^"]+)" rel="prev"', second)
    assert prev
    again = client.get(prev.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert ">root</a>" in again and ">u48</a>" in again and 'rel="prev"' not in again


def test_user_page_shows_every_credential_session_and_event(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session
) -> None:
    bob_browser(app)
    page = client.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    cert = next(c for c in bob.credentials if c.kind.value == "certificate")
    assert cert.lookup_key and cert.lookup_key in page  # SPKI SHA-256
    assert "CN=bob,O=&lt;b&gt;Example&lt;/b&gt;" in page and "CN=Example CA" in page
    assert f"<code>{cert.serial}</code>" in page and "Valid</dt>" in page
    assert "YubiKey 5 Series" in page and "(attested)" in page
    assert "cb69481e-8ff7-4039-93ec-0a2729a154a8" in page
    assert "<dd>packed format, verified against the maker&#39;s root" in page
    assert "Attestation</dt><dd>none, none" not in page
    assert "Pinned by</dt><dd>an operator (keystile cert pin)</dd>" in page
    assert "device-bound" in page and "<dt>Sign count</dt><dd>7</dd>" in page
    # the session, with how it was opened (a password needs no name) and no invented number
    assert '<td data-label="With">password</td>' in page and "End session 1" not in page
    assert '<span class="visually-hidden"> the session signed in at ' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "auth:password:success" in page and "account:credential:added" in page


def test_user_page_of_nobody_is_404(client: FlaskClient, admin: User) -> None:
    assert client.get("/admin/users/999").status_code == 404


def test_revoke_ends_the_credentials_sessions_at_once(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session
) -> None:
    other = bob_browser(app)
    assert other.get("/api/session").status_code == 200
    password = next(c for c in bob.credentials if c.kind.value == "password")
    resp = post(
        client,
        f"/admin/users/{bob.id}/credentials/{password.id}/revoke",
        page=f"/admin/users/{bob.id}",
        reason="laptop stolen",
    )
    assert resp.status_code == 303 and resp.headers["Location"] == f"/admin/users/{bob.id}"
    assert other.get("/api/session").status_code == 401
    db.expire_all()
    assert db.get(Credential, password.id).revoked_reason == "laptop stolen"  # type: ignore[union-attr]
    row = events(db, "account:credential:removed")[-1]
    assert (row.user_id, row.actor_id, row.credential_id) == (bob.id, admin.id, password.id)
    assert row.details["sessions_ended"] == 1
    assert db.scalar(
        select(Notice).where(Notice.user_id == bob.id, Notice.tag == "account:credential:removed")
    )
    page = client.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    assert "Revoked" in page and "laptop stolen" in page


def test_admin_may_revoke_a_users_last_credential(
    client: FlaskClient, admin: User, db: Session, app: Flask
) -> None:
    carol = make_user(db, app, "carol")
    only = carol.credentials[0]
    post(client, f"/admin/users/{carol.id}/credentials/{only.id}/revoke")
    db.expire_all()
    assert db.get(Credential, only.id).revoked_at is not None  # type: ignore[union-attr]


def test_admin_cannot_revoke_their_own_last_credential(
    client: FlaskClient, admin: User, db: Session
) -> None:
    own = admin.credentials[0]
    resp = post(client, f"/admin/users/{admin.id}/credentials/{own.id}/revoke")
    assert resp.status_code == 303
    db.expire_all()
    assert db.get(Credential, own.id).revoked_at is None  # type: ignore[union-attr]


def test_ids_of_other_users_objects_are_404(
    client: FlaskClient, admin: User, bob: User, db: Session, app: Flask
) -> None:
    carol = make_user(db, app, "carol")
    bob_browser(app)
    bobs_session = db.scalar(select(AuthSession).where(AuthSession.user_id == bob.id))
    assert bobs_session is not None
    bobs = bob.credentials[0]
    assert post(client, f"/admin/users/{carol.id}/credentials/{bobs.id}/revoke").status_code == 404
    assert (
        post(client, f"/admin/users/{carol.id}/sessions/{bobs_session.id}/end").status_code == 404
    )
    assert post(client, f"/admin/users/999/credentials/{bobs.id}/revoke").status_code == 404
    db.expire_all()
    assert db.get(Credential, bobs.id).revoked_at is None  # type: ignore[union-attr]
    assert db.get(AuthSession, bobs_session.id).revoked_at is None  # type: ignore[union-attr]


def test_actions_need_csrf(client: FlaskClient, admin: User, bob: User, db: Session) -> None:
    cred = bob.credentials[0]
    assert (
        client.post(
            f"/admin/users/{bob.id}/credentials/{cred.id}/revoke", data={"reason": "x"}
        ).status_code
        == 400
    )
    assert client.post(f"/admin/users/{bob.id}/disable").status_code == 400
    db.expire_all()
    assert db.get(Credential, cred.id).revoked_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "action", ["credentials/{cred}/revoke", "sessions/end-all", "disable", "sessions/{session}/end"]
)
def test_actions_need_a_recent_sign_in(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session, action: str
) -> None:
    bob_browser(app)
    session = db.scalar(select(AuthSession).where(AuthSession.user_id == bob.id))
    assert session is not None
    age_sessions(db, admin)
    url = f"/admin/users/{bob.id}/" + action.format(cred=bob.credentials[0].id, session=session.id)
    resp = post(client, url, page=f"/admin/users/{bob.id}")
    assert resp.status_code == 303 and "/login?reauth=1" in resp.headers["Location"]
    assert f"next=/admin/users/{bob.id}" in resp.headers["Location"]
    db.expire_all()
    assert db.get(User, bob.id).status.value == "active"  # type: ignore[union-attr]
    assert all(c.revoked_at is None for c in db.get(User, bob.id).credentials)  # type: ignore[union-attr]
    assert db.get(AuthSession, session.id).revoked_at is None  # type: ignore[union-attr]


def test_end_one_session_and_all_sessions(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session
) -> None:
    first, second = bob_browser(app), bob_browser(app)
    rows = list(
        db.scalars(
            select(AuthSession).where(AuthSession.user_id == bob.id).order_by(AuthSession.id)
        )
    )
    post(client, f"/admin/users/{bob.id}/sessions/{rows[0].id}/end")
    assert first.get("/api/session").status_code == 401
    assert second.get("/api/session").status_code == 200
    post(client, f"/admin/users/{bob.id}/sessions/end-all")
    assert second.get("/api/session").status_code == 401
    ended = events(db, "account:sessions:ended")
    assert [(e.user_id, e.actor_id, e.details["count"]) for e in ended] == [
        (bob.id, admin.id, 1),
        (bob.id, admin.id, 1),
    ]
    assert post(client, f"/admin/users/{bob.id}/sessions/{rows[0].id}/end").status_code == 404


def test_disable_and_re_enable(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session
) -> None:
    other = bob_browser(app)
    post(client, f"/admin/users/{bob.id}/disable")
    assert other.get("/api/session").status_code == 401
    assert "Re-enable bob" in client.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    post(client, f"/admin/users/{bob.id}/enable")
    sign_in(app.test_client(), "bob")
    assert [e.actor_id for e in events(db, "account:user:disabled")] == [admin.id]
    assert [e.actor_id for e in events(db, "account:user:enabled")] == [admin.id]


def test_admin_cannot_disable_themself(client: FlaskClient, admin: User, db: Session) -> None:
    page = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert "Disable root" not in page
    post(client, f"/admin/users/{admin.id}/disable")
    assert client.get("/api/session").status_code == 200
    assert events(db, "account:user:disabled") == []


def test_new_set_up_link_replaces_the_old_one_and_tells_the_user(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session
) -> None:
    def issue() -> str:
        resp = post(client, f"/admin/users/{bob.id}/enrolment-link", page=f"/admin/users/{bob.id}")
        assert resp.status_code == 200
        found = re.search(r'value="https://localhost(/enroll/[^"]+)"', resp.get_data(as_text=True))
        assert found is not None
        return found.group(1)

    first = issue()
    browser = app.test_client()
    assert "Choose how you will sign in as <strong>bob</strong>" in browser.get(first).get_data(
        as_text=True
    )
    second = issue()
    gone = browser.get(first)
    assert gone.status_code == 404 and "no longer works" in gone.get_data(as_text=True)
    assert browser.get(second).status_code == 200
    assert [(e.user_id, e.actor_id) for e in events(db, "account:enrolment:issued")] == [
        (bob.id, admin.id),
        (bob.id, admin.id),
    ]
    told = db.scalars(
        select(Notice).where(Notice.user_id == bob.id, Notice.tag == "account:enrolment:issued")
    ).all()
    assert len(told) == 2


def test_no_set_up_link_for_the_admin_themself(
    client: FlaskClient, admin: User, db: Session
) -> None:
    assert "New set-up link" not in client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    resp = post(client, f"/admin/users/{admin.id}/enrolment-link")
    assert resp.status_code == 303
    assert events(db, "account:enrolment:issued") == []


def test_admin_actions_need_the_admin_s_strongest_sign_in(
    client: FlaskClient, admin: User, bob: User, app: Flask, db: Session
) -> None:
    """F.24 for admins: signed in with the password while holding a security key (a phished
    password), no admin action goes through; nor is there a link for another admin."""
    key = factories.passkey(db, admin, synced=False, attested=True)
    for action in (
        f"/admin/users/{bob.id}/enrolment-link",
        f"/admin/users/{bob.id}/disable",
        f"/admin/users/{admin.id}/credentials/{key.id}/revoke",
    ):
        resp = post(client, action, page=f"/admin/users/{bob.id}")
        assert resp.status_code == 302 and "reauth=1" in resp.headers["Location"], action
        assert "next=/admin/users/" in resp.headers["Location"]  # back where it was
    db.expire_all()
    assert db.get(Credential, key.id).revoked_at is None  # type: ignore[union-attr]
    assert db.get(User, bob.id).status.value == "active"  # type: ignore[union-attr]
    assert events(db, "account:enrolment:issued") == []


def test_no_set_up_link_for_another_administrator(
    client: FlaskClient, admin: User, app: Flask, db: Session
) -> None:
    ops = make_user(db, app, "ops", admin=True)
    assert "New set-up link" not in client.get(f"/admin/users/{ops.id}").get_data(as_text=True)
    resp = post(client, f"/admin/users/{ops.id}/enrolment-link", page=f"/admin/users/{ops.id}")
    assert resp.status_code == 303
    assert events(db, "account:enrolment:issued") == []


def test_a_recovery_link_ends_the_old_password_s_sessions(
    client: FlaskClient, admin: User, app: Flask, db: Session
) -> None:
    carl = make_user(db, app, "carl")
    thief = app.test_client()
    sign_in(thief, "carl")
    resp = post(client, f"/admin/users/{carl.id}/enrolment-link", page=f"/admin/users/{carl.id}")
    found = re.search(r'value="https://localhost(/enroll/[^"]+)"', resp.get_data(as_text=True))
    assert found is not None
    owner = app.test_client()
    page = owner.get(found.group(1)).get_data(as_text=True)
    new = "the owner's new passphrase"
    assert (
        owner.post(
            found.group(1), data={"password": new, "confirm": new, "csrf_token": csrf_from(page)}
        ).status_code
        == 303
    )
    assert thief.get("/api/session").status_code == 401
    assert owner.get("/api/session").status_code == 200
    assert [e.user_id for e in events(db, "account:password:changed")] == [carl.id]
