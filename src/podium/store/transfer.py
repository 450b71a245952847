"""Moving a home's metadata between databases (SQLite <-> PostgreSQL) through a portable
file: every table of ``tables.py``, one after the other, as JSON lines.

The file is a header line (format, schema revision, the row count of each table in load
order), then for each table a line naming it and its columns followed by one JSON array
per row. Datetimes are ISO 8601 in UTC and bytes base64, decoded by the column's type, so
the copy is lossless. Logs and artifacts are files in the home: they are not in the file.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, TextIO

from sqlalchemy import Column, Connection, Engine, LargeBinary, Table, func, select, text

from podium.errors import Conflict, InvalidArgument
from podium.store.migrate import HEAD_REVISION, current_revision
from podium.store.tables import Base, UTCDateTime

FORMAT = "podium-metadata"
FORMAT_VERSION = 1
BATCH_ROWS = 1000  # rows per INSERT: large enough to be fast, small enough for memory
# Only the last id handed out: not data, so a fresh database's row does not make it
# "not empty", and an import keeps the higher of the two counters.
_COUNTER = "run_ids"


class Progress(Protocol):
    """What a long export or import reports, for a progress bar."""

    def start(self, totals: dict[str, int]) -> None:
        """The tables about to be copied, with their row counts, in order."""

    def advance(self, table: str, rows: int) -> None:
        """``rows`` more rows of ``table`` were copied."""


class _Silent:
    def start(self, totals: dict[str, int]) -> None:
        pass

    def advance(self, table: str, rows: int) -> None:
        pass


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # parents before children: loads in order


def _codec(column: Column[Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(to JSON, from JSON) for the values of ``column``."""
    if isinstance(column.type, UTCDateTime):
        return (lambda v: None if v is None else v.isoformat(),
                lambda v: None if v is None else datetime.fromisoformat(v))
    if isinstance(column.type, LargeBinary):
        return (lambda v: None if v is None else base64.b64encode(v).decode("ascii"),
                lambda v: None if v is None else base64.b64decode(v))
    return (lambda v: v), (lambda v: v)


def export_metadata(engine: Engine, out: TextIO, progress: Progress | None = None
                    ) -> dict[str, int]:
    """Write every table of ``engine``'s database to ``out``; the row count of each.

    Raises:
        Conflict: the database is not at this Podium's schema revision.
    """
    progress = progress or _Silent()
    revision = current_revision(engine)
    if revision != HEAD_REVISION:
        raise Conflict(f"the database is at schema revision {revision}, this Podium "
                       f"writes {HEAD_REVISION}: run `podium db upgrade` first")
    with _snapshot(engine) as conn:
        totals = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in _tables()}
        progress.start(totals)
        header = {"format": FORMAT, "version": FORMAT_VERSION, "revision": revision,
                  "dialect": engine.dialect.name, "tables": totals}
        out.write(json.dumps(header) + "\n")
        for table in _tables():
            columns = list(table.columns)
            encoders = [_codec(c)[0] for c in columns]
            out.write(json.dumps({"table": table.name, "columns": [c.name for c in columns]})
                      + "\n")
            key = list(table.primary_key.columns)  # a stable order, for diffable files
            rows = conn.execution_options(yield_per=BATCH_ROWS).execute(
                select(table).order_by(*key))
            for batch in rows.partitions():
                for row in batch:
                    out.write(json.dumps([enc(v) for enc, v in zip(encoders, row, strict=True)])
                              + "\n")
                progress.advance(table.name, len(batch))
    return totals


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection reading one consistent state of the database while a server writes."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            # pysqlite begins transactions only before writes; a read transaction begun
            # by hand keeps one snapshot (WAL) until it ends.
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def file_revision(lines: Iterable[str]) -> str:
    """The schema revision a metadata file was exported at (checking its header)."""
    return _header(iter(lines))[0]


def _header(lines: Iterator[str]) -> tuple[str, dict[str, int]]:
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidArgument("not a Podium metadata file (made by `podium db export`)")
    if header.get("version") != FORMAT_VERSION:
        raise InvalidArgument(f"metadata file format {header.get('version')}: this Podium "
                              f"reads format {FORMAT_VERSION}; import it with the Podium "
                              "version that exported it")
    tables = header.get("tables")
    expected = [t.name for t in _tables()]
    if not isinstance(tables, dict) or sorted(tables) != sorted(expected):
        raise InvalidArgument(f"the file's tables {sorted(tables or {})} are not this "
                              f"Podium's {sorted(expected)}")
    return str(header.get("revision")), {name: int(tables[name]) for name in expected}


