"""Bring a metadata database to the current schema with the one Alembic history."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

# The newest revision in migrations/versions; a test checks it against Alembic's head,
# so a fresh process can skip loading Alembic when the database is already current.
HEAD_REVISION = "0001"


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks (quick no-op when it is current)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
