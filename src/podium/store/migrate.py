"""Bring a metadata database to the current schema with the one Alembic history."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, inspect, text

# The newest revision in migrations/versions; a test checks it against Alembic's head,
# so a fresh process can skip loading Alembic when the database is already current.
HEAD_REVISION = "0006"
_LOCK_KEY = 0x706F6469  # "podi": the advisory lock id of Podium's migrations


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks (quick no-op when it is current).

    Processes starting together on a fresh database take turns: the first migrates,
    the others find it current.
    """
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _migration_lock(engine):
        if current_revision(engine) == HEAD_REVISION:
            return
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock across processes: a lock file beside a SQLite database, an
    advisory lock on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
