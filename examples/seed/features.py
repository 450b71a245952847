"""build_features (python_function_task): one row of ML features per browsing session.

The label ``converted`` says whether any click of the session led to an order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from podium import task_values
from seed.data import artifacts_dir

CATEGORICAL = ["device", "campaign"]
NUMERIC = [
    "clicks",
    "distinct_pages",
    "product_views",
    "reached_cart",
    "dwell_total",
    "dwell_mean",
    "dwell_max",
    "duration_seconds",
    "hour",
    "user_sessions",
]


def session_features(matched: pd.DataFrame) -> pd.DataFrame:
    """Aggregate matched clicks to sessions: features, then the ``converted`` label."""
    clicks = matched.assign(
        is_product=matched["page"].eq("product"),
        is_cart=matched["page"].isin(["cart", "checkout"]),
    )
    sessions = clicks.groupby("session_id", sort=True).agg(
        user_id=("user_id", "first"),
        device=("device", "first"),
        campaign=("campaign", "first"),
        start=("ts", "min"),
        end=("ts", "max"),
        clicks=("click_id", "size"),
        distinct_pages=("page", "nunique"),
        product_views=("is_product", "sum"),
        reached_cart=("is_cart", "max"),
        dwell_total=("dwell_seconds", "sum"),
        dwell_mean=("dwell_seconds", "mean"),
        dwell_max=("dwell_seconds", "max"),
        converted=("converted", "max"),
    )
    sessions["duration_seconds"] = (sessions["end"] - sessions["start"]).dt.total_seconds()
    sessions["hour"] = sessions["start"].dt.hour
    sessions["user_sessions"] = sessions.groupby("user_id")["clicks"].transform("size")
    sessions["reached_cart"] = sessions["reached_cart"].astype(np.int64)
    sessions["product_views"] = sessions["product_views"].astype(np.int64)
    columns = ["user_id", "start", *CATEGORICAL, *NUMERIC, "converted"]
    return sessions[columns].reset_index()


def build_features(matched: str = "matched.parquet", out: str = "features.parquet") -> dict:
    """Read ``matched`` from the artifacts folder and write the session features to ``out``."""
    folder = artifacts_dir()
    clicks = pd.read_parquet(folder / matched)
    expected = task_values.get(task_key="match", key="matched_rows")
    if len(clicks) != expected:
        raise RuntimeError(f"{matched} has {len(clicks)} rows but match reported {expected}")
    print(f"build_features: aggregating {len(clicks)} matched clicks", flush=True)
    features = session_features(clicks)
    features.to_parquet(folder / out, index=False)
    rate = float(features["converted"].mean())
    print(f"build_features: {len(features)} sessions, {rate:.1%} converted -> {out}", flush=True)
    task_values.set("sessions", len(features))
    return {"sessions": len(features), "positive_rate": round(rate, 4)}
