"""admin reports: credentials.strength_flag and the indexes of the admin pages

A database-computed strength flag on every credential (see app.models.credential) and partial
indexes for live and revoked credentials, new credentials by day, clone flags, and audit
events by actor and failed sign-ins, users by role. SQLite cannot add a STORED generated column without rebuilding the table,
so there the column is VIRTUAL (the same values; the index stores them either way).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:25:30.187421
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: app.models.credential.STRENGTH_FLAG_SQL as of this revision
STRENGTH_FLAG_SQL = (
    "CASE WHEN kind = 'password' THEN 1 WHEN kind = 'certificate' THEN 2 "
    "WHEN backup_eligible THEN 4 WHEN attestation_trust = 'verified' THEN 16 ELSE 8 END"
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_role_status", ["role", "status"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_actor_created", ["actor_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_failures",
            ["tag", "created_at", "method", "reason"],
            unique=False,
            sqlite_where=sa.text("outcome = 'failure'"),
            postgresql_where=sa.text("outcome = 'failure'"),
        )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE credentials ADD COLUMN strength_flag INTEGER NOT NULL "
            f"GENERATED ALWAYS AS ({STRENGTH_FLAG_SQL}) VIRTUAL"
        )
    else:
        op.add_column(
            "credentials",
            sa.Column(
                "strength_flag",
                sa.Integer(),
                sa.Computed(STRENGTH_FLAG_SQL, persisted=True),
                nullable=False,
            ),
        )

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credentials_clone_flagged_at",
            ["clone_flagged_at"],
            unique=False,
            sqlite_where=sa.text("clone_flagged_at IS NOT NULL"),
            postgresql_where=sa.text("clone_flagged_at IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_credentials_created_strength", ["created_at", "strength_flag"], unique=False
        )
        batch_op.create_index(
            "ix_credentials_live_strength",
            ["strength_flag"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_credentials_live_user_strength",
            ["user_id", "strength_flag"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_credentials_revoked_strength",
            ["revoked_at", "strength_flag"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NOT NULL"),
            postgresql_where=sa.text("revoked_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_credentials_revoked_strength",
            sqlite_where=sa.text("revoked_at IS NOT NULL"),
            postgresql_where=sa.text("revoked_at IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_credentials_live_user_strength",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_credentials_live_strength",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index("ix_credentials_created_strength")
        batch_op.drop_index(
            "ix_credentials_clone_flagged_at",
            sqlite_where=sa.text("clone_flagged_at IS NOT NULL"),
            postgresql_where=sa.text("clone_flagged_at IS NOT NULL"),
        )
    op.drop_column("credentials", "strength_flag")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_actor_created")
        batch_op.drop_index(
            "ix_audit_events_failures",
            sqlite_where=sa.text("outcome = 'failure'"),
            postgresql_where=sa.text("outcome = 'failure'"),
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_role_status")
