"""``podium db ...``: a home's metadata moves from SQLite to PostgreSQL and back through
``podium db export`` / ``podium db import`` with every row intact, new run ids after the
old ones and secrets still readable; an import into a database with data changes nothing.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from podium.errors import Conflict, InvalidArgument
from podium.services import Podium, open_podium
from podium.services.auth import create_token, local_principal
from podium.services.database import export_home, import_home
from podium.services.secrets import create_scope, put_secret
from podium.store import HEAD_REVISION, make_engine
from podium.store.tables import AttemptRow, Base, RunRow
from tests.conftest import create_database, drop_database, postgres_database_url, settings_for
from tests.integration.helpers import PODIUM, job, results, run_job

VALUE = "s3cret-Vq7-value"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def open_on(home: Path, url: str) -> Podium:
    return open_podium(settings_for(home, url, PODIUM_MAX_PARALLEL_TASKS="2"))


def secret_job(source_dir: Path, out: str) -> Any:
    """Two tasks; the second writes the secret it was given to ``out``."""
    return job([
        {"task_key": "a", "shell_task": {"command": ["bash", "-c", "echo hello"]}},
        {"task_key": "b", "depends_on": [{"task_key": "a"}],
         "shell_task": {"command": ["bash", "-c", f'printf %s "{{{{secrets/s/k}}}}" > {out}']}},
    ], source_dir, name="moving")


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(
                select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
        }


def cli(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PODIUM_HOME": str(home), "PODIUM_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run([*PODIUM, *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Podium]:
    """A SQLite home with a job and its runs, a user with a token, a secret and audit
    events."""
    home = tmp_path / "home"
    podium = open_on(home, sqlite_url(home / "podium.db"))
    actor = local_principal()
    create_token(podium, "ada", comment="for the move")
    create_scope(podium, "s", actor)
    put_secret(podium, "s", "k", VALUE, actor)
    for n in range(2):
        run = run_job(podium, secret_job(tmp_path, f"before-{n}.txt"))
        assert results(run) == {"a": "SUCCESS", "b": "SUCCESS"}
    yield podium
    podium.close()


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (``postgres_url`` checks the server)."""
    name = create_database()
    yield postgres_database_url(name)
    drop_database(name)


def highest_id(engine: Engine) -> int:
    with engine.connect() as conn:
        runs = conn.scalar(select(RunRow.run_id).order_by(RunRow.run_id.desc()).limit(1))
        attempts = conn.scalar(
            select(AttemptRow.attempt_id).order_by(AttemptRow.attempt_id.desc()).limit(1))
    return max(runs or 0, attempts or 0)


def test_a_home_moves_to_postgresql_and_back_with_every_row(
    source: Podium, fresh_postgres: str, tmp_path: Path
) -> None:
    home, file = source.settings.home, tmp_path / "home.jsonl.gz"
    before = dump(source.db)

    exported = cli(home, source.settings.database_url, "db", "export", str(file))
    imported = cli(home, fresh_postgres, "db", "import", str(file))

    assert exported.returncode == 0, exported.stderr
    assert imported.returncode == 0, imported.stderr
    assert "imported" in imported.stdout
    with gzip.open(file, "rt") as text:
        header = json.loads(text.readline())
    assert header["revision"] == HEAD_REVISION and header["tables"]["runs"] == 2
    on_pg = open_on(home, fresh_postgres)
    try:
        assert dump(on_pg.db) == before
        old_ids = highest_id(on_pg.db)
        # The secret key lives in the home: the new backend's task still reads the secret.
        run = run_job(on_pg, secret_job(tmp_path, "after.txt"))
        assert results(run) == {"a": "SUCCESS", "b": "SUCCESS"}
        assert (tmp_path / "after.txt").read_text() == VALUE
        assert run["run_id"] > old_ids
        assert all(t["run_id"] > old_ids for t in run["tasks"])
        on_pg_rows = dump(on_pg.db)
    finally:
        on_pg.close()

    back_file, back_url = tmp_path / "back.jsonl", sqlite_url(tmp_path / "back.db")
    assert cli(home, fresh_postgres, "db", "export", str(back_file)).returncode == 0
    back = cli(home, back_url, "db", "import", str(back_file))
    assert back.returncode == 0, back.stderr
    on_sqlite = open_on(home, back_url)
    try:
        assert dump(on_sqlite.db) == on_pg_rows
        newest = highest_id(on_sqlite.db)
        run = run_job(on_sqlite, secret_job(tmp_path, "back.txt"))
        assert run["run_id"] > newest and (tmp_path / "back.txt").read_text() == VALUE
    finally:
        on_sqlite.close()


def test_an_import_into_a_database_with_data_is_refused_and_changes_nothing(
    source: Podium, fresh_postgres: str, tmp_path: Path
) -> None:
    file = tmp_path / "home.jsonl"
    export_home(source.settings, file)
    target = settings_for(source.settings.home, fresh_postgres)
    import_home(target, file)
    engine = make_engine(fresh_postgres)
    try:
        rows = dump(engine)

        again = cli(source.settings.home, fresh_postgres, "db", "import", str(file))

        assert again.returncode == 2
        assert "already holds Podium metadata" in again.stderr
        assert "PODIUM_DATABASE_URL" in again.stderr  # the fix
        assert dump(engine) == rows
    finally:
        engine.dispose()
    with pytest.raises(Conflict, match="already holds"):
        import_home(source.settings, file)  # into its own, non-empty SQLite database


def test_a_damaged_or_foreign_file_is_refused_and_the_database_stays_empty(
    source: Podium, tmp_path: Path
) -> None:
    file, target = tmp_path / "home.jsonl", tmp_path / "target.db"
    export_home(source.settings, file)
    lines = file.read_text().splitlines(keepends=True)
    settings = settings_for(source.settings.home, sqlite_url(target))
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("".join(lines[:-1]))
    other = tmp_path / "other.jsonl"
    header = json.loads(lines[0]) | {"revision": "0004"}
    other.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))

    with pytest.raises(InvalidArgument, match="truncated"):
        import_home(settings, truncated)
    with pytest.raises(Conflict, match=r"revision 0004.*export it again"):
        import_home(settings, other)
    with pytest.raises(InvalidArgument, match="not a Podium metadata file"):
        import_home(settings, _write(tmp_path / "x.jsonl", "hello\n"))

    engine = make_engine(sqlite_url(target))
    try:
        assert all(not rows for name, rows in dump(engine).items() if name != "run_ids")
    finally:
        engine.dispose()
    import_home(settings, file)  # the refused attempts left it importable


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_db_current_and_upgrade_report_the_schema_revision(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = sqlite_url(home / "podium.db")
    home.mkdir()

    empty = cli(home, url, "db", "current")
    upgraded = cli(home, url, "db", "upgrade")
    current = cli(home, url, "db", "current")
    again = cli(home, url, "db", "upgrade")

    assert empty.returncode == 0 and empty.stdout.startswith("none")
    assert f"upgraded from empty to {HEAD_REVISION}" in upgraded.stdout
    assert current.stdout.strip() == f"{HEAD_REVISION} (head)"
    assert f"already at revision {HEAD_REVISION}" in again.stdout
