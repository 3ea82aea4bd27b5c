"""audit_events.id as BIGINT on PostgreSQL

audit_events is the one table that grows without bound, and a SERIAL (32-bit) id runs out at
2**31 - 1 rows. On PostgreSQL the column and the sequence behind it become BIGINT: a
SERIAL's sequence is ``AS integer`` and does not follow the column's type on its own. No
foreign key refers to audit_events.id. ALTER COLUMN ... TYPE rewrites the table and rebuilds
its indexes under an ACCESS EXCLUSIVE lock, so sign-ins (which write audit rows) wait for it:
on a large trail, run this upgrade in a maintenance window.

On SQLite nothing changes: the model keeps INTEGER there, since only ``INTEGER PRIMARY KEY``
is the (already 64-bit) rowid.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _set_id_type(
    new: sa.types.TypeEngine[int], old: sa.types.TypeEngine[int], sql_name: str
) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.alter_column("audit_events", "id", type_=new, existing_type=old, existing_nullable=False)
    # the owned sequence's name as PostgreSQL quotes it, e.g. public.audit_events_id_seq
    sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence('audit_events', 'id')"))
    if sequence is not None:
        op.execute(f"ALTER SEQUENCE {sequence} AS {sql_name}")


def upgrade() -> None:
    _set_id_type(sa.BigInteger(), sa.Integer(), "bigint")


def downgrade() -> None:
    # fails, as it should, once an id or the sequence is beyond 2**31 - 1
    _set_id_type(sa.Integer(), sa.BigInteger(), "integer")
