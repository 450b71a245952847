"""sql_task: run the statements of a SQL file or query on a named connection, in one
transaction, with ``:name`` parameters bound by the driver; the last result is the output.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium import task_values
from podium.runners.base import ProcessSpec, RunnerContext, resolve_path, write_output
from podium.spec.models import Task

if TYPE_CHECKING:
    from sqlalchemy import Connection, CursorResult, Engine

URL_ENV = "PODIUM_SQL_URL"  # the connection's URL: never in argv, where `ps` shows it
PARAMETERS_ENV = "PODIUM_SQL_PARAMETERS"  # JSON object; values may be resolved secrets
LOCK_WAIT_ENV = "PODIUM_SQL_LOCK_WAIT_SECONDS"
DEFAULT_LOCK_WAIT = 60.0
MAX_ROWS = 100  # rows of the last result kept in the task's output
_FETCH = 10_000

_TOKEN = re.compile(
    r"(?P<line>--)|(?P<block>/\*)|(?<![\w$])(?P<dollar>\$(?:[A-Za-z_]\w*)?\$)"
    r"|(?<![\w$])(?P<estring>[eE]')|(?P<quote>['\"`])|(?P<semi>;)"
)
_KINDS = {"line": "comment", "block": "comment", "semi": "semi"}
_COLON_WORD = re.compile(r"(?<![:\w\\]):(\w+)")
_TRANSACTION_CONTROL = re.compile(
    r"\s*(?:BEGIN|COMMIT|END|ABORT|START\s+TRANSACTION|ROLLBACK(?!\s+TO\b))\b", re.IGNORECASE
)
_QUERY_WORDS = {
    "SELECT", "WITH", "VALUES", "FROM", "TABLE", "SHOW", "DESCRIBE", "EXPLAIN", "PRAGMA",
    "SUMMARIZE", "CALL", "PIVOT", "UNPIVOT",
}
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_QUERY_SECRET = re.compile(r"((?:password|passwd|pwd|secret|token)=)[^&\s]*", re.IGNORECASE)


class SqlTaskError(Exception):
    """A failure to report as the task's error: ``str`` is the message, ``trace`` the detail."""

    def __init__(self, message: str, trace: str = "") -> None:
        super().__init__(message)
        self.trace = trace or message


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    """The process running ``task.sql_task``: the connection URL and the parameters go
    through the environment; an unknown connection makes the process fail with a hint."""
    spec = task.sql_task
    assert spec is not None
    name = _connection_name(spec.warehouse_id, ctx.connections)
    call = {
        "warehouse_id": spec.warehouse_id,
        "connection": name,
        "known": sorted(ctx.connections),
        "file": str(resolve_path(spec.file.path, ctx)) if spec.file else None,
        "query": spec.query.query_text if spec.query else None,
    }
    env = {PARAMETERS_ENV: json.dumps(spec.parameters)}
    if name is not None:
        env[URL_ENV] = ctx.connections[name]
    argv = [ctx.python, "-m", "podium.runners.sql", json.dumps(call)]
    return ProcessSpec(argv=argv, cwd=ctx.source_dir, env=env)


