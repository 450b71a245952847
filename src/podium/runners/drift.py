"""drift_check_task: compare a current dataset with a reference column by column (PSI,
Kolmogorov-Smirnov) in a process that reads both with an in-memory DuckDB.

A dataset is a ``.parquet`` or ``.csv`` file, or a table of a DuckDB connection (attached
read-only). The report is the ``drift_output``; ``drift_detected``, ``max_psi``,
``drifted_columns``, ``rows_current``, ``rows_reference`` and ``baseline_created`` are
task values. The statistics live in ``podium.runners.drift_stats``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium import task_values
from podium.runners.base import ProcessSpec, RunnerContext, resolve_path, write_output
from podium.runners.sql import (
    DEFAULT_LOCK_WAIT,
    LOCK_WAIT_ENV,
    _connection_name,
    _unknown_connection,
    mask_url,
)
from podium.spec.models import Task
from podium.spec.task_types import DriftSource

if TYPE_CHECKING:
    import duckdb

    from podium.runners.drift_stats import Column

# The connection URLs of table sources: never in argv, where `ps` shows them.
URL_ENV = {"current": "PODIUM_DRIFT_CURRENT_URL", "reference": "PODIUM_DRIFT_REFERENCE_URL"}
READERS = {".parquet": "read_parquet", ".pq": "read_parquet", ".csv": "read_csv_auto",
           ".tsv": "read_csv_auto", ".gz": "read_csv_auto"}
_NUMERIC = re.compile(r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL)")
_TEXT = re.compile(r"^(VARCHAR|BOOLEAN|ENUM)")
_TABLE = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")


class DriftTaskError(Exception):
    """A failure to report as the task's error message."""


class MissingReference(DriftTaskError):
    """The reference file or table does not exist."""


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    """The process running ``task.drift_check_task``; table sources' URLs go through
    the environment."""
    spec = task.drift_check_task
    assert spec is not None
    call: dict[str, Any] = spec.model_dump(exclude={"current", "reference"})
    env: dict[str, str] = {}
    for side in ("current", "reference"):
        source: DriftSource = getattr(spec, side)
        call[side] = _source_call(source, ctx)
        if call[side].get("connection"):
            env[URL_ENV[side]] = ctx.connections[call[side]["connection"]]
    argv = [ctx.python, "-m", "podium.runners.drift", json.dumps(call)]
    return ProcessSpec(argv=argv, cwd=ctx.source_dir, env=env)


def _source_call(source: DriftSource, ctx: RunnerContext) -> dict[str, Any]:
    if source.path is not None:
        return {"path": str(resolve_path(source.path, ctx))}
    return {"table": source.table, "warehouse_id": source.warehouse_id,
            "connection": _connection_name(source.warehouse_id, ctx.connections),
            "known": sorted(ctx.connections)}


# --- the process ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m podium.runners.drift <json call>``; returns the exit code."""
    call: dict[str, Any] = json.loads((argv or sys.argv)[1])
    from podium.runners.drift_stats import DriftError

    try:
        output = run(call, {side: os.environ.get(env, "") for side, env in URL_ENV.items()})
    except (DriftTaskError, DriftError) as exc:
        return _fail(f"drift_check_task: {exc}", str(exc))
    except Exception as exc:  # a bug of ours or DuckDB's: still a clear task failure
        return _fail(f"drift_check_task failed: {type(exc).__name__}: {exc}",
                     traceback.format_exc())
    write_output({"drift_output": output})
    if os.environ.get(task_values.VALUES_OUT_ENV):  # not when started by hand
        for key in ("drift_detected", "max_psi", "drifted_columns", "rows_current",
                    "rows_reference", "baseline_created"):
            task_values.set(key, output[key])
    return 0


def _fail(message: str, trace: str) -> int:
    print(message, file=sys.stderr, flush=True)
    write_output({"error": message, "error_trace": trace})
    return 1


