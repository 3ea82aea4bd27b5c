"""Declarative base and column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, DateTime, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: The largest primary key: id columns are INTEGER, 32-bit signed on PostgreSQL, which
#: refuses a larger number in a comparison with one (ids from URLs and cursors are checked).
MAX_ID = 2**31 - 1
#: audit_events.id is BIGINT (migration 0003): the largest id an audit cursor may carry
MAX_AUDIT_ID = 2**63 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """A model's table, for the few hot paths that write with plain statements."""
    return cast(Table, model.__table__)


#: where plain statements run: an ORM session (on its connection) or a plain connection
Executor = Session | Connection


def connection_of(db: Executor) -> Connection:
    """Where a plain statement (one that loads no ORM objects) runs: ``db`` itself, or the
    connection of the ORM session's transaction. ``Connection.execute`` spares such a
    statement the ORM's own execution layer, which has nothing to do for it."""
    return db if isinstance(db, Connection) else db.connection()
