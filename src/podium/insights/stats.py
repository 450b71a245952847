"""The few robust statistics insights use, written out so that every number can be
checked by hand: weighted quantiles, the median absolute deviation, a binomial tail."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# 1.4826 x MAD estimates the standard deviation of normal data, so robust z-scores read
# like ordinary ones.
MAD_TO_SIGMA = 1.4826


def recency_weights(n: int, half_life: float | None) -> list[float]:
    """Weights for ``n`` samples newest first: each ``half_life`` samples back counts half
    as much (None: all count the same)."""
    if half_life is None:
        return [1.0] * n
    return [0.5 ** (i / half_life) for i in range(n)]


def weighted_quantile(values: Sequence[float], weights: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` with ``weights``.

    Each sorted value sits at the middle of its share of the total weight and the
    quantile interpolates between neighbours (Hazen's rule), so with equal weights the
    0.5-quantile is the ordinary median: [1, 2, 3, 10] gives 2.5.
    """
    if not values:
        raise ValueError("no values")
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    positions: list[float] = []
    seen = 0.0
    for _, weight in pairs:
        positions.append((seen + weight / 2) / total)
        seen += weight
    if q <= positions[0]:
        return pairs[0][0]
    for i in range(1, len(pairs)):
        if q <= positions[i]:
            low, high = positions[i - 1], positions[i]
            share = (q - low) / (high - low) if high > low else 1.0
            return pairs[i - 1][0] + share * (pairs[i][0] - pairs[i - 1][0])
    return pairs[-1][0]


def mad(values: Sequence[float]) -> float:
    """The median absolute deviation from the median."""
    middle = statistics.median(values)
    return statistics.median(abs(v - middle) for v in values)


def robust_scale(values: Sequence[float], floor_share: float = 0.1) -> float:
    """1.4826 x MAD, but at least ``floor_share`` of |median|: a task that always takes
    exactly 10 s would otherwise call 10.1 s an anomaly."""
    return max(MAD_TO_SIGMA * mad(values), floor_share * abs(statistics.median(values)))


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p): how surprising k failures in n tries are."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def seconds_text(value: float) -> str:
    """A duration for people: '850 ms', '42.0 s', '3 min 5 s'."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