def run(call: dict[str, Any], urls: dict[str, str]) -> dict[str, Any]:
    """Read both datasets, compare them (or save the baseline); the ``drift_output``."""
    import duckdb

    from podium.runners.drift_stats import Thresholds, compare

    con = duckdb.connect()
    attached: dict[str, str] = {}  # DuckDB file -> its alias: each file is attached once
    try:
        baseline = call["missing_reference"] == "BASELINE"
        try:
            # The reference first: with BASELINE its DuckDB file is attached writable,
            # and a current table in the same file reuses that attachment.
            reference: _Dataset | None = _Dataset.open(
                con, "reference", call["reference"], urls["reference"], baseline, attached)
        except MissingReference as exc:
            if not baseline:
                raise DriftTaskError(
                    f"{exc}. Create it (e.g. save a known-good dataset there), or set "
                    "missing_reference: BASELINE to save the current data as the "
                    "reference on the first run") from None
            reference, missing = None, str(exc)
        current = _Dataset.open(con, "current", call["current"], urls["current"], False,
                                attached)
        if reference is None:
            label = _save_baseline(con, current, call["reference"], attached)
            print(f"{missing}: saved {current.label} as the reference {label} "
                  "(missing_reference: BASELINE); reporting drift so that a first model "
                  "is trained", flush=True)
            return {**_header(call, current, label, current.rows), "drift_detected": True,
                    "max_psi": 0.0, "drifted_columns": [], "columns": [],
                    "skipped_columns": [], "baseline_created": True}
        print(f"comparing {current.label} ({current.rows} rows) with the reference "
              f"{reference.label} ({reference.rows} rows)", flush=True)
        limits = Thresholds(call["psi_threshold"], call["ks_p_value"], call["bins"])
        report = compare(reference.columns(con), current.columns(con), call["columns"], limits)
    finally:
        con.close()
    for column in report.columns:
        verdict = f"DRIFT ({column.reason})" if column.drifted else "ok"
        print(f"  {column.column}: psi={column.psi:.4f} {column.test} "
              f"p={column.p_value:.3g} -> {verdict}", flush=True)
    return {**_header(call, current, reference.label, reference.rows), **report.output(),
            "baseline_created": False}


def _header(call: dict[str, Any], current: _Dataset, reference: str,
            reference_rows: int) -> dict[str, Any]:
    return {"current": current.label, "reference": reference,
            "rows_current": current.rows, "rows_reference": reference_rows,
            "psi_threshold": call["psi_threshold"], "ks_p_value": call["ks_p_value"],
            "bins": call["bins"]}


