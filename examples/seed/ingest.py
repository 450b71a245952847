"""clicks_ingest / orders_ingest (spark_python_task): extract one day of clicks or orders.

``python seed/ingest.py clicks --run-date 2026-01-01 --size 20000`` writes
``clicks.parquet`` into the run's artifacts folder and sets the task values ``rows`` and
``path`` (the file's absolute path, which the SQL task ``match`` binds as a parameter:
a SQL task sees no environment variables, so it learns where the files are this way).
The two ingest tasks run side by side, so neither touches the DuckDB warehouse (one
writing process at a time): loading the data is the job of ``match``.
"""

from __future__ import annotations

import argparse
import os

from podium import task_values
from seed.data import artifacts_dir, simulate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("table", choices=["clicks", "orders"])
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--size", type=int, default=20000, help="click events to simulate")
    args = parser.parse_args(argv)

    print(f"{args.table}_ingest: simulating {args.run_date} with size={args.size}", flush=True)
    clicks, orders = simulate(args.run_date, args.size)
    table = clicks if args.table == "clicks" else orders
    path = artifacts_dir() / f"{args.table}.parquet"
    partial = path.with_name(path.name + ".partial")  # a retry never sees half a file
    table.to_parquet(partial, index=False)
    os.replace(partial, path)
    print(f"{args.table}_ingest: wrote {len(table)} rows to {path}", flush=True)
    task_values.set("rows", len(table))
    task_values.set("path", str(path))


if __name__ == "__main__":
    main()
