"""match (spark_python_task): dedupe clicks, drop bot traffic, attribute orders to clicks.

A click converts when the same user places an order within ``--window-hours`` after it.
Writes ``matched.parquet`` (one row per kept click) and sets ``matched_rows``/``conversions``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from podium import task_values
from seed.data import artifacts_dir


def match(clicks: pd.DataFrame, orders: pd.DataFrame, window_hours: float) -> pd.DataFrame:
    """Each human click with the first order of its user within the window, if any."""
    kept = clicks.drop_duplicates("click_id")
    kept = kept[~kept["user_agent"].str.contains("bot", case=False)]
    matched = pd.merge_asof(
        kept.sort_values("ts"),
        orders.rename(columns={"ts": "order_ts"}).sort_values("order_ts"),
        left_on="ts",
        right_on="order_ts",
        by="user_id",
        direction="forward",
        tolerance=pd.Timedelta(hours=window_hours),
    )
    matched["converted"] = matched["order_id"].notna()
    matched["order_id"] = matched["order_id"].astype("Int64")
    return matched.drop(columns="user_agent").sort_values("click_id", ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window-hours", type=float, default=1.0)
    parser.add_argument("--out", default="matched.parquet")
    args = parser.parse_args(argv)

    folder = artifacts_dir()
    clicks = pd.read_parquet(folder / "clicks.parquet")
    orders = pd.read_parquet(folder / "orders.parquet")
    print(f"match: {len(clicks)} click events, {len(orders)} orders", flush=True)
    matched = match(clicks, orders, args.window_hours)
    conversions = int(matched["converted"].sum())
    print(f"match: kept {len(matched)} human clicks, {conversions} converted within the window")
    matched.to_parquet(folder / args.out, index=False)
    task_values.set("matched_rows", len(matched))
    task_values.set("conversions", conversions)


if __name__ == "__main__":
    main()
