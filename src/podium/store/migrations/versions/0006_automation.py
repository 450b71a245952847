"""Schedules and triggers (their state, the files seen), notifications, trigger info.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from podium.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trigger_info_json", sa.Text, nullable=True))
    op.create_table(
        "trigger_state",
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.job_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("last_fire_at", UTCDateTime, nullable=True),
        sa.Column("last_run_id", sa.Integer, nullable=True),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "seen_files",
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.job_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("path", sa.String(4096), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("repair_count", sa.Integer, nullable=False),
        sa.Column("task_key", sa.String(100), nullable=False),
        sa.Column("event", sa.String(48), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_notifications_event", "notifications",
                    ["run_id", "repair_count", "task_key", "event", "channel", "destination"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("ix_notifications_event", "notifications")
    for table in ("notifications", "seen_files", "trigger_state"):
        op.drop_table(table)
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trigger_info_json")
