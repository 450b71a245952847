"""Shared fixtures: a fresh PODIUM_HOME per test, and the PostgreSQL server when present.

Outside components skip with a printed reason, unless PODIUM_TEST_REQUIRE names them
(CI does), in which case their absence fails the test.

``PODIUM_TEST_DATABASE=postgres`` runs the suite with the metadata on PostgreSQL: every
integration test (and every module, for module-scoped servers) gets a fresh database,
copied from a migrated template, named in PODIUM_DATABASE_URL so that CLI and server
subprocesses use it too. Tests of something only SQLite has are marked ``sqlite_only``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.services import Podium, open_podium
from podium.settings import Settings, load_settings

REQUIRED = {c.strip() for c in os.environ.get("PODIUM_TEST_REQUIRE", "").split(",") if c.strip()}
POSTGRES_URL = os.environ.get(
    "PODIUM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_DATABASE = os.environ.get("PODIUM_TEST_DATABASE", "sqlite")
ON_POSTGRES = TEST_DATABASE == "postgres"
if TEST_DATABASE not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"PODIUM_TEST_DATABASE: {TEST_DATABASE!r}; use sqlite or postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: checks what only SQLite does; skipped on PostgreSQL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="SQLite-specific (PODIUM_TEST_DATABASE=postgres)")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


def missing(component: str, reason: str) -> None:
    """Skip, or fail when CI said the component is required."""
    if component in REQUIRED:
        pytest.fail(f"{component} is required (PODIUM_TEST_REQUIRE) but {reason}")
    pytest.skip(f"{component} not available: {reason}")


def settings_for(home: Path, database_url: str | None = None, **env: str) -> Settings:
    """Settings of ``home``; its metadata is on the test's PostgreSQL database when the
    suite runs on PostgreSQL, unless ``database_url`` says otherwise."""
    environ = {"PODIUM_HOME": str(home), **env}
    if database_url is None and ON_POSTGRES:
        database_url = os.environ.get("PODIUM_DATABASE_URL")
    if database_url:
        environ["PODIUM_DATABASE_URL"] = database_url
    return load_settings(environ)


# --- PostgreSQL databases ----------------------------------------------------------------

def _admin() -> Any:
    import sqlalchemy as sa

    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def postgres_database_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def create_database(template: str | None = None) -> str:
    """A new database (a copy of ``template`` if given); its name."""
    import sqlalchemy as sa

    name = f"podium_test_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    except Exception as exc:  # any failure to reach the server means "not available"
        missing("postgres", f"cannot create a database at {POSTGRES_URL}: {exc}")
    finally:
        admin.dispose()
    return name


def drop_database(name: str) -> None:
    import sqlalchemy as sa

    admin = _admin()
    with admin.connect() as conn:
        # FORCE ends the connections of servers a test left behind.
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = create_database()
    yield postgres_database_url(name)
    drop_database(name)


@pytest.fixture(scope="session")
def _migrated_template() -> Iterator[str]:
    """On PostgreSQL runs, a migrated database that each test's database copies (copying
    takes ~0.2 s where migrating takes seconds)."""
    from podium.store import make_engine, upgrade

    name = create_database()
    engine = make_engine(postgres_database_url(name))
    upgrade(engine)
    engine.dispose()  # a template must have no connections while it is copied
    yield name
    drop_database(name)


def _needs_database(request: pytest.FixtureRequest) -> bool:
    return ON_POSTGRES and "integration" in request.node.path.parts


@pytest.fixture(scope="module", autouse=True)
def _module_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """A fresh PostgreSQL database for each module's module-scoped servers."""
    if not _needs_database(request):
        yield
        return
    name = create_database(request.getfixturevalue("_migrated_template"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PODIUM_DATABASE_URL", postgres_database_url(name))
        yield
    drop_database(name)


def _uses_module_server(request: pytest.FixtureRequest) -> bool:
    """Whether the test talks to its module's ``server`` (module-scoped): the CLI
    commands it runs against that server's home must reach the same database."""
    info = getattr(request.node, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get("server", ()) if info is not None else ()
    return bool(defs) and defs[-1].scope in ("module", "package", "session")


@pytest.fixture(autouse=True)
def _test_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[None]:
    """A fresh PostgreSQL database for each integration test, in PODIUM_DATABASE_URL
    (unless it uses its module's server, whose database it must share)."""
    if not _needs_database(request) or _uses_module_server(request):
        yield
        return
    name = create_database(request.getfixturevalue("_migrated_template"))
    monkeypatch.setenv("PODIUM_DATABASE_URL", postgres_database_url(name))
    yield
    drop_database(name)


# --- homes ------------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PODIUM_HOME, also set in the environment for CLI subprocesses (with the
    test's PostgreSQL database when the suite runs on PostgreSQL)."""
    path = tmp_path / "podium-home"
    monkeypatch.setenv("PODIUM_HOME", str(path))
    if not ON_POSTGRES:
        monkeypatch.delenv("PODIUM_DATABASE_URL", raising=False)
    return path


@pytest.fixture
def podium(home: Path) -> Iterator[Podium]:
    """Podium in a fresh home (on SQLite, or the test's PostgreSQL database)."""
    p = open_podium(
        settings_for(home, PODIUM_MAX_PARALLEL_TASKS="2", PODIUM_CANCEL_GRACE_SECONDS="2")
    )
    yield p
    p.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_podium(request: pytest.FixtureRequest, home: Path) -> Iterator[Podium]:
    """Podium on each metadata backend."""
    url = f"sqlite:///{home / 'podium.db'}"
    if request.param == "postgres":
        # On PostgreSQL runs the test has a fresh database already.
        url = os.environ["PODIUM_DATABASE_URL"] if ON_POSTGRES else (
            request.getfixturevalue("postgres_url"))
    p = open_podium(settings_for(home, url, PODIUM_MAX_PARALLEL_TASKS="2"))
    if request.param == "postgres" and not ON_POSTGRES:
        from podium.store.tables import Base

        # One database per session: empty it per test, keeping the schema.
        with p.db.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    yield p
    p.close()
