"""One sequence for the ids of runs and task runs, which the Jobs API both calls run_id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_ids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sqlite_autoincrement=True,
    )
    # New ids start above every id handed out so far, of runs and of attempts.
    op.execute(
        "INSERT INTO run_ids (id) SELECT MAX(n) FROM (SELECT COALESCE(MAX(run_id), 0) AS n "
        "FROM runs UNION ALL SELECT COALESCE(MAX(attempt_id), 0) FROM attempts) AS ids"
    )
    if op.get_bind().dialect.name == "postgresql":  # an explicit id leaves the sequence be
        op.execute("SELECT setval(pg_get_serial_sequence('run_ids', 'id'), "
                   "GREATEST(MAX(id), 1), MAX(id) > 0) FROM run_ids")


def downgrade() -> None:
    op.drop_table("run_ids")
