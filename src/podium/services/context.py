"""The services' handle on one Podium installation: settings plus a migrated database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from podium.settings import Settings, load_settings
from podium.store import make_engine, make_sessions, upgrade


@dataclass(frozen=True, slots=True)
class Podium:
    """What every use-case needs: the settings and a session factory."""

    settings: Settings
    db: DbEngine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.db.dispose()


def open_podium(settings: Settings | None = None) -> Podium:
    """Open (and, the first time, create) the metadata database of ``settings``."""
    settings = settings or load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.database_url)
    upgrade(db)
    return Podium(settings, db, make_sessions(db))
