"""Ingest tasks (python_function_task): extract one day of clicks or orders to Parquet.

Each writes ``<name>.parquet`` into the run's artifacts folder and sets task value ``rows``.
"""

from __future__ import annotations

from podium import task_values
from seed.data import artifacts_dir, simulate


def clicks_ingest(run_date: str, size: str | int = 20000) -> str:
    """Extract the click events of ``run_date`` (``size`` of them, duplicates included)."""
    return _ingest("clicks", run_date, int(size))


def orders_ingest(run_date: str, size: str | int = 20000) -> str:
    """Extract the orders of ``run_date`` (about ``size / 10`` of them)."""
    return _ingest("orders", run_date, int(size))


def _ingest(name: str, run_date: str, size: int) -> str:
    print(f"{name}_ingest: simulating {run_date} with size={size}", flush=True)
    clicks, orders = simulate(run_date, size)
    table = clicks if name == "clicks" else orders
    path = artifacts_dir() / f"{name}.parquet"
    table.to_parquet(path, index=False)
    print(f"{name}_ingest: wrote {len(table)} rows to {path}", flush=True)
    task_values.set("rows", len(table))
    return str(path)
