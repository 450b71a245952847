"""Tests for podium.insights.stats against values worked out by hand."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.insights.stats import (
    binomial_tail,
    mad,
    recency_weights,
    robust_scale,
    seconds_text,
    weighted_quantile,
)


@pytest.mark.parametrize(("q", "expected"), [
    (0.5, 2.5),  # between 2 and 3, as statistics.median
    (0.25, 1.5),  # positions .125, .375: halfway from 1 to 2
    (0.9, 10.0),  # past the last position (.875): the largest
    (0.0, 1.0),
])
def test_weighted_quantile_with_equal_weights(q: float, expected: float) -> None:
    assert weighted_quantile([10, 3, 1, 2], [1, 1, 1, 1], q) == pytest.approx(expected)


def test_weighted_quantile_leans_to_heavy_values() -> None:
    # (10, w=1), (20, w=.5): positions 1/3 and 5/6; 0.5 is a third of the way: 13.33
    assert weighted_quantile([10, 20], [1, 0.5], 0.5) == pytest.approx(10 + 10 / 3)


def test_weighted_quantile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        weighted_quantile([], [], 0.5)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=30))
def test_equal_weights_median_is_the_ordinary_median(values: list[float]) -> None:
    assert weighted_quantile(values, [1.0] * len(values), 0.5) == pytest.approx(
        statistics.median(values))


def test_recency_weights_halve_every_half_life() -> None:
    assert recency_weights(3, 1) == [1, 0.5, 0.25]
    assert recency_weights(3, 2)[2] == pytest.approx(0.5)
    assert recency_weights(2, None) == [1, 1]


def test_mad_and_robust_scale() -> None:
    assert mad([1, 2, 3, 4, 100]) == 1  # deviations 2, 1, 0, 1, 97
    assert robust_scale([1, 2, 3, 4, 100]) == pytest.approx(1.4826)
    assert robust_scale([10, 10, 10]) == 1.0  # no spread: 10% of the median
    assert robust_scale([0, 0, 0]) == 0


def test_binomial_tail() -> None:
    assert binomial_tail(2, 3, 0.5) == pytest.approx(4 / 8)  # 3 ways for 2, 1 for 3
    assert binomial_tail(0, 5, 0.3) == pytest.approx(1)
    assert binomial_tail(3, 3, 0.1) == pytest.approx(0.001)
    assert math.isclose(binomial_tail(1, 2, 0.0), 0.0)


@pytest.mark.parametrize(("value", "text"), [
    (0.25, "250 ms"), (42, "42.0 s"), (185, "3 min 5 s"), (7500, "2 h 5 min"),
])
def test_seconds_text(value: float, text: str) -> None:
    assert seconds_text(value) == text
