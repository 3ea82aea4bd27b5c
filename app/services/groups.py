"""Group memberships: who is in which group, changed only here, each change audited.

Access rules admit groups (``groups = ["ops"]``); the gate sends a member's groups in
``Remote-Groups``. A membership added or removed writes its audit row in the same
transaction (the caller commits, as with :func:`app.services.accounts.set_status`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Label, String, bindparam, delete, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.models import GROUP_NAME, GroupMembership, User
from app.services.audit import Client, Event, Identified, record
from app.services.errors import ServiceError

_OF_USER = (
    select(GroupMembership.name)
    .where(GroupMembership.user_id == bindparam("user_id"))
    .order_by(GroupMembership.name)
)


class GroupError(ServiceError):
    """A group change that cannot be made; ``message`` is for the person who asked."""


def group_name(raw: str) -> str:
    """The canonical form of a group's name.

    Raises:
        GroupError: not a valid name.
    """
    name = raw.strip().lower()
    if not GROUP_NAME.fullmatch(name):
        raise GroupError(
            "bad_group_name",
            "A group name is 1-63 characters: letters a-z, "
            "digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


class comma_joined(FunctionElement[str]):
    """The non-null values of a column joined by commas: ``group_concat(x, ',')`` on SQLite,
    ``string_agg(x, ',')`` on PostgreSQL. SQLAlchemy's ``func.aggregate_strings`` renders
    its separator into the statement at every execution (a literal-execute parameter); a
    separator written in the SQL leaves the statement compiled once, as the gate's checks
    read it on every request."""

    type = String()
    inherit_cache = True


@compiles(comma_joined, "sqlite")
def _group_concat(element: comma_joined, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_joined)
def _string_agg(element: comma_joined, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


def names_of(user_id: ColumnElement[int] | QueryableAttribute[int]) -> Label[str]:
    """The names of the groups of the user ``user_id`` (a column of the enclosing query),
    comma-separated (names hold no comma: :data:`GROUP_NAME`), as a column ``group_names``
    read in the same query as the user."""
    return (
        select(comma_joined(GroupMembership.name))
        .where(GroupMembership.user_id == user_id)
        .scalar_subquery()
        .label("group_names")
    )


def of_user(db: Session, user_id: int) -> list[str]:
    """The names of ``user_id``'s groups, sorted (one indexed query)."""
    return list(db.scalars(_OF_USER, {"user_id": user_id}))


def members(db: Session) -> dict[str, list[str]]:
    """Every group and its members' usernames, both sorted."""
    rows = db.execute(
        select(GroupMembership.name, User.username)
        .join(User, User.id == GroupMembership.user_id)
        .order_by(GroupMembership.name, User.username)
    )
    found: dict[str, list[str]] = defaultdict(list)
    for name, username in rows:
        found[name].append(username)
    return dict(found)


def add(
    db: Session,
    user: User,
    raw_name: str,
    *,
    client: Client,
    now: datetime,
    actor: Identified | None = None,
) -> bool:
    """Put ``user`` in a group; False (and no audit row) if they were in it already.

    Raises:
        GroupError: the name is not valid.
    """
    name = group_name(raw_name)
    if db.get(GroupMembership, (user.id, name)) is not None:
        return False
    db.add(GroupMembership(user_id=user.id, name=name, created_at=now))
    db.flush()
    record(
        db,
        Event.GROUP_MEMBER_ADDED,
        client=client,
        success=True,
        user=user,
        actor=actor,
        details={"group": name},
    )
    return True


def remove(
    db: Session,
    user: User,
    raw_name: str,
    *,
    client: Client,
    now: datetime,
    actor: Identified | None = None,
) -> bool:
    """Take ``user`` out of a group; False (and no audit row) if they were not in it.

    Raises:
        GroupError: the name is not valid.
    """
    name = group_name(raw_name)
    result = db.execute(
        delete(GroupMembership)
        .where(GroupMembership.user_id == user.id, GroupMembership.name == name)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    record(
        db,
        Event.GROUP_MEMBER_REMOVED,
        client=client,
        success=True,
        user=user,
        actor=actor,
        details={"group": name},
    )
    return True
