"""drift_check_task's statistics on small data, checked against values computed by hand,
and its spec model."""

from __future__ import annotations

import json
import math
from math import comb
from pathlib import Path

import numpy as np
import pytest

from podium.errors import InvalidJobSpec
from podium.runners import RUNNERS, RunnerContext, runner_for
from podium.runners.drift_stats import (
    EPSILON,
    Column,
    DriftError,
    Thresholds,
    categorical_drift,
    compare,
    numeric_drift,
    psi,
    quantile_edges,
    shares,
)
from podium.spec import parse_job

ONE_TO_TEN = np.arange(1, 11, dtype=float)


def numeric(*values: float) -> Column:
    return Column("numeric", np.array(values, dtype=float))


def categorical(*values: str) -> Column:
    return Column("categorical", np.array(values, dtype=object))


def test_psi_of_identical_shares_is_zero() -> None:
    assert psi([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]) == 0.0


def test_psi_by_hand() -> None:
    # (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.3 ln 4
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.3 * math.log(4))
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.415888, abs=1e-6)


def test_an_empty_bin_counts_as_epsilon_instead_of_making_psi_infinite() -> None:
    expected = 0.5 * math.log(1 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    assert psi([0.5, 0.5], [1.0, 0.0]) == pytest.approx(expected)
    assert psi([0.5, 0.5], [1.0, 0.0]) == pytest.approx(4.604319, abs=1e-6)


def test_quantile_bins_of_the_reference() -> None:
    edges = quantile_edges(ONE_TO_TEN, 2)
    assert edges.tolist() == [5.5]
    assert shares(ONE_TO_TEN, edges).tolist() == [0.5, 0.5]
    # Bins are (-inf, 5.5], (5.5, inf): an edge value falls in the lower bin.
    assert shares(np.array([5.5, 5.6]), edges).tolist() == [0.5, 0.5]
    # A column with few distinct values gets fewer bins, not empty duplicates.
    assert quantile_edges(np.array([1.0] * 5 + [2.0] * 5), 10).tolist() == [1.0, 1.5, 2.0]
    assert quantile_edges(np.array([3.0] * 5), 10).tolist() == [3.0]


def test_numeric_drift_by_hand() -> None:
    current = np.array([1, 2, 3, 4, 5, 6, 7, 8, 1, 2], dtype=float)
    index, statistic, p_value = numeric_drift(ONE_TO_TEN, current, bins=2)
    # 7 of 10 current values <= 5.5: 0.2 ln(0.7 / 0.5) - 0.2 ln(0.3 / 0.5) = 0.2 ln(7 / 3)
    assert index == pytest.approx(0.2 * math.log(7 / 3))
    # The empirical CDFs differ by at most 0.2 (at 2: 0.2 vs 0.4).
    assert statistic == pytest.approx(0.2)
    assert p_value > 0.05


def test_a_shifted_column_drifts_on_both_tests() -> None:
    index, statistic, p_value = numeric_drift(ONE_TO_TEN, ONE_TO_TEN + 20, bins=2)
    # Every current value falls in the upper bin: the empty lower one is EPSILON.
    assert index == pytest.approx(psi([0.5, 0.5], [0.0, 1.0]))
    assert statistic == 1.0
    # Exact two-sided p-value of D = 1 for 10 and 10 values: 2 / C(20, 10).
    assert p_value == pytest.approx(2 / comb(20, 10))


def test_identical_distributions_do_not_drift_and_a_shift_does() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(0, 1, 20_000)
    same = compare({"x": numeric(*reference)}, {"x": numeric(*rng.normal(0, 1, 20_000))},
                   [], Thresholds())
    assert same.columns[0].psi < 0.01 and not same.columns[0].drifted
    shifted = compare({"x": numeric(*reference)}, {"x": numeric(*rng.normal(1, 1, 5_000))},
                      [], Thresholds())
    report = shifted.columns[0]
    assert report.psi > 0.2 and report.drifted
    assert report.reason.startswith("PSI ") and "KS p-value" in report.reason
    assert shifted.output()["drifted_columns"] == ["x"]


def test_categorical_psi_by_hand() -> None:
    reference = np.array(["a"] * 5 + ["b"] * 5, dtype=object)
    index, p_value = categorical_drift(reference, np.array(["a"] * 8 + ["b"] * 2, dtype=object))
    assert index == pytest.approx(0.3 * math.log(4))
    assert 0 < p_value < 1


def test_a_new_category_is_an_empty_reference_bin() -> None:
    reference = np.array(["a"] * 5 + ["b"] * 5, dtype=object)
    current = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2, dtype=object)
    index, _ = categorical_drift(reference, current)
    expected = 2 * (-0.1 * math.log(0.8)) + (0.2 - EPSILON) * math.log(0.2 / EPSILON)
    assert index == pytest.approx(expected)


def test_a_single_category_on_both_sides_has_p_value_one() -> None:
    same = np.array(["a"] * 3, dtype=object)
    assert categorical_drift(same, same) == (0.0, 1.0)


