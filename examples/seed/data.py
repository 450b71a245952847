"""A small simulated shop that both ingest tasks extract from, plus shared helpers.

The world is a pure function of (run_date, size), so a rerun reproduces the same data.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

DEVICES = np.array(["desktop", "mobile", "tablet"])
CAMPAIGNS = np.array(["organic", "email", "search", "social"])
PAGES = np.array(["home", "category", "product", "cart", "checkout"])
_DEVICE_LIFT = np.array([0.0, -0.6, -0.3])
_CAMPAIGN_LIFT = np.array([0.0, 0.9, 0.5, -0.8])


def artifacts_dir() -> Path:
    """The run's shared artifacts folder (``PODIUM_ARTIFACTS_DIR``)."""
    path = os.environ.get("PODIUM_ARTIFACTS_DIR")
    if not path:
        raise RuntimeError("PODIUM_ARTIFACTS_DIR is not set: run this task with Podium")
    return Path(path)


def seed_for(run_date: str) -> int:
    """The numpy seed of a run date: 2026-01-01 -> 20260101."""
    return int(date.fromisoformat(run_date).strftime("%Y%m%d"))


def simulate(run_date: str, size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (clicks, orders) for one day: ``size`` click events and ~10% as many orders.

    Sessions that reach the cart, view more products, stay longer, come from email or
    search, or use a desktop convert more often; bots never order. About 1% of click
    events are delivered twice and 5% of orders come from outside any tracked session.
    """
    if size < 10:
        raise ValueError(f"size must be at least 10, got {size}")
    rng = np.random.default_rng(seed_for(run_date))

    # Sessions of 1 + Poisson(2) clicks, cut so that they hold exactly `size` clicks.
    lengths = 1 + rng.poisson(2.0, size)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), size)) + 1]
    lengths[-1] -= int(lengths.sum()) - size
    n = len(lengths)
    user = rng.integers(1, max(10, size // 8) + 1, n)
    device = rng.choice(3, n, p=[0.45, 0.45, 0.10])
    campaign = rng.choice(4, n, p=[0.4, 0.2, 0.25, 0.15])
    bot = rng.random(n) < 0.03
    start = rng.uniform(0, 23 * 3600, n)

    # Clicks: a path that deepens through the funnel, dwell times, timestamps.
    sess = np.repeat(np.arange(n), lengths)
    first = np.cumsum(lengths) - lengths
    step = np.arange(size) - first[sess]
    depth = np.clip(step + rng.integers(-1, 2, size), 0, 4)
    dwell = np.round(rng.lognormal(3.0, 0.8, size), 1)
    is_bot = bot[sess]
    depth[is_bot] = rng.integers(0, 3, int(is_bot.sum()))
    dwell[is_bot] = np.round(rng.uniform(0.1, 1.5, int(is_bot.sum())), 1)
    seen = np.cumsum(dwell)
    at = start[sess] + seen - (seen - dwell)[first][sess] - dwell  # seconds since midnight

    # Conversion: a logistic function of what the session did, plus noise.
    products = np.bincount(sess, weights=depth == 2, minlength=n)
    cart = np.bincount(sess, weights=depth >= 3, minlength=n) > 0
    total_dwell = np.bincount(sess, weights=dwell, minlength=n)
    logit = (
        -2.5
        + 2.2 * cart
        + 0.5 * products
        + 0.3 * np.log1p(total_dwell / 60)
        + _CAMPAIGN_LIFT[campaign]
        + _DEVICE_LIFT[device]
    )
    converts = (rng.random(n) < 1 / (1 + np.exp(-logit))) & ~bot
    n_stray = max(1, int(converts.sum()) // 20)
    order_user = np.r_[user[converts], rng.integers(1, user.max() + 1, n_stray)]
    order_at = np.r_[
        (start + total_dwell)[converts] + rng.exponential(600, int(converts.sum())),
        rng.uniform(0, 24 * 3600, n_stray),
    ]

    day = pd.Timestamp(run_date, tz="UTC")
    clicks = pd.DataFrame(
        {
            "click_id": np.arange(1, size + 1, dtype=np.int64),
            "user_id": user[sess].astype(np.int64),
            "session_id": sess.astype(np.int64) + 1,
            "ts": day + pd.to_timedelta(np.round(at, 3), unit="s"),
            "page": PAGES[depth],
            "device": DEVICES[device[sess]],
            "campaign": CAMPAIGNS[campaign[sess]],
            "dwell_seconds": dwell,
            "user_agent": np.where(is_bot, "crawler-bot/2.1", "Mozilla/5.0"),
        }
    )
    # At-least-once delivery: about 1% of click events arrive twice.
    dupes = clicks.iloc[np.sort(rng.choice(size, size // 100, replace=False))]
    clicks = pd.concat([clicks, dupes]).sort_values(["ts", "click_id"], kind="stable")

    order = np.argsort(order_at, kind="stable")
    orders = pd.DataFrame(
        {
            "order_id": np.arange(1, len(order) + 1, dtype=np.int64),
            "user_id": order_user[order].astype(np.int64),
            "ts": day + pd.to_timedelta(np.round(order_at[order], 3), unit="s"),
            "amount": np.round(rng.gamma(2.0, 30.0, len(order)) + 5, 2),
        }
    )
    return clicks.reset_index(drop=True), orders