def import_metadata(engine: Engine, lines: Iterable[str], progress: Progress | None = None
                    ) -> dict[str, int]:
    """Load a file written by ``export_metadata`` into ``engine``'s database, which must
    be empty and at the file's schema revision, in one transaction; the row counts.

    Raises:
        InvalidArgument: the file is not a complete Podium metadata file.
        Conflict: the database is at another revision or already holds data; nothing
            was changed.
    """
    progress = progress or _Silent()
    stream = iter(lines)
    revision, totals = _header(stream)
    here = current_revision(engine)
    if here != revision:
        raise Conflict(
            f"the file has schema revision {revision} and the database {here}: export "
            f"with the same Podium version as imports (`podium db upgrade` on the source "
            f"home, then `podium db export` again), or `podium db upgrade` this database")
    with engine.begin() as conn:
        _require_empty(conn)
        counter = _last_run_id(conn)
        progress.start(totals)
        for table in _tables():
            _load_table(conn, table, totals[table.name], stream, progress)
        _keep_counter(conn, counter)
        if engine.dialect.name == "postgresql":
            _continue_sequences(conn)
    return totals


def _require_empty(conn: Connection) -> None:
    held = {t.name: n for t in _tables() if t.name != _COUNTER
            and (n := conn.execute(select(func.count()).select_from(t)).scalar_one())}
    if held:
        rows = ", ".join(f"{name}: {n}" for name, n in held.items())
        raise Conflict(
            f"the database already holds Podium metadata ({rows}); import needs an empty "
            "one: point PODIUM_DATABASE_URL at a new database (`createdb NAME` for "
            "PostgreSQL) or PODIUM_HOME at a new folder, and import again. Nothing was "
            "changed")


def _load_table(conn: Connection, table: Table, count: int, lines: Iterator[str],
                progress: Progress) -> None:
    section = _json_line(lines, f"the start of table {table.name}")
    columns = list(table.columns)
    if not isinstance(section, dict) or section.get("table") != table.name or section.get(
            "columns") != [c.name for c in columns]:
        raise InvalidArgument(f"table {table.name}: the file's section does not match this "
                              f"Podium's columns {[c.name for c in table.columns]}")
    if table.name == _COUNTER:
        conn.execute(table.delete())  # the fresh database's counter, kept by _keep_counter
    decoders = [(c.name, _codec(c)[1]) for c in columns]
    batch: list[dict[str, Any]] = []
    for done in range(count):
        values = _json_line(lines, f"row {done + 1} of {count} of table {table.name}")
        batch.append({name: dec(v) for (name, dec), v in zip(decoders, values, strict=True)})
        if len(batch) == BATCH_ROWS or done == count - 1:
            conn.execute(table.insert(), batch)
            progress.advance(table.name, len(batch))
            batch = []


def _json_line(lines: Iterator[str], what: str) -> Any:
    try:
        return json.loads(next(lines))
    except StopIteration:
        raise InvalidArgument(f"the file ends before {what}: it is truncated") from None
    except ValueError as exc:
        raise InvalidArgument(f"{what}: not JSON ({exc}); the file is damaged") from None


def _last_run_id(conn: Connection) -> int:
    counter = Base.metadata.tables[_COUNTER]
    return int(conn.execute(select(func.max(counter.c.id))).scalar() or 0)


def _keep_counter(conn: Connection, before: int) -> None:
    """Leave one counter row, the higher of the imported one and the database's own:
    new run ids must not reuse one the home's log folders may already name."""
    counter = Base.metadata.tables[_COUNTER]
    newest = max(_last_run_id(conn), before)
    conn.execute(counter.delete().where(counter.c.id != newest))
    if not conn.execute(select(func.count()).select_from(counter)).scalar_one():
        conn.execute(counter.insert(), [{"id": newest}])


def _continue_sequences(conn: Connection) -> None:
    """PostgreSQL's sequences ignore explicit ids: move each to just past the largest
    imported id, so that new rows (and new run ids, from ``run_ids``) come after them."""
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence(:table, :column), "
            f"COALESCE(MAX({column.name}), 0) + 1, false) FROM {table.name}"
        ), {"table": table.name, "column": column.name})
