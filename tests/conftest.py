"""Shared fixtures: a fresh PODIUM_HOME per test, and the PostgreSQL server when present.

Outside components skip with a printed reason, unless PODIUM_TEST_REQUIRE names them
(CI does), in which case their absence fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.services import Podium, open_podium
from podium.settings import Settings, load_settings

REQUIRED = {c.strip() for c in os.environ.get("PODIUM_TEST_REQUIRE", "").split(",") if c.strip()}
POSTGRES_URL = os.environ.get(
    "PODIUM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def missing(component: str, reason: str) -> None:
    """Skip, or fail when CI said the component is required."""
    if component in REQUIRED:
        pytest.fail(f"{component} is required (PODIUM_TEST_REQUIRE) but {reason}")
    pytest.skip(f"{component} not available: {reason}")


def settings_for(home: Path, database_url: str | None = None, **env: str) -> Settings:
    environ = {"PODIUM_HOME": str(home), **env}
    if database_url:
        environ["PODIUM_DATABASE_URL"] = database_url
    return load_settings(environ)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PODIUM_HOME, also set in the environment for CLI subprocesses."""
    path = tmp_path / "podium-home"
    monkeypatch.setenv("PODIUM_HOME", str(path))
    monkeypatch.delenv("PODIUM_DATABASE_URL", raising=False)
    return path


@pytest.fixture
def podium(home: Path) -> Iterator[Podium]:
    """Podium on SQLite in a fresh home."""
    p = open_podium(
        settings_for(home, PODIUM_MAX_PARALLEL_TASKS="2", PODIUM_CANCEL_GRACE_SECONDS="2")
    )
    yield p
    p.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    try:
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"podium_test_{uuid.uuid4().hex[:10]}"
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server means "not available"
        missing("postgres", f"cannot create a database at {POSTGRES_URL}: {exc}")
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_podium(request: pytest.FixtureRequest, home: Path) -> Iterator[Podium]:
    """Podium on each metadata backend."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    p = open_podium(settings_for(home, url, PODIUM_MAX_PARALLEL_TASKS="2"))
    if request.param == "postgres":
        from podium.store.tables import Base

        # One database per session: empty it per test, keeping the schema.
        with p.db.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    yield p
    p.close()