def test_categorical_columns_drift_on_psi_alone() -> None:
    limits = Thresholds(psi_threshold=0.2)
    report = compare({"c": categorical(*"aaaaabbbbb")}, {"c": categorical(*"aaaaaaaabb")},
                     [], limits)
    column = report.columns[0]
    assert (column.kind, column.test, column.drifted) == ("categorical", "chi2", True)
    assert column.reason == "PSI 0.416 >= 0.2"
    assert column.ks_statistic is None


def test_ks_p_value_zero_leaves_the_decision_to_psi() -> None:
    current = np.array([1, 2, 3, 4, 5, 6, 7, 8, 1, 2], dtype=float)
    loose = Thresholds(psi_threshold=0.5, ks_p_value=0.0, bins=2)
    report = compare({"x": numeric(*ONE_TO_TEN)}, {"x": numeric(*current)}, [], loose)
    assert not report.columns[0].drifted and report.output()["drift_detected"] is False


def test_a_named_column_missing_from_one_side_is_an_error_naming_it() -> None:
    reference = {"a": numeric(1, 2), "b": numeric(1, 2)}
    current = {"a": numeric(1, 2)}
    with pytest.raises(DriftError, match="column 'b' is not in the current data; its "
                                         "columns: a"):
        compare(reference, current, ["a", "b"], Thresholds())
    with pytest.raises(DriftError, match="column 'c' is not in the current data"):
        compare(reference, current, ["c"], Thresholds())


def test_by_default_every_shared_comparable_column_is_compared() -> None:
    reference = {"a": numeric(1, 2, 3), "old": numeric(1), "t": "type DATE is neither "
                 "numeric nor text"}
    current = {"t": "type DATE is neither numeric nor text", "a": numeric(1, 2, 3),
               "new": categorical("x")}
    report = compare(reference, current, [], Thresholds())
    assert [c.column for c in report.columns] == ["a"]
    assert report.skipped == [
        {"column": "t", "reason": "type DATE is neither numeric nor text"},
        {"column": "new", "reason": "only in the current data"},
        {"column": "old", "reason": "only in the reference"},
    ]
    with pytest.raises(DriftError, match="column 't' of the current data cannot be compared"):
        compare(reference, current, ["t"], Thresholds())


def test_a_column_numeric_on_one_side_and_text_on_the_other_is_an_error() -> None:
    with pytest.raises(DriftError, match="column 'a' is numeric in the reference but "
                                         "categorical in the current data"):
        compare({"a": numeric(1)}, {"a": categorical("1")}, [], Thresholds())


def test_nothing_to_compare_is_an_error() -> None:
    with pytest.raises(DriftError, match="no column to compare"):
        compare({"a": numeric(1)}, {"b": numeric(1)}, [], Thresholds())


def test_a_column_without_values_on_one_side_drifts() -> None:
    report = compare({"a": numeric(1, 2)}, {"a": Column("numeric", np.array([]), nulls=3)},
                     [], Thresholds())
    column = report.columns[0]
    assert column.drifted and column.reason == "no values in the current data"
    assert (column.rows_current, column.nulls_current) == (0, 3)


def drift_job(**fields: object) -> dict[str, object]:
    task = {"current": {"path": "cur.parquet"}, "reference": {"path": "ref.parquet"}, **fields}
    return {"name": "j", "tasks": [{"task_key": "drift", "drift_check_task": task}]}


def test_spec_defaults() -> None:
    spec, warnings = parse_job(drift_job())
    task = spec.task("drift")
    assert task.task_type == "drift_check_task" and not warnings
    drift = task.drift_check_task
    assert drift is not None
    assert (drift.psi_threshold, drift.ks_p_value, drift.bins, drift.missing_reference,
            drift.columns) == (0.2, 0.05, 10, "FAIL", [])
    assert drift.reference.warehouse_id == "default"


def test_spec_errors_name_the_place() -> None:
    bad = drift_job(reference={"path": "r.parquet", "table": "t"}, missing_reference="COPY",
                    bins=1)
    with pytest.raises(InvalidJobSpec) as exc:
        parse_job(bad)
    found = {(p.loc, p.code) for p in exc.value.problems}
    assert found == {
        ("tasks[0].drift_check_task.reference", "bad-value"),
        ("tasks[0].drift_check_task.missing_reference", "bad-value"),
        ("tasks[0].drift_check_task.bins", "bad-value"),
    }


def test_build_resolves_paths_and_keeps_connection_urls_out_of_argv() -> None:
    url = "duckdb:////data/warehouse.duckdb?password=hunter2"
    spec, _ = parse_job(drift_job(reference={"table": "ml.ref", "warehouse_id": "lake"}))
    ctx = RunnerContext(python="python", source_dir=Path("/jobs"), connections={"lake": url})
    assert RUNNERS["drift_check_task"] == "podium.runners.drift"

    process = runner_for("drift_check_task")(spec.task("drift"), ctx)

    assert process.argv[:3] == ["python", "-m", "podium.runners.drift"]
    call = json.loads(process.argv[3])
    assert call["current"] == {"path": "/jobs/cur.parquet"}
    assert call["reference"]["connection"] == "lake" and "hunter2" not in process.argv[3]
    assert process.env == {"PODIUM_DRIFT_REFERENCE_URL": url}
    assert (call["psi_threshold"], call["missing_reference"]) == (0.2, "FAIL")
