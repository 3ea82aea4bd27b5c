"""user_groups and gate_sessions: the forward-auth gate's group memberships, and the
sessions single sign-on opens on protected hosts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_groups_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "name", name=op.f("pk_user_groups")),
    )
    op.create_index(op.f("ix_user_groups_name"), "user_groups", ["name"], unique=False)
    op.create_table(
        "gate_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", app.models.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", app.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["sessions.id"],
            name=op.f("fk_gate_sessions_parent_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gate_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_gate_sessions_parent_id"), "gate_sessions", ["parent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gate_sessions_parent_id"), table_name="gate_sessions")
    op.drop_table("gate_sessions")
    op.drop_index(op.f("ix_user_groups_name"), table_name="user_groups")
    op.drop_table("user_groups")
