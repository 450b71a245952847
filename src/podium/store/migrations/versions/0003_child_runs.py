"""Child runs: the iterations of a for_each_task and the runs of a run_job_task.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("parent_run_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("parent_task_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("iteration", sa.Integer, nullable=True))
        batch.create_index("ix_runs_parent", ["parent_run_id", "parent_task_key"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_parent")
        batch.drop_column("iteration")
        batch.drop_column("parent_task_key")
        batch.drop_column("parent_run_id")
