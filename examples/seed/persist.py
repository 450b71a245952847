"""persist_features (shell_task): validate the session features and publish the table.

Run as ``python -m seed.persist --out features/feature_table.parquet``; paths are relative
to the artifacts folder. Writes atomically and sets task value ``feature_rows``.
"""

from __future__ import annotations

import argparse
import json
import os

import pyarrow.parquet as pq

from podium import task_values
from seed.data import artifacts_dir

FEATURE_VERSION = "1"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--in", dest="source", default="features.parquet")
    parser.add_argument("--out", default="features/feature_table.parquet")
    parser.add_argument("--run-date", default="")
    parser.add_argument("--run-id", default="")
    args = parser.parse_args(argv)

    folder = artifacts_dir()
    table = pq.read_table(folder / args.source)
    print(f"persist_features: read {table.num_rows} rows from {args.source}", flush=True)
    problems = [name for name in table.column_names if table.column(name).null_count]
    if len(set(table.column("session_id").to_pylist())) != table.num_rows:
        problems.append("session_id is not unique")
    if problems:
        raise SystemExit(f"persist_features: bad feature table: null or invalid {problems}")

    meta = {"feature_version": FEATURE_VERSION, "run_date": args.run_date, "run_id": args.run_id}
    schema_meta = {**(table.schema.metadata or {}), b"podium.seed": json.dumps(meta).encode()}
    table = table.replace_schema_metadata(schema_meta)
    target = folder / args.out
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, target)
    print(f"persist_features: published {table.num_rows} rows to {target}", flush=True)
    task_values.set("feature_rows", table.num_rows)
    task_values.set("feature_table", str(target))


if __name__ == "__main__":
    main()
