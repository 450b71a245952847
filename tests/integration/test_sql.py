"""sql_task through the real engine: the embedded DuckDB warehouse and PostgreSQL,
parameters, several statements, failures, the DuckDB file lock and masked passwords."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from podium.runners.sql import split_statements
from podium.services import Podium, get_output, open_podium
from tests.conftest import settings_for
from tests.integration.helpers import job, results, run_job, tasks_by_key, wait_for


def sql(
    key: str, query: str, parameters: dict[str, str] | None = None,
    warehouse_id: str = "default", **fields: Any,
) -> dict[str, Any]:
    """A task ``key`` (with task ``fields``) whose sql_task runs the inline ``query``."""
    spec = {"query": {"query_text": query}, "parameters": parameters or {},
            "warehouse_id": warehouse_id}
    return {"task_key": key, "sql_task": spec, **fields}


def output(podium: Podium, run: dict[str, Any], key: str) -> dict[str, Any]:
    return get_output(podium, run["run_id"], key)


def log_of(run: dict[str, Any], key: str) -> str:
    return Path(tasks_by_key(run)[key]["attempts"][-1]["log_path"]).read_text()


def message(run: dict[str, Any], key: str) -> str:
    return str(tasks_by_key(run)[key]["state"]["state_message"])


def test_inline_query_on_the_default_warehouse(podium: Podium, tmp_path: Path) -> None:
    query = """
        CREATE TABLE clicks (user_id INTEGER, page VARCHAR);
        INSERT INTO clicks VALUES (:user, :page), (2, 'b'), (3, 'c');
        SELECT user_id, page FROM clicks WHERE user_id >= CAST(:user AS INTEGER) ORDER BY 1
    """
    spec = job([sql("q", query, parameters={"user": "1", "page": "a"})], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"q": "SUCCESS"}
    out = output(podium, run, "q")["sql_output"]
    assert out == {
        "statement_count": 3, "row_count": 3, "rows_affected": 3,
        "columns": ["user_id", "page"], "rows": [[1, "a"], [2, "b"], [3, "c"]],
        "truncated": False,
    }
    assert tasks_by_key(run)["q"]["task_values"] == {"row_count": 3, "rows_affected": 3}
    log = log_of(run, "q")
    assert "statement 2/3 (line 3) INSERT INTO clicks" in log
    assert "3 row(s) affected" in log and "3 row(s) returned" in log


def test_sql_file_with_comments_quotes_and_a_job_parameter(
    podium: Podium, tmp_path: Path
) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "load.sql").write_text(
        "-- a comment; with a semicolon and :not_a_parameter\n"
        "CREATE TABLE notes (id INTEGER, body VARCHAR);\n"
        "/* a block; /* nested; */ comment */\n"
        "INSERT INTO notes VALUES (1, 'semi; colon :x and ''quote'''), (2, $$dollar; $$);\n"
        "INSERT INTO notes VALUES (3, :who);\n"
        "SELECT id, body FROM notes ORDER BY id;\n"
    )
    spec = job(
        [{"task_key": "f", "sql_task": {
            "file": {"path": "sql/load.sql"}, "parameters": {"who": "{{job.parameters.x}}"},
        }}],
        tmp_path, parameters=[{"name": "x", "default": "nobody"}],
    )

    run = run_job(podium, spec, x="ada")

    assert results(run) == {"f": "SUCCESS"}
    out = output(podium, run, "f")["sql_output"]
    assert out["statement_count"] == 4
    assert out["rows"] == [[1, "semi; colon :x and 'quote'"], [2, "dollar; "], [3, "ada"]]


def test_an_injection_attempt_in_a_parameter_stays_data(podium: Podium, tmp_path: Path) -> None:
    evil = "x'); DROP TABLE users; --"
    query = (
        "CREATE TABLE users (name VARCHAR); INSERT INTO users VALUES (:name);"
        "SELECT name, (SELECT count(*) FROM users) AS n FROM users"
    )
    spec = job([sql("q", query, parameters={"name": "{{job.parameters.name}}"})], tmp_path,
               parameters=[{"name": "name", "default": ""}])

    run = run_job(podium, spec, name=evil)

    assert results(run) == {"q": "SUCCESS"}
    assert output(podium, run, "q")["sql_output"]["rows"] == [[evil, 1]]


def test_a_large_result_keeps_the_first_100_rows(podium: Podium, tmp_path: Path) -> None:
    spec = job([sql("q", "SELECT i, i * 2 AS twice FROM range(250) t(i) ORDER BY i")], tmp_path)

    run = run_job(podium, spec)

    out = output(podium, run, "q")["sql_output"]
    assert (out["row_count"], out["truncated"], len(out["rows"])) == (250, True, 100)
    assert out["rows"][99] == [99, 198]
    assert tasks_by_key(run)["q"]["task_values"] == {"row_count": 250}


def test_a_syntax_error_fails_and_rolls_back_the_whole_task(
    podium: Podium, tmp_path: Path
) -> None:
    spec = job(
        [
            sql("bad", "CREATE TABLE half (a INTEGER);\nSELEC 1;\nSELECT 2"),
            sql("check", "SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'half'", run_if="ALL_DONE",
                depends_on=[{"task_key": "bad"}]),
        ],
        tmp_path,
    )

    run = run_job(podium, spec)

    assert results(run) == {"bad": "FAILED", "check": "SUCCESS"}
    assert "statement 2 failed" in message(run, "bad")
    assert "SELEC" in message(run, "bad")
    failed = output(podium, run, "bad")
    assert "statement 2 of 3 (line 2)" in failed["error_trace"]
    assert "sql_output" not in failed
    assert output(podium, run, "check")["sql_output"]["rows"] == [[0]]  # rolled back


def test_a_missing_parameter_and_transaction_control_fail_before_connecting(
    podium: Podium, tmp_path: Path
) -> None:
    spec = job(
        [
            sql("missing", "SELECT 1; SELECT :a, :b", parameters={"a": "1"}),
            sql("commit", "SELECT 1; COMMIT"),
        ],
        tmp_path,
    )

    run = run_job(podium, spec)

    assert results(run) == {"missing": "FAILED", "commit": "FAILED"}
    assert "statement 2 (line 1) uses parameter :b" in message(run, "missing")
    assert "parameters given: a" in message(run, "missing")
    assert "transaction control is not allowed" in message(run, "commit")


def test_an_unknown_warehouse_fails_with_how_to_configure_it(
    podium: Podium, tmp_path: Path
) -> None:
    spec = job([sql("q", "SELECT 1", warehouse_id="sales_dw")], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"q": "FAILED"}
    text = message(run, "q")
    assert "'sales_dw' names no connection" in text and "known connections: default" in text
    assert "PODIUM_CONNECTIONS__SALES_DW=" in text and "[connections]" in text


def test_tasks_in_sequence_share_the_default_warehouse(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            sql("write", "CREATE TABLE shared AS SELECT 42 AS answer"),
            sql("read", "SELECT answer FROM shared", depends_on=[{"task_key": "write"}]),
        ],
        tmp_path,
    )

    run = run_job(podium, spec)

    assert results(run) == {"write": "SUCCESS", "read": "SUCCESS"}
    assert output(podium, run, "read")["sql_output"]["rows"] == [[42]]
    assert (podium.settings.home / "warehouse.duckdb").exists()


def hold_duckdb_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file open (and so its lock) for ``seconds``."""
    script = (
        "import sys, time, duckdb\n"
        "con = duckdb.connect(sys.argv[1]); con.execute('CREATE TABLE IF NOT EXISTS x (a INT)')\n"
        "print('locked', flush=True); time.sleep(float(sys.argv[2])); con.close()\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", script, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_locked_duckdb_file_is_waited_for_then_reported(podium: Podium, tmp_path: Path) -> None:
    warehouse = podium.settings.home / "warehouse.duckdb"
    waits = job([sql("waits", "SELECT 1 AS one")], tmp_path)
    gives_up = job([sql("gives_up", "SELECT 1",
                        environment_variables={"PODIUM_SQL_LOCK_WAIT_SECONDS": "0.3"})], tmp_path)

    # The lock is let go once the task says it waits for it (however long it took to
    # start on a busy machine), then the task goes on.
    holder = hold_duckdb_lock(warehouse, 120)
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(run_job, podium, waits)
            logs = podium.settings.home / "logs"
            wait_for(lambda: any("is locked by another process" in p.read_text()
                                 for p in logs.glob("*/waits.0.log")),
                     120, "the task to wait for the lock")
            holder.kill()
            first = running.result(timeout=120)
    finally:
        holder.kill()
        holder.communicate()
    holder = hold_duckdb_lock(warehouse, 30)
    try:
        second = run_job(podium, gives_up)
    finally:
        holder.kill()
        holder.communicate()

    assert results(first) == {"waits": "SUCCESS"}
    assert "is locked by another process; waiting up to 60 s" in log_of(first, "waits")
    assert output(podium, first, "waits")["sql_output"]["rows"] == [[1]]
    assert results(second) == {"gives_up": "FAILED"}
    text = message(second, "gives_up")
    assert "the DuckDB file is locked by another process" in text and "waited 0.3 s" in text


def test_postgresql_connection_with_a_password_that_never_shows(
    postgres_url: str, home: Path, tmp_path: Path
) -> None:
    # The test server trusts local connections, so any password is accepted: it is
    # here to prove it never reaches a log, an output or a message.
    password = f"Pw-{uuid.uuid4().hex[:12]}"
    url = postgres_url.replace("://postgres@", f"://postgres:{password}@")
    assert password in url
    down = f"postgresql+psycopg://postgres:{password}@127.0.0.1:1/nowhere"
    schema = f"podium_sql_{uuid.uuid4().hex[:8]}"
    query = (
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.orders (id INT, amount NUMERIC);"
        f"INSERT INTO {schema}.orders VALUES (:id, :amount), (2, 9.5);"
        f"UPDATE {schema}.orders SET amount = amount + 1 WHERE id = CAST(:id AS INT);"
        f"SELECT id, amount, 'literal: %s :x' AS note FROM {schema}.orders ORDER BY id"
    )
    podium = open_podium(settings_for(home, PODIUM_CONNECTIONS__PG=url,
                                      PODIUM_CONNECTIONS__DOWN=down))
    try:
        spec = job([sql("pg", query, warehouse_id="PG", parameters={"id": "1", "amount": "2.25"}),
                    sql("down", "SELECT 1", warehouse_id="down")], tmp_path)
        run = run_job(podium, spec)
        outputs = {key: output(podium, run, key) for key in ("pg", "down")}
    finally:
        podium.close()

    assert results(run) == {"pg": "SUCCESS", "down": "FAILED"}
    out = outputs["pg"]["sql_output"]
    assert out["rows"] == [[1, "3.25", "literal: %s :x"], [2, "9.5", "literal: %s :x"]]
    assert tasks_by_key(run)["pg"]["task_values"] == {"row_count": 2, "rows_affected": 3}
    assert "cannot connect to connection 'down' (postgresql+psycopg://postgres:***@127.0.0.1:1"\
        in message(run, "down")
    everything = json.dumps([run, outputs]) + log_of(run, "pg") + log_of(run, "down")
    assert "postgres:***@" in everything
    assert password not in everything


@pytest.mark.parametrize(
    ("text", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';' AS a; -- x; y\nSELECT 2", ["SELECT ';' AS a", "-- x; y\nSELECT 2"]),
        ('SELECT "a;b" FROM t', ['SELECT "a;b" FROM t']),
        ("CREATE FUNCTION f() RETURNS int AS $body$ BEGIN; RETURN 1; END $body$ LANGUAGE sql;"
         " SELECT 1", ["CREATE FUNCTION f() RETURNS int AS $body$ BEGIN; RETURN 1; END $body$"
                       " LANGUAGE sql", "SELECT 1"]),
        ("SELECT E'it\\'s;' ; SELECT 'it''s;'", ["SELECT E'it\\'s;'", "SELECT 'it''s;'"]),
        ("/* only; a comment */ ; ;", []),
    ],
)
def test_split_statements(text: str, statements: list[str]) -> None:
    assert [s.sql for s in split_statements(text)] == statements


def test_only_code_colons_are_parameters() -> None:
    [st] = split_statements("SELECT :a, :a::int, 'b :c', l[:2], x::text -- :d\n FROM t")
    assert st.binds == ["a"]
    assert st.text == "SELECT :a, :a ::int, 'b \\:c', l[\\:2], x::text -- \\:d\n FROM t"
