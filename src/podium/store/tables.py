"""The metadata tables (data only). Datetimes are stored as UTC and read back UTC-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    __tablename__ = "jobs"

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(4096), index=True)
    spec_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)  # its newest job_versions row
    creator: Mapped[str | None] = mapped_column(String(255))
    source_dir: Mapped[str | None] = mapped_column(Text)  # where relative task paths start
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # kept for its runs


class JobVersionRow(Base):
    """Every stored state of a job's settings: who changed it, when and how."""

    __tablename__ = "job_versions"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec_json: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(16))  # create, update, reset
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobPermissionRow(Base):
    """A permission level on a job held by a user or a group."""

    __tablename__ = "job_permissions"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    principal_kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # user, group
    principal: Mapped[str] = mapped_column(String(255), primary_key=True)
    level: Mapped[str] = mapped_column(String(32))


class UserRow(Base):
    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_name: Mapped[str] = mapped_column(String(255), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TokenRow(Base):
    """An API token, stored as the SHA-256 of its text: the text itself is never kept."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecretScopeRow(Base):
    __tablename__ = "secret_scopes"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SecretRow(Base):
    """A secret's value, encrypted with a key that is kept outside the database."""

    __tablename__ = "secrets"

    scope: Mapped[str] = mapped_column(
        ForeignKey("secret_scopes.name", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditRow(Base):
    """Who created, changed, ran, canceled or deleted what, and when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(255))
    detail_json: Mapped[str] = mapped_column(Text, default="{}")


class TriggerStateRow(Base):
    """Where a job's automatic starts stand (schedule, periodic, continuous), so a
    restart neither replays nor misses one."""

    __tablename__ = "trigger_state"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    last_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the fire time
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeenFileRow(Base):
    """A file a file-arrival trigger has seen, remembered so it never triggers twice."""

    __tablename__ = "seen_files"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)  # the run it triggered


class NotificationRow(Base):
    """One notification of one event to one destination: sent once per repair of the
    run, its delivery visible in the run. ``task_key`` is "" for the run's own events."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_event", "run_id", "repair_count", "task_key", "event",
              "channel", "destination", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    repair_count: Mapped[int] = mapped_column(Integer, default=0)  # a repair may fail anew
    task_key: Mapped[str] = mapped_column(String(100), default="")
    event: Mapped[str] = mapped_column(String(48))  # on_start, on_failure, ...
    channel: Mapped[str] = mapped_column(String(16))  # email, webhook
    destination: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16))  # PENDING, SENDING, SENT, FAILED
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunIdRow(Base):
    """The one sequence that numbers runs and task runs (attempts) alike: the Jobs API
    names both by ``run_id``, so the two must never collide. It holds one row, the last
    id handed out."""

    __tablename__ = "run_ids"
    __table_args__ = {"sqlite_autoincrement": True}  # never hand out an id again

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_parent", "parent_run_id", "parent_task_key"),)

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.job_id"), index=True)
    run_name: Mapped[str] = mapped_column(String(4096))
    spec_json: Mapped[str] = mapped_column(Text)  # the spec as it was when the run started
    source_dir: Mapped[str] = mapped_column(Text)  # relative task paths resolve against it
    parameters_json: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(32))
    life_cycle_state: Mapped[str] = mapped_column(String(32), index=True)
    result_state: Mapped[str | None] = mapped_column(String(40))
    state_message: Mapped[str] = mapped_column(Text, default="")
    termination_code: Mapped[str | None] = mapped_column(String(40))
    termination_type: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repair_count: Mapped[int] = mapped_column(Integer, default=0)
    engine_id: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A child run (a for_each_task iteration, a run_job_task's run) names its parent.
    parent_run_id: Mapped[int | None] = mapped_column(Integer)
    parent_task_key: Mapped[str | None] = mapped_column(String(100))
    iteration: Mapped[int | None] = mapped_column(Integer)
    job_version: Mapped[int | None] = mapped_column(Integer)  # the settings that ran
    created_by: Mapped[str | None] = mapped_column(String(255))
    idempotency_token: Mapped[str | None] = mapped_column(String(64))
    trigger_info_json: Mapped[str | None] = mapped_column(Text)  # e.g. the files that arrived


class TaskRunRow(Base):
    __tablename__ = "task_runs"
    __table_args__ = (Index("ix_task_runs_run_task", "run_id", "task_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(100))
    life_cycle_state: Mapped[str] = mapped_column(String(32))
    result_state: Mapped[str | None] = mapped_column(String(40))
    state_message: Mapped[str] = mapped_column(Text, default="")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    retries_used: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    condition_outcome: Mapped[str | None] = mapped_column(String(5))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AttemptRow(Base):
    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_run_task", "run_id", "task_key", "attempt_number"),)

    attempt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(100))
    attempt_number: Mapped[int] = mapped_column(Integer)  # 0 for the first, as Databricks
    repair_count: Mapped[int] = mapped_column(Integer, default=0)
    life_cycle_state: Mapped[str] = mapped_column(String(32))
    result_state: Mapped[str | None] = mapped_column(String(40))
    state_message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log_path: Mapped[str] = mapped_column(Text)
    output_json: Mapped[str | None] = mapped_column(Text)  # what runs/get-output shows


class TaskValueRow(Base):
    __tablename__ = "task_values"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    task_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)


class TransitionRow(Base):
    """Every state change of a run, task run or attempt, in order: the audit trail."""

    __tablename__ = "transitions"
    __table_args__ = (Index("ix_transitions_run", "run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    task_key: Mapped[str | None] = mapped_column(String(100))
    attempt_number: Mapped[int | None] = mapped_column(Integer)
    life_cycle_state: Mapped[str] = mapped_column(String(32))
    result_state: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
