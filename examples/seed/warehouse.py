"""Read the warehouse that SQL tasks write, from Python (the build_features notebook).

A ``sql_task`` names its database with ``warehouse_id``; ``default`` is the embedded
DuckDB file ``$PODIUM_HOME/warehouse.duckdb``, others come from Podium's settings
(``[connections]`` in podium.toml, ``PODIUM_CONNECTIONS__<NAME>``). ``read_sql`` resolves
the name the same way, so the notebook reads exactly what ``match`` wrote.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy.engine import make_url

from podium.settings import load_settings

LOCK_WAIT_SECONDS = 60.0


def connection_url(name: str = "default") -> str:
    """The SQLAlchemy URL of the SQL connection ``name``, as the engine resolves it."""
    connections = load_settings().connections
    if name not in connections:
        raise LookupError(f"no SQL connection {name!r}; known: {', '.join(connections)}")
    return connections[name]


def read_sql(
    query: str, params: dict[str, Any] | None = None, name: str = "default"
) -> pd.DataFrame:
    """Run ``query`` (DuckDB SQL, ``$name`` parameters) on the warehouse, read-only.

    Timestamps come back in UTC. DuckDB lets one process at a time open a file for
    writing and none read it meanwhile: like a sql_task, this waits for a writer to finish
    (at most a minute).
    """
    url = make_url(connection_url(name))
    if url.get_backend_name() != "duckdb" or not url.database:
        raise ValueError(f"the seed example reads a DuckDB warehouse, not {url.drivername}")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            con = duckdb.connect(url.database, read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(query, params or {}).df()
    finally:
        con.close()
