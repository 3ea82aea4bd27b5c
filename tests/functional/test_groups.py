"""Groups: the service, ``keystile group ...`` and the admin user page; every change audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import GroupMembership, User, utcnow
from app.services import groups
from app.services.audit import SYSTEM
from app.services.groups import GroupError
from tests.conftest import make_user
from tests.support.admin import admin_signed_in, age_sessions, events, post


@pytest.fixture
def bob(db: Session, app: Flask) -> User:
    return make_user(db, app, "bob")


def memberships(db: Session) -> list[tuple[int, str]]:
    db.expire_all()
    return [
        (m.user_id, m.name)
        for m in db.scalars(
            select(GroupMembership).order_by(GroupMembership.user_id, GroupMembership.name)
        )
    ]


def test_service_adds_and_removes_once_with_one_audit_row_each(db: Session, bob: User) -> None:
    assert groups.add(db, bob, " Ops ", client=SYSTEM, now=utcnow()) is True
    assert groups.add(db, bob, "ops", client=SYSTEM, now=utcnow()) is False
    assert groups.add(db, bob, "dev", client=SYSTEM, now=utcnow()) is True
    db.commit()
    assert groups.of_user(db, bob.id) == ["dev", "ops"]
    assert groups.remove(db, bob, "OPS", client=SYSTEM, now=utcnow()) is True
    assert groups.remove(db, bob, "ops", client=SYSTEM, now=utcnow()) is False
    db.commit()
    assert memberships(db) == [(bob.id, "dev")]
    added = events(db, "account:group:added")
    assert [(e.user_id, e.details) for e in added] == [
        (bob.id, {"group": "ops"}),
        (bob.id, {"group": "dev"}),
    ]
    assert [e.details for e in events(db, "account:group:removed")] == [{"group": "ops"}]


@pytest.mark.parametrize(
    "name", ["", " ", "ops team", "-ops", "ops,dev", "x" * 64, "\u00f6ps", "ops\nx", "ops;drop"]
)
def test_bad_group_names_are_refused(db: Session, bob: User, name: str) -> None:
    with pytest.raises(GroupError) as caught:
        groups.add(db, bob, name, client=SYSTEM, now=utcnow())
    assert "group name" in caught.value.message
    assert memberships(db) == []


def test_a_deleted_user_leaves_their_groups(db: Session, bob: User) -> None:
    groups.add(db, bob, "ops", client=SYSTEM, now=utcnow())
    db.commit()
    db.execute(delete(User).where(User.id == bob.id))
    db.commit()
    assert memberships(db) == []


def test_cli_add_list_remove(runner: Any, db: Session, bob: User, app: Flask) -> None:
    make_user(db, app, "alice")
    assert runner.invoke(args=["group", "list"]).output == "no groups\n"
    result = runner.invoke(args=["group", "add", "BOB", "ops"])
    assert result.exit_code == 0 and result.output == "added bob to ops\n"
    assert runner.invoke(args=["group", "add", "alice", "Ops"]).exit_code == 0
    again = runner.invoke(args=["group", "add", "bob", "ops"])
    assert again.exit_code == 0 and "already in ops" in again.output
    assert runner.invoke(args=["group", "list"]).output == "ops: alice, bob\n"
    listed = json.loads(runner.invoke(args=["group", "list", "--json"]).output)
    assert listed == [{"group": "ops", "members": ["alice", "bob"]}]
    removed = runner.invoke(args=["group", "remove", "bob", "ops"])
    assert removed.exit_code == 0 and removed.output == "removed bob from ops\n"
    assert [e.actor_id for e in events(db, "account:group:removed")] == [None]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["group", "add", "nobody", "ops"], "no user 'nobody'"),
        (["group", "add", "bob", "ops team"], "group name"),
        (["group", "remove", "bob", "ops"], "bob is not in ops"),
        (["group", "remove", "bob", "a b"], "group name"),
        (["group", "add", "bob"], "Missing argument 'GROUP'"),
    ],
)
def test_cli_errors(runner: Any, bob: User, args: list[str], message: str) -> None:
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_admin_adds_and_removes_from_the_user_page(
    client: FlaskClient, db: Session, app: Flask, bob: User
) -> None:
    admin = admin_signed_in(client, db, app)
    page = f"/admin/users/{bob.id}"
    assert "In no group." in client.get(page).get_data(as_text=True)
    resp = post(client, f"{page}/groups/add", page=page, group="Ops")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(page)
    html = client.get(page).get_data(as_text=True)
    assert "<code>ops</code>" in html and "Added bob to ops." in html
    resp = post(client, f"{page}/groups/remove", page=page, group="ops")
    assert resp.status_code == 303
    assert memberships(db) == []
    assert [e.actor_id for e in events(db, "account:group:added")] == [admin.id]
    assert [e.actor_id for e in events(db, "account:group:removed")] == [admin.id]


def test_admin_bad_name_is_a_message_not_a_change(
    client: FlaskClient, db: Session, app: Flask, bob: User
) -> None:
    admin_signed_in(client, db, app)
    page = f"/admin/users/{bob.id}"
    resp = post(client, f"{page}/groups/add", page=page, group="<b>ops team</b>")
    assert resp.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "A group name is" in html and "<b>ops team</b>" not in html
    assert memberships(db) == []


def test_admin_group_change_needs_csrf_recent_sign_in_and_admin(
    client: FlaskClient, db: Session, app: Flask, bob: User
) -> None:
    admin = admin_signed_in(client, db, app)
    page = f"/admin/users/{bob.id}"
    assert client.post(f"{page}/groups/add", data={"group": "ops"}).status_code == 400
    assert post(client, f"{page}/groups/add", page=page).status_code == 400  # no name
    assert post(client, "/admin/users/999999/groups/add", page=page, group="ops").status_code == 404
    assert post(client, f"{page}/groups/join", page=page, group="ops").status_code == 404
    age_sessions(db, admin)
    resp = post(client, f"{page}/groups/add", page=page, group="ops")
    assert resp.status_code == 303 and "/login?reauth=1" in resp.headers["Location"]
    assert memberships(db) == []
    other = app.test_client()
    from tests.support.admin import sign_in

    sign_in(other, "bob")
    assert post(other, f"{page}/groups/add", page="/account", group="ops").status_code == 403
    assert memberships(db) == []
