"""drift_check_task through the real engine: Parquet and CSV files, DuckDB warehouse
tables, task values gating a downstream task through a condition_task, and what happens
when the reference is missing (FAIL, BASELINE)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from podium.services import Podium, get_output
from tests.integration.helpers import job, results, run_job, tasks_by_key

# 1,000 rows: x uniform over 0..999, device a/b/c in turn, day a date (not comparable).
ROWS = "SELECT i AS x, ['a', 'b', 'c'][i % 3 + 1] AS device, DATE '2026-01-01' AS day " \
       "FROM range(1000) r(i)"
SHIFTED = "SELECT i + 400 AS x, CASE WHEN i % 10 = 0 THEN 'b' ELSE 'a' END AS device, " \
          "DATE '2026-01-02' AS day FROM range(1000) r(i)"


def write(path: Path, query: str) -> Path:
    kind = "PARQUET" if path.suffix == ".parquet" else "CSV, HEADER"
    duckdb.sql(f"COPY ({query}) TO '{path}' (FORMAT {kind})")
    return path


def gated_job(tmp_path: Path, drift: dict[str, Any]) -> Any:
    """drift -> drifted (condition on drift_detected) -> retrain (only when true)."""
    return job([
        {"task_key": "drift", "drift_check_task": drift},
        {"task_key": "drifted", "depends_on": [{"task_key": "drift"}],
         "condition_task": {"op": "EQUAL_TO", "left": "{{tasks.drift.values.drift_detected}}",
                            "right": "true"}},
        {"task_key": "retrain", "depends_on": [{"task_key": "drifted", "outcome": "true"}],
         "shell_task": {"command": [sys.executable, "-c", "print('retraining')"]}},
    ], tmp_path)


def message(run: dict[str, Any], key: str) -> str:
    return str(tasks_by_key(run)[key]["state"]["state_message"])


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write(tmp_path / "reference.parquet", ROWS)


def test_a_shifted_parquet_file_drifts_and_the_condition_runs_retrain(
    podium: Podium, tmp_path: Path, reference: Path
) -> None:
    write(tmp_path / "current.parquet", SHIFTED)
    drift = {"current": {"path": "current.parquet"}, "reference": {"path": "reference.parquet"}}

    run = run_job(podium, gated_job(tmp_path, drift))

    assert results(run) == {"drift": "SUCCESS", "drifted": "SUCCESS", "retrain": "SUCCESS"}
    values = tasks_by_key(run)["drift"]["task_values"]
    assert values["drift_detected"] is True
    assert values["drifted_columns"] == ["x", "device"]
    assert values["max_psi"] > 0.2
    assert (values["rows_current"], values["rows_reference"]) == (1000, 1000)
    assert values["baseline_created"] is False
    out = get_output(podium, run["run_id"], "drift")["drift_output"]
    by_column = {c["column"]: c for c in out["columns"]}
    assert by_column["x"]["kind"] == "numeric" and by_column["x"]["test"] == "ks"
    assert by_column["x"]["ks_statistic"] == pytest.approx(0.4)
    assert by_column["x"]["p_value"] < 0.05 and by_column["x"]["drifted"]
    assert by_column["device"]["kind"] == "categorical" and by_column["device"]["drifted"]
    assert by_column["device"]["reason"].startswith("PSI ")
    assert out["skipped_columns"] == [
        {"column": "day", "reason": "type DATE is neither numeric nor text"}]
    assert out["reference"] == str(reference)


def test_the_same_data_as_csv_does_not_drift_and_retrain_is_skipped(
    podium: Podium, tmp_path: Path, reference: Path
) -> None:
    write(tmp_path / "current.csv", ROWS)
    drift = {"current": {"path": "current.csv"}, "reference": {"path": "reference.parquet"},
             "columns": ["x", "device"], "psi_threshold": 0.1, "bins": 5}

    run = run_job(podium, gated_job(tmp_path, drift))

    assert results(run) == {"drift": "SUCCESS", "drifted": "SUCCESS", "retrain": "EXCLUDED"}
    values = tasks_by_key(run)["drift"]["task_values"]
    assert values["drift_detected"] is False and values["drifted_columns"] == []
    assert values["max_psi"] == pytest.approx(0.0, abs=1e-9)
    out = get_output(podium, run["run_id"], "drift")["drift_output"]
    assert [c["column"] for c in out["columns"]] == ["x", "device"]
    assert (out["psi_threshold"], out["bins"]) == (0.1, 5)


def test_a_column_missing_from_the_current_data_fails_naming_it(
    podium: Podium, tmp_path: Path, reference: Path
) -> None:
    write(tmp_path / "current.csv", "SELECT i AS x FROM range(10) r(i)")
    drift = {"current": {"path": "current.csv"}, "reference": {"path": "reference.parquet"},
             "columns": ["x", "device"]}

    run = run_job(podium, gated_job(tmp_path, drift))

    assert results(run)["drift"] == "FAILED"
    assert "column 'device' is not in the current data; its columns: x" in message(run, "drift")
    assert results(run)["retrain"] == "UPSTREAM_FAILED"


def test_a_missing_reference_fails_by_default_and_names_the_fix(
    podium: Podium, tmp_path: Path
) -> None:
    write(tmp_path / "current.parquet", ROWS)
    drift = {"current": {"path": "current.parquet"}, "reference": {"path": "ref/none.parquet"}}

    run = run_job(podium, gated_job(tmp_path, drift))

    assert results(run)["drift"] == "FAILED"
    text = message(run, "drift")
    assert f"no reference file {tmp_path / 'ref' / 'none.parquet'}" in text
    assert "missing_reference: BASELINE" in text
    assert not (tmp_path / "ref").exists()


def test_baseline_saves_the_reference_then_later_runs_compare_with_it(
    podium: Podium, tmp_path: Path
) -> None:
    write(tmp_path / "current.csv", ROWS)
    drift = {"current": {"path": "current.csv"}, "reference": {"path": "ref/features.parquet"},
             "missing_reference": "BASELINE"}
    spec = gated_job(tmp_path, drift)

    first = run_job(podium, spec)

    # No reference yet: saved, and reported as drift so that a first model is trained.
    assert results(first) == {"drift": "SUCCESS", "drifted": "SUCCESS", "retrain": "SUCCESS"}
    values = tasks_by_key(first)["drift"]["task_values"]
    assert values == {"drift_detected": True, "baseline_created": True, "max_psi": 0.0,
                      "drifted_columns": [], "rows_current": 1000, "rows_reference": 1000}
    saved = duckdb.sql(f"SELECT count(*), sum(x) FROM '{tmp_path / 'ref/features.parquet'}'")
    assert saved.fetchall() == [(1000, sum(range(1000)))]

    second = run_job(podium, spec)

    assert results(second)["retrain"] == "EXCLUDED"
    values = tasks_by_key(second)["drift"]["task_values"]
    assert values["drift_detected"] is False and values["baseline_created"] is False


def test_warehouse_tables_with_a_baseline_table(podium: Podium, tmp_path: Path) -> None:
    def spec(query: str) -> Any:
        load = {"task_key": "load", "sql_task": {"query": {"query_text": (
            f"CREATE SCHEMA IF NOT EXISTS ml; CREATE OR REPLACE TABLE ml.features AS {query}"
        )}}}
        drift = {"task_key": "drift", "depends_on": [{"task_key": "load"}],
                 "drift_check_task": {"current": {"table": "ml.features"},
                                      "reference": {"table": "ml.features_reference",
                                                    "warehouse_id": "default"},
                                      "missing_reference": "BASELINE"}}
        return job([load, drift], tmp_path)

    first = run_job(podium, spec(ROWS))
    assert results(first) == {"load": "SUCCESS", "drift": "SUCCESS"}
    assert tasks_by_key(first)["drift"]["task_values"]["baseline_created"] is True

    second = run_job(podium, spec(SHIFTED))
    assert results(second) == {"load": "SUCCESS", "drift": "SUCCESS"}
    values = tasks_by_key(second)["drift"]["task_values"]
    assert values["drift_detected"] is True and values["drifted_columns"] == ["x", "device"]
    out = get_output(podium, second["run_id"], "drift")["drift_output"]
    assert (out["current"], out["reference"]) == (
        "table ml.features", "table ml.features_reference")


def test_an_unknown_warehouse_fails_with_how_to_configure_it(
    podium: Podium, tmp_path: Path
) -> None:
    drift = {"current": {"table": "t", "warehouse_id": "lake"},
             "reference": {"path": "reference.parquet"}}
    write(tmp_path / "reference.parquet", ROWS)

    run = run_job(podium, gated_job(tmp_path, drift))

    assert results(run)["drift"] == "FAILED"
    assert "current.warehouse_id warehouse_id 'lake' names no connection" in message(run, "drift")