def _connection_name(wanted: str, connections: Mapping[str, str]) -> str | None:
    """The configured name ``wanted`` refers to: exact, else ignoring case (environment
    variable names are read in lower case), else None."""
    if wanted in connections:
        return wanted
    folded = [name for name in connections if name.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


# --- splitting -----------------------------------------------------------------------


@dataclass
class Statement:
    """One statement of the task's SQL.

    Attributes:
        number: 1-based position among the statements.
        line: the line of the SQL text it starts on.
        sql: its text as written (comments included).
        text: the text for ``sqlalchemy.text``: colons that are not parameters escaped.
        binds: the ``:name`` parameters it uses, in order of first use.
        summary: its first line of code, for progress and error messages.
    """

    number: int
    line: int
    sql: str
    text: str = ""
    binds: list[str] = field(default_factory=list)
    summary: str = ""


def split_statements(sql: str, backslash_escapes: bool = False) -> list[Statement]:
    """Split ``sql`` at the semicolons that end statements.

    Semicolons inside quoted strings and identifiers, ``--`` and (nested) ``/* */``
    comments and PostgreSQL/DuckDB dollar-quoted bodies (``$$ ... $$``, ``$fn$ ... $fn$``)
    do not split. Statements holding only comments or blanks are dropped.

    Args:
        sql: the text of a file or query.
        backslash_escapes: a backslash escapes the next character in every string (MySQL);
            otherwise only in ``E'...'`` strings.
    """
    statements: list[Statement] = []
    pieces: list[tuple[str, str]] = []
    start = 0
    for kind, chunk, end in _pieces(sql, backslash_escapes):
        if kind != "semi":
            pieces.append((kind, chunk))
            continue
        _add_statement(statements, pieces, sql.count("\n", 0, start) + 1)
        pieces, start = [], end
    _add_statement(statements, pieces, sql.count("\n", 0, start) + 1)
    return statements


def _pieces(sql: str, backslash_escapes: bool) -> Iterator[tuple[str, str, int]]:
    """``(kind, text, end)`` for each run of code, literal, comment or semicolon."""
    pos = 0
    while pos < len(sql):
        match = _TOKEN.search(sql, pos)
        if match is None:
            yield "code", sql[pos:], len(sql)
            return
        if match.start() > pos:
            yield "code", sql[pos:match.start()], match.start()
        kind = match.lastgroup or ""
        end = _token_end(sql, match, kind, backslash_escapes)
        yield _KINDS.get(kind, "literal"), sql[match.start():end], end
        pos = end


def _token_end(sql: str, match: re.Match[str], kind: str, backslash_escapes: bool) -> int:
    """Where the comment, literal or semicolon that ``match`` opens ends (unterminated:
    the end of the text, and the database reports the error)."""
    begin = match.end()
    if kind == "line":
        newline = sql.find("\n", begin)
        return len(sql) if newline < 0 else newline
    if kind == "block":
        depth, pos = 1, begin
        while depth and pos < len(sql):
            if sql.startswith("/*", pos):
                depth, pos = depth + 1, pos + 2
            elif sql.startswith("*/", pos):
                depth, pos = depth - 1, pos + 2
            else:
                pos += 1
        return pos
    if kind == "dollar":
        close = sql.find(match.group(kind), begin)
        return len(sql) if close < 0 else close + len(match.group(kind))
    if kind in ("estring", "quote"):
        quote = match.group(kind)[-1]
        return _quote_end(sql, begin, quote, backslash_escapes or kind == "estring")
    return begin  # semi


def _quote_end(sql: str, pos: int, quote: str, backslash_escapes: bool) -> int:
    """The end of a quoted string or identifier whose text starts at ``pos``."""
    while pos < len(sql):
        char = sql[pos]
        if backslash_escapes and char == "\\":
            pos += 2
        elif char == quote and sql.startswith(quote, pos + 1):
            pos += 2  # a doubled quote stands for itself
        elif char == quote:
            return pos + 1
        else:
            pos += 1
    return len(sql)


def _add_statement(out: list[Statement], pieces: list[tuple[str, str]], line: int) -> None:
    """Append the statement made of ``pieces`` unless it holds no code."""
    code = "".join(text for kind, text in pieces if kind == "code")
    if not code.strip():
        return
    for kind, text in pieces:  # the line of its first code, past comments and blanks
        if kind == "comment" or not text.strip():
            line += text.count("\n")
            continue
        line += text[: len(text) - len(text.lstrip())].count("\n")
        break
    statement = Statement(len(out) + 1, line, "".join(text for _, text in pieces).strip())
    texts: list[str] = []
    for kind, text in pieces:
        texts.append(_escape_colons(text, statement.binds if kind == "code" else None))
    statement.text = "".join(texts).strip()
    readable = "".join(text for kind, text in pieces if kind != "comment").strip()
    statement.summary = readable.splitlines()[0][:80] if readable else ""
    out.append(statement)


def _escape_colons(text: str, binds: list[str] | None) -> str:
    """``text`` as ``sqlalchemy.text`` must see it so that exactly the ``:name`` words of
    code (``binds`` is None for literals and comments) become parameters.

    ``text()`` takes ``:word`` not followed by ``:`` as a parameter and unescapes ``\\:``:
    colons of literals and comments and ``:123`` slices are escaped; a parameter followed
    by a ``::type`` cast gets a space so that ``text()`` sees it.
    """

    def replace(match: re.Match[str]) -> str:
        name, cast = match.group(1), text.startswith(":", match.end())
        if binds is not None and (name[0].isalpha() or name[0] == "_"):
            if name not in binds:
                binds.append(name)
            return f":{name} " if cast else match.group(0)
        return match.group(0) if cast else "\\" + match.group(0)

    return _COLON_WORD.sub(replace, text)


# --- the process ---------------------------------------------------------------------


@dataclass
class _Result:
    """What the statements returned, accumulated in order."""

    statement_count: int
    rows_affected: int | None = None  # None: no statement changed rows (DDL, queries)
    returned: int | None = None  # rows of the last statement returning rows
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False

    def output(self) -> dict[str, Any]:
        """The ``sql_output`` of the task."""
        row_count = self.returned if self.returned is not None else self.rows_affected or 0
        return {
            "statement_count": self.statement_count, "row_count": row_count,
            "rows_affected": self.rows_affected or 0, "columns": self.columns,
            "rows": self.rows, "truncated": self.truncated,
        }

    def values(self) -> dict[str, int]:
        """The task values: ``row_count``, and ``rows_affected`` when rows changed."""
        values = {"row_count": self.output()["row_count"]}
        if self.rows_affected is not None:
            values["rows_affected"] = self.rows_affected
        return values


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m podium.runners.sql <json call>``; returns the exit code."""
    call: dict[str, Any] = json.loads((argv or sys.argv)[1])
    url = os.environ.get(URL_ENV, "")
    try:
        result = _run(call, url, json.loads(os.environ.get(PARAMETERS_ENV) or "{}"))
    except SqlTaskError as exc:
        return _fail(str(exc), exc.trace, url)
    except Exception as exc:  # a bug of ours or of a driver: still a clear task failure
        return _fail(f"sql_task failed: {type(exc).__name__}: {exc}", traceback.format_exc(), url)
    write_output({"sql_output": result.output()})
    if os.environ.get(task_values.VALUES_OUT_ENV):  # not when started by hand
        for key, value in result.values().items():
            task_values.set(key, value)
    return 0


def _fail(message: str, trace: str, url: str) -> int:
    """Report a failure with every trace of the connection's password removed."""
    message, trace = _scrub(message, url), _scrub(trace, url)
    print(message, file=sys.stderr, flush=True)
    write_output({"error": message, "error_trace": trace})
    return 1


def _run(call: dict[str, Any], url: str, parameters: dict[str, str]) -> _Result:
    """Read, check and run the statements; the work of ``main``."""
    if call["connection"] is None or not url:
        raise SqlTaskError(_unknown_connection(call["warehouse_id"], call["known"]))
    import sqlalchemy as sa

    label = f"connection {call['connection']!r} ({mask_url(url)})"
    try:
        engine = sa.create_engine(url, hide_parameters=True, poolclass=sa.NullPool)
    except Exception as exc:  # bad URL, unknown dialect, driver not installed
        raise SqlTaskError(f"cannot use {label}: {_first_line(exc)}") from None
    source = call["file"] or "the query"
    statements = split_statements(_read_sql(call), engine.dialect.name in ("mysql", "mariadb"))
    _check(statements, parameters, source)
    print(f"running {len(statements)} statement(s) of {source} on {label}", flush=True)
    try:
        return _execute(engine, label, statements, parameters)
    finally:
        engine.dispose()


def _unknown_connection(wanted: str, known: list[str]) -> str:
    """The message for a warehouse_id that names no connection, with how to add one."""
    upper = re.sub(r"\W", "_", wanted).upper()
    return (
        f"sql_task warehouse_id {wanted!r} names no connection; known connections: "
        f"{', '.join(known) or '(none)'}. Configure it with the environment variable "
        f"PODIUM_CONNECTIONS__{upper}=<SQLAlchemy URL> where the engine runs, or in "
        f"$PODIUM_HOME/podium.toml under [connections]: {wanted} = \"<SQLAlchemy URL>\""
    )


def _read_sql(call: dict[str, Any]) -> str:
    """The SQL text: the inline query, or the file's content."""
    if call["file"] is None:
        return str(call["query"])
    try:
        return Path(call["file"]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SqlTaskError(f"cannot read SQL file {call['file']}: {reason}") from None


def _check(statements: list[Statement], parameters: dict[str, str], source: str) -> None:
    """Fail before connecting if the SQL cannot run as a whole."""
    if not statements:
        raise SqlTaskError(f"no SQL statement in {source}")
    for st in statements:
        missing = [name for name in st.binds if name not in parameters]
        if missing:
            given = ", ".join(sorted(parameters)) or "none"
            raise SqlTaskError(
                f"statement {st.number} (line {st.line}) uses parameter "
                f"{', '.join(':' + m for m in missing)} which the task does not give "
                f"(parameters given: {given}); add it to sql_task.parameters"
            )
        if _TRANSACTION_CONTROL.match(st.summary):
            raise SqlTaskError(
                f"statement {st.number} (line {st.line}) {st.summary!r}: transaction control "
                "is not allowed; Podium runs all the statements in one transaction and "
                "commits it after the last one"
            )


def _execute(engine: Engine, label: str, statements: list[Statement],
             parameters: dict[str, str]) -> _Result:
    """Run ``statements`` in order in one transaction, committed after the last."""
    from sqlalchemy.exc import SQLAlchemyError

    result = _Result(len(statements))
    with _connect(engine, label) as conn:
        transaction = conn.begin()  # rolled back when the connection closes uncommitted
        for st in statements:
            _run_statement(conn, st, {b: parameters[b] for b in st.binds}, result)
        try:
            transaction.commit()
        except SQLAlchemyError as exc:
            message = _driver_message(exc)
            raise SqlTaskError(f"commit failed: {_first(message)}", message) from None
    return result


def _run_statement(conn: Connection, st: Statement, params: dict[str, str],
                   result: _Result) -> None:
    """Run one statement, record what it returned or changed and print a progress line."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    started = time.monotonic()
    try:
        cursor = conn.execute(text(st.text), params)
        done = _consume(cursor, st, conn.dialect.name, result)
    except SQLAlchemyError as exc:
        message = _driver_message(exc)
        raise SqlTaskError(
            f"statement {st.number} failed: {message.splitlines()[0] if message else exc}",
            f"{message}\n\nstatement {st.number} of {result.statement_count} "
            f"(line {st.line}):\n{st.sql}",
        ) from None
    seconds = time.monotonic() - started
    print(f"statement {st.number}/{result.statement_count} (line {st.line}) {st.summary} "
          f"-> {done}, {seconds:.2f} s", flush=True)


def _consume(cursor: CursorResult[Any], st: Statement, dialect: str, result: _Result) -> str:
    """Read a statement's result into ``result``; returns what it did, in words."""
    if cursor.returns_rows and not _status_only(cursor, st, dialect):
        result.columns = list(cursor.keys())
        head = cursor.fetchmany(MAX_ROWS + 1)
        total = len(head)
        while chunk := cursor.fetchmany(_FETCH):
            total += len(chunk)
        result.rows = [[_jsonable(v) for v in row] for row in head[:MAX_ROWS]]
        result.returned, result.truncated = total, total > MAX_ROWS
        return f"{total} row(s) returned"
    if cursor.returns_rows:
        cursor.fetchall()
    if cursor.rowcount < 0:
        return "done"
    result.rows_affected = (result.rows_affected or 0) + cursor.rowcount
    return f"{cursor.rowcount} row(s) affected"


def _status_only(cursor: CursorResult[Any], st: Statement, dialect: str) -> bool:
    """Whether rows returned are a status, not data: DuckDB answers DDL and DML with a
    one-column "Count" (rows changed) or "Success" result."""
    if dialect != "duckdb" or list(cursor.keys()) not in (["Count"], ["Success"]):
        return False
    words = st.summary.split(None, 1)
    return not words or words[0].upper().rstrip("(") not in _QUERY_WORDS


def _connect(engine: Engine, label: str) -> Connection:
    """Connect, waiting while another process holds the DuckDB file's lock (DuckDB lets
    one process at a time open a file for writing) for at most PODIUM_SQL_LOCK_WAIT_SECONDS.
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        wait = float(os.environ.get(LOCK_WAIT_ENV) or DEFAULT_LOCK_WAIT)
    except ValueError:
        raise SqlTaskError(f"{LOCK_WAIT_ENV} must be a number of seconds") from None
    deadline, delay = time.monotonic() + wait, 0.05
    _make_duckdb_folder(engine)
    while True:
        try:
            return engine.connect()
        except SQLAlchemyError as exc:
            message = _driver_message(exc)
            locked = "could not set lock" in message.lower()
            if not locked:
                raise SqlTaskError(f"cannot connect to {label}: {_first(message)}") from None
            if time.monotonic() >= deadline:
                raise SqlTaskError(
                    f"{label}: the DuckDB file is locked by another process ({_first(message)});"
                    f" waited {wait:g} s. DuckDB allows one writing process per file: make the "
                    f"tasks that use it depend on each other, or set {LOCK_WAIT_ENV}"
                ) from None
            if delay == 0.05:
                print(f"{label} is locked by another process; waiting up to {wait:g} s",
                      flush=True)
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)


def _make_duckdb_folder(engine: Engine) -> None:
    """Create the folder of a DuckDB file (DuckDB creates the file, not its folder)."""
    database = engine.url.database
    if engine.dialect.name == "duckdb" and database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


# --- messages and values -------------------------------------------------------------


def mask_url(url: str) -> str:
    """``url`` with its password (and password-like query values) replaced by ``***``."""
    return _QUERY_SECRET.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", url))


def _scrub(text: str, url: str) -> str:
    """``text`` with the URL and its password, plain or percent-encoded, masked."""
    if not url:
        return text
    text = text.replace(url, mask_url(url))
    match = _URL_PASSWORD.search(url)
    if match:
        encoded = url[match.end(1):match.end() - 1]
        from urllib.parse import unquote

        for secret in {encoded, unquote(encoded)}:
            if len(secret) >= 3:  # masking "a" everywhere would garble the message
                text = text.replace(secret, "***")
    return text


def _driver_message(exc: BaseException) -> str:
    """The database's own words: SQLAlchemy wraps them with the SQL and a help link."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip()


def _first(message: str) -> str:
    """The first line of ``message``."""
    return message.splitlines()[0] if message else ""


def _first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says, or its type's name if it says nothing."""
    return _first(str(exc).strip()) or type(exc).__name__


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: numbers stay numbers, the rest becomes text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


if __name__ == "__main__":
    sys.exit(main())