def _save_baseline(con: duckdb.DuckDBPyConnection, current: _Dataset, target: dict[str, Any],
                   attached: dict[str, str]) -> str:
    """Save the current data as the reference ``target``; returns its label.

    Drift is then reported so that a pipeline gated on it trains a first model: with
    nothing to compare with, nothing says the data has not moved.
    """
    if "path" in target:
        path = Path(target["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = "PARQUET" if READERS.get(_suffix(path)) == "read_parquet" else "CSV, HEADER"
        # Written aside, then renamed: a crash never leaves a half-written reference. The
        # name keeps its extension last, from which DuckDB infers compression (.csv.gz).
        partial = path.with_name(f".partial-{os.getpid()}-{path.name}")
        con.execute(f"COPY (SELECT * FROM {current.relation}) TO {_literal(str(partial))} "
                    f"(FORMAT {kind})")
        os.replace(partial, path)
        return str(path)
    schema, name = _qualified(target["table"], attached[target["database"]])
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(f"CREATE TABLE {schema}.{name} AS SELECT * FROM {current.relation}")
    return f"table {target['table']}"


@dataclass
class _Dataset:
    """One side, readable as ``SELECT ... FROM relation`` on the in-memory connection."""

    label: str
    relation: str
    rows: int

    @classmethod
    def open(cls, con: duckdb.DuckDBPyConnection, side: str, source: dict[str, Any],
             url: str, writable: bool, attached: dict[str, str]) -> _Dataset:
        """Make ``source`` readable on ``con``.

        Raises:
            MissingReference: the reference file or table does not exist.
            DriftTaskError: anything else that prevents reading it.
        """
        import duckdb

        if "path" in source:
            label, relation = source["path"], _file_relation(Path(source["path"]), side)
        else:
            label = f"table {source['table']}"
            relation = _attach(con, side, source, url, writable, attached)
        try:
            row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
        except duckdb.CatalogException:
            if side == "reference":
                raise MissingReference(f"the reference {label} does not exist") from None
            raise DriftTaskError(f"the current data {label} does not exist") from None
        except duckdb.Error as exc:
            raise DriftTaskError(f"cannot read the {side} {label}: {exc}") from None
        return cls(label, relation, int(row[0]) if row else 0)

    def columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, Column | str]:
        """Every column's values (nulls and NaN removed), or why it cannot be compared."""
        import numpy as np

        from podium.runners.drift_stats import Column

        types = {str(r[0]): str(r[1]) for r in
                 con.execute(f"DESCRIBE SELECT * FROM {self.relation}").fetchall()}
        out: dict[str, Column | str] = {}
        selected = []
        for name, kind in types.items():
            if _NUMERIC.match(kind):
                selected.append(f"CAST({_ident(name)} AS DOUBLE) AS {_ident(name)}")
            elif _TEXT.match(kind):
                selected.append(f"CAST({_ident(name)} AS VARCHAR) AS {_ident(name)}")
            else:
                out[name] = f"type {kind} is neither numeric nor text"
        if selected:
            arrays = con.execute(f"SELECT {', '.join(selected)} FROM {self.relation}").fetchnumpy()
            for name, array in arrays.items():
                values = np.ma.asarray(array)
                kept = values.compressed() if np.ma.is_masked(values) else np.asarray(array)
                numeric = kept.dtype.kind == "f"
                if numeric:
                    kept = kept[~np.isnan(kept)]  # NaN is a null too
                out[name] = Column("numeric" if numeric else "categorical", kept,
                                   len(array) - len(kept))
        return {name: out[name] for name in types}  # in the dataset's column order


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _file_relation(path: Path, side: str) -> str:
    reader = READERS.get(_suffix(path))
    if reader is None:
        raise DriftTaskError(f"{side} path {path}: the file must end in .parquet or .csv "
                             "(a DuckDB table: give table and warehouse_id instead of path)")
    if not path.is_file():
        what = MissingReference if side == "reference" else DriftTaskError
        raise what(f"no {side} file {path}")
    return f"{reader}({_literal(str(path))})"


def _attach(con: duckdb.DuckDBPyConnection, side: str, source: dict[str, Any], url: str,
            writable: bool, attached: dict[str, str]) -> str:
    """Attach the DuckDB file of the source's connection (once per file; read-only
    unless a baseline may be written to it); the table's qualified name. Sets
    ``source["database"]`` to the file."""
    if not source["connection"] or not url:
        message = _unknown_connection(source["warehouse_id"], source["known"])
        raise DriftTaskError(message.replace("sql_task", f"{side}.warehouse_id", 1))
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "duckdb" or not database or database == ":memory:":
        raise DriftTaskError(
            f"{side}: connection {source['connection']!r} ({mask_url(url)}) is not a DuckDB "
            "file; drift_check_task reads tables of DuckDB connections only: export the "
            "table to Parquet with a sql_task and give its path")
    database = source["database"] = str(Path(database).expanduser().resolve())
    if database not in attached:
        if not writable and not Path(database).is_file():
            raise (MissingReference if side == "reference" else DriftTaskError)(
                f"the {side} table {source['table']} does not exist (no DuckDB file "
                f"{database})")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        alias = attached[database] = f"db{len(attached)}"
        mode = "" if writable else " (READ_ONLY)"
        _attach_waiting(con, f"ATTACH {_literal(database)} AS {alias}{mode}", database)
    schema, name = _qualified(source["table"], attached[database])
    return f"{schema}.{name}"


def _attach_waiting(con: duckdb.DuckDBPyConnection, statement: str, database: str) -> None:
    """Attach, waiting while another process holds the file's lock (DuckDB lets one
    process write a file), as sql_task does, for at most PODIUM_SQL_LOCK_WAIT_SECONDS."""
    import duckdb

    wait = float(os.environ.get(LOCK_WAIT_ENV) or DEFAULT_LOCK_WAIT)
    deadline = time.monotonic() + wait
    while True:
        try:
            con.execute(statement)
            return
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise DriftTaskError(f"cannot open the DuckDB file {database}: {exc}") from None
            time.sleep(0.2)


def _qualified(table: str, catalog: str) -> tuple[str, str]:
    """``(catalog.schema, name)`` quoted, for ``table`` written ``[schema.]name``."""
    if not _TABLE.match(table):
        raise DriftTaskError(f"table {table!r}: write it as name or schema.name")
    schema, _, name = table.rpartition(".")
    return f"{_ident(catalog)}.{_ident(schema or 'main')}", _ident(name)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


if __name__ == "__main__":
    sys.exit(main())
