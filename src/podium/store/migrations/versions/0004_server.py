"""The server: users and tokens, job versions and permissions, secrets, the audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from podium.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("creator", sa.String(255), nullable=True))
        batch.add_column(sa.Column("source_dir", sa.Text, nullable=True))
        batch.add_column(sa.Column("deleted_at", UTCDateTime, nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("job_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("idempotency_token", sa.String(64), nullable=True))
        batch.create_index("ix_runs_idempotency", ["job_id", "idempotency_token"])
    op.create_table(
        "job_versions",
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.job_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    # Every job stored before versions existed gets its current settings as version 1.
    op.execute(
        "INSERT INTO job_versions (job_id, version, spec_json, change, created_at) "
        "SELECT job_id, 1, spec_json, 'create', created_at FROM jobs"
    )
    op.create_table(
        "job_permissions",
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.job_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("principal_kind", sa.String(8), primary_key=True),
        sa.Column("principal", sa.String(255), primary_key=True),
        sa.Column("level", sa.String(32), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(255), nullable=False, unique=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "secret_scopes",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "secrets",
        sa.Column("scope", sa.String(128),
                  sa.ForeignKey("secret_scopes.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_events", "secrets", "secret_scopes", "tokens", "users",
                  "job_permissions", "job_versions"):
        op.drop_table(table)
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_idempotency")
        batch.drop_column("idempotency_token")
        batch.drop_column("created_by")
        batch.drop_column("job_version")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("source_dir")
        batch.drop_column("creator")
        batch.drop_column("version")
