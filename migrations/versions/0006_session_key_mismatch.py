"""sessions.key_mismatch_at: when a session bound to a certificate's key was first presented
without that key (audited once per session)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions", sa.Column("key_mismatch_at", app.models.base.UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("key_mismatch_at")
