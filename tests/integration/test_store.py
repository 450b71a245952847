"""The metadata store on SQLite and PostgreSQL: migrations, WAL, concurrent start-up."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

import podium.store
from podium.services import Podium
from podium.store import HEAD_REVISION, current_revision, make_engine, upgrade
from podium.store import runs as q
from podium.store.tables import Base
from tests.integration.helpers import PODIUM


def test_head_revision_constant_matches_the_migrations() -> None:
    config = Config()
    config.set_main_option(
        "script_location", str(Path(podium.store.__file__).parent / "migrations")
    )
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrations_create_exactly_the_declared_tables(any_podium: Podium) -> None:
    assert current_revision(any_podium.db) == HEAD_REVISION
    inspector = inspect(any_podium.db)
    for table in Base.metadata.sorted_tables:
        declared = {c.name for c in table.columns}
        assert {c["name"] for c in inspector.get_columns(table.name)} == declared
    upgrade(any_podium.db)  # a second upgrade is a no-op
    assert current_revision(any_podium.db) == HEAD_REVISION


@pytest.mark.sqlite_only
def test_sqlite_uses_wal(podium: Podium) -> None:
    with podium.db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_datetimes_come_back_utc_aware(any_podium: Podium) -> None:
    now = datetime(2026, 3, 29, 1, 30, 15, 123000, tzinfo=UTC)
    with any_podium.sessions.begin() as session:
        from podium.store import jobs

        job_id = jobs.create_job(session, "j", "{}", None, now).job_id
        run_id = q.insert_run(
            session,
            job_id=job_id,
            run_name="j",
            spec_json="{}",
            source_dir="/",
            parameters={},
            task_keys=["a"],
            now=now,
        )
    with any_podium.sessions() as session:
        assert q.get_run(session, run_id).created_at == now


def test_naive_datetimes_are_refused(podium: Podium) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive datetime"), podium.sessions.begin() as s:
        from podium.store import jobs

        jobs.create_job(s, "j", "{}", None, datetime(2026, 1, 1))


def test_processes_starting_together_on_a_fresh_home_all_succeed(tmp_path: Path) -> None:
    env = {"PODIUM_HOME": str(tmp_path / "fresh"), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [*PODIUM, "runs", "list"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "no runs yet" in out
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh' / 'podium.db'}")
    assert current_revision(engine) == HEAD_REVISION
    engine.dispose()


def _run(session: Session, now: datetime) -> int:
    from podium.store import jobs

    job = jobs.create_job(session, "j", "{}", None, now)
    return q.insert_run(session, job_id=job.job_id, run_name="j", spec_json="{}",
                        source_dir="/", parameters={}, task_keys=["a"], now=now)


def test_runs_and_task_runs_share_one_id_sequence(any_podium: Podium) -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    ids = []
    with any_podium.sessions.begin() as session:
        for _ in range(3):
            run_id = _run(session, now)
            attempt_id = q.insert_attempt(session, run_id=run_id, task_key="a",
                                          attempt_number=0, repair_count=0, log_path="l",
                                          now=now)
            ids += [run_id, attempt_id]
    assert ids == sorted(ids) and len(set(ids)) == 6


def test_upgrading_a_home_whose_ids_overlap_starts_new_ids_above_all(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option(
        "script_location", str(Path(podium.store.__file__).parent / "migrations")
    )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.execute(text(
            "INSERT INTO jobs (job_id, name, spec_json, created_at, updated_at, version) "
            "VALUES (1, 'j', '{}', '2026-01-01', '2026-01-01', 1)"))
        conn.execute(text(
            "INSERT INTO runs (run_id, job_id, run_name, spec_json, source_dir, "
            "parameters_json, trigger, life_cycle_state, state_message, created_at, "
            "repair_count) VALUES (5, 1, 'j', '{}', '/', '{}', 'ONE_TIME', 'TERMINATED', '', "
            "'2026-01-01', 0)"))
        conn.execute(text(
            "INSERT INTO attempts (attempt_id, run_id, task_key, attempt_number, repair_count, "
            "life_cycle_state, state_message, started_at, log_path) VALUES "
            "(40, 5, 'a', 0, 0, 'TERMINATED', '', '2026-01-01', 'l')"))
    upgrade(engine)
    with Session(engine) as session, session.begin():
        assert q.next_run_id(session) == 41


def test_last_runs_by_job_takes_the_newest_top_level_runs_of_each_job(
    any_podium: Podium,
) -> None:
    from podium.services.runs import last_runs_by_job
    from podium.store import jobs as job_queries

    now = datetime.now(UTC)
    made: dict[int, list[int]] = {}
    with any_podium.sessions.begin() as session:
        for name, count in (("a", 5), ("b", 2), ("c", 0)):
            job = job_queries.create_job(session, name, '{"name": "x"}', "u", now, ".")
            made[job.job_id] = [
                q.insert_run(session, job_id=job.job_id, run_name=name, spec_json="{}",
                             source_dir=".", parameters={}, task_keys=["t"], now=now)
                for _ in range(count)
            ]
        a = min(made)
        q.insert_run(session, job_id=a, run_name="child", spec_json="{}", source_dir=".",
                     parameters={}, task_keys=["t"], now=now,
                     parent=(made[a][0], "t", None))
    found = last_runs_by_job(any_podium, None, list(made), 3)
    assert {j: [r["run_id"] for r in runs] for j, runs in found.items()} == {
        j: sorted(ids, reverse=True)[:3] for j, ids in made.items()
    }
