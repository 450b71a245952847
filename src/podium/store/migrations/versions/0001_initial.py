"""Jobs, runs, task runs, attempts, task values and transitions.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from podium.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(4096), nullable=False, index=True),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.job_id"), nullable=False, index=True),
        sa.Column("run_name", sa.String(4096), nullable=False),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("source_dir", sa.Text, nullable=False),
        sa.Column("parameters_json", sa.Text, nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("life_cycle_state", sa.String(32), nullable=False, index=True),
        sa.Column("result_state", sa.String(40)),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("termination_code", sa.String(40)),
        sa.Column("termination_type", sa.String(40)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("cancel_requested_at", UTCDateTime),
        sa.Column("repair_count", sa.Integer, nullable=False),
        sa.Column("engine_id", sa.String(64)),
        sa.Column("heartbeat_at", UTCDateTime),
    )
    op.create_table(
        "task_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("task_key", sa.String(100), nullable=False),
        sa.Column("life_cycle_state", sa.String(32), nullable=False),
        sa.Column("result_state", sa.String(40)),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("retries_used", sa.Integer, nullable=False),
        sa.Column("retry_at", UTCDateTime),
        sa.Column("condition_outcome", sa.String(5)),
        sa.Column("started_at", UTCDateTime),
        sa.Column("ended_at", UTCDateTime),
    )
    op.create_index("ix_task_runs_run_task", "task_runs", ["run_id", "task_key"], unique=True)
    op.create_table(
        "attempts",
        sa.Column("attempt_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("task_key", sa.String(100), nullable=False),
        sa.Column("attempt_number", sa.Integer, nullable=False),
        sa.Column("repair_count", sa.Integer, nullable=False),
        sa.Column("life_cycle_state", sa.String(32), nullable=False),
        sa.Column("result_state", sa.String(40)),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("exit_code", sa.Integer),
        sa.Column("log_path", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_attempts_run_task", "attempts", ["run_id", "task_key", "attempt_number"]
    )
    op.create_table(
        "task_values",
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("task_key", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value_json", sa.Text, nullable=False),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("task_key", sa.String(100)),
        sa.Column("attempt_number", sa.Integer),
        sa.Column("life_cycle_state", sa.String(32), nullable=False),
        sa.Column("result_state", sa.String(40)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_transitions_run", "transitions", ["run_id", "id"])


def downgrade() -> None:
    for table in ("transitions", "task_values", "attempts", "task_runs", "runs", "jobs"):
        op.drop_table(table)
