"""The seed pipeline's pieces for real: the ingest scripts as subprocesses, the SQL files
on DuckDB and the notebook through the real engine, train with the job's Python.

One module-scoped run of the pipeline up to ``persist_features`` goes through the engine
in its own PODIUM_HOME; ``train`` runs as a script here, on what that run produced (its
isolated environment is exercised by the end-to-end CLI test).
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml

from podium.services import Podium, get_output, open_podium
from podium.spec import LoadedJob, load_job
from tests.conftest import missing, settings_for
from tests.integration.helpers import job, results, run_job, tasks_by_key

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SIZE = "2000"
RUN_DATE = "2026-01-01"


def seed_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "seed_pipeline.yaml").read_text())
    return data


def seed_job(keep: set[str] | None = None) -> LoadedJob:
    """The seed job (``keep``: only those tasks), with the examples folder as its source."""
    data = seed_data()
    tasks = [t for t in data.pop("tasks") if keep is None or t["task_key"] in keep]
    if not any(t.get("environment_key") for t in tasks):
        del data["environments"]  # an environment no task uses is not worth a warning
    return job(tasks, EXAMPLES, **data)


def warehouse_query(path: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def run_script(
    argv: list[str], artifacts: Path, python: str = sys.executable
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run a task script under Podium's task contract; returns it and its task values."""
    artifacts.mkdir(parents=True, exist_ok=True)
    values_out = artifacts / "values.jsonl"
    values_out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(EXAMPLES),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONWARNINGS": "error",
        "PODIUM_ARTIFACTS_DIR": str(artifacts),
        "PODIUM_TASK_VALUES_OUT": str(values_out),
    }
    proc = subprocess.run(
        [python, *argv], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=120
    )
    values = {}
    if values_out.exists():
        for line in values_out.read_text().splitlines():
            record = json.loads(line)
            values[record["key"]] = record["value"]
    return proc, values


@dataclass
class SeedRun:
    """A run of the pipeline up to persist_features, and where it left things."""

    home: Path
    run: dict[str, Any]
    outputs: dict[str, dict[str, Any]]

    @property
    def values(self) -> dict[str, dict[str, Any]]:
        return {key: t.get("task_values", {}) for key, t in tasks_by_key(self.run).items()}

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts" / str(self.run["run_id"])

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedRun]:
    home = tmp_path_factory.mktemp("seed") / "home"
    with pytest.MonkeyPatch.context() as env:
        # The notebook finds the warehouse through Podium's settings, as tasks do.
        env.setenv("PODIUM_HOME", str(home))
        env.delenv("PODIUM_DATABASE_URL", raising=False)
        podium = open_podium(settings_for(home))
        try:
            keep = {t["task_key"] for t in seed_data()["tasks"]} - {"train"}
            run = run_job(podium, seed_job(keep), run_date=RUN_DATE, size=SIZE)
            outputs = {
                key: get_output(podium, run["run_id"], key)
                for key in ("match", "build_features", "persist_features", "drift")
            }
        finally:
            podium.close()
    yield SeedRun(home, run, outputs)


@pytest.fixture(scope="module")
def trained(seed_run: SeedRun) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    features = seed_run.values["build_features"]["features_path"]
    rows = seed_run.values["persist_features"]["row_count"]
    argv = ["seed/train.py", "--features", features, "--expect-rows", str(rows)]
    return run_script(argv, seed_run.artifacts)


# --- the spec ------------------------------------------------------------------------


def test_spec_graph_task_types_and_parameters() -> None:
    spec = load_job(EXAMPLES / "seed_pipeline.yaml").spec
    graph = {
        task.task_key: [(d.task_key, d.outcome) for d in task.depends_on] for task in spec.tasks
    }
    assert graph == {
        "clicks_ingest": [],
        "orders_ingest": [],
        "match": [("clicks_ingest", None), ("orders_ingest", None)],
        "enough_rows": [("match", None)],
        "build_features": [("enough_rows", "true")],
        "persist_features": [("build_features", None)],
        "drift": [("persist_features", None)],
        "drift_found": [("drift", None)],
        "retrain_requested": [("persist_features", None)],
        "train": [("drift_found", "true"), ("retrain_requested", "true")],
    }
    assert spec.task("train").run_if == "AT_LEAST_ONE_SUCCESS"
    types = {task.task_key: task.task_type for task in spec.tasks}
    assert types == {
        "clicks_ingest": "spark_python_task",
        "orders_ingest": "spark_python_task",
        "match": "sql_task",
        "enough_rows": "condition_task",
        "build_features": "notebook_task",
        "persist_features": "sql_task",
        "drift": "drift_check_task",
        "drift_found": "condition_task",
        "retrain_requested": "condition_task",
        "train": "spark_python_task",
    }
    assert spec.task("train").environment_key == "train"
    assert spec.parameter_defaults() == {
        "run_date": RUN_DATE, "size": "20000", "min_rows": "1000", "retrain": "auto"
    }


def test_train_environment_pins_what_train_imports() -> None:
    # The pins are fixed versions, independent of what the project's own venv holds
    # (an isolated environment need not match it); train.py may import nothing else.
    spec = load_job(EXAMPLES / "seed_pipeline.yaml").spec
    pins = dict(d.split("==") for d in spec.environments[0].spec.dependencies)

    tree = ast.parse((EXAMPLES / "seed" / "train.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    top = {name.split(".")[0] for name in imported} - set(sys.stdlib_module_names)
    distributions = metadata.packages_distributions()
    needed = {dist for name in top - {"podium"} for dist in distributions[name]}
    assert needed == set(pins)


def test_python_form_builds_the_same_spec() -> None:
    # In a subprocess: loading the .py form imports it and edits sys.path.
    check = (
        "from podium.spec import load_job; "
        "a = load_job('seed_pipeline.py'); b = load_job('seed_pipeline.yaml'); "
        "assert a.spec == b.spec, (a.spec, b.spec); assert not a.warnings + b.warnings"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "error"}
    proc = subprocess.run(
        [sys.executable, "-c", check], cwd=EXAMPLES, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


# --- ingest --------------------------------------------------------------------------


def test_ingest_scripts_are_deterministic_per_run_date(tmp_path: Path) -> None:
    def ingest(folder: str, day: str, table: str) -> pd.DataFrame:
        argv = ["seed/ingest.py", table, "--run-date", day, "--size", SIZE]
        proc, values = run_script(argv, tmp_path / folder / table)
        assert proc.returncode == 0, proc.stderr
        path = tmp_path / folder / table / f"{table}.parquet"
        frame = pd.read_parquet(path)
        assert values == {"rows": len(frame), "path": str(path)}
        assert f"{table}_ingest: wrote {len(frame)} rows" in proc.stdout
        return frame

    wanted = [
        (f, d, t)
        for f, d in (("a", RUN_DATE), ("b", RUN_DATE), ("c", "2026-01-02"))
        for t in ("clicks", "orders")
    ]
    with ThreadPoolExecutor() as pool:  # side by side, as the engine runs the two tasks
        frames = list(pool.map(lambda args: ingest(*args), wanted))
    tables = {(f, t): frame for (f, _, t), frame in zip(wanted, frames, strict=True)}

    for table in ("clicks", "orders"):
        pd.testing.assert_frame_equal(tables["a", table], tables["b", table])
    clicks, orders = tables["a", "clicks"], tables["a", "orders"]
    assert clicks["click_id"].nunique() == int(SIZE)
    assert len(clicks) == int(SIZE) * 101 // 100  # at-least-once delivery repeats 1%
    assert 0.05 * len(clicks) < len(orders) < 0.15 * len(clicks)
    assert clicks["ts"].dt.date.astype(str).eq(RUN_DATE).all()
    assert tables["c", "clicks"]["ts"].min() >= pd.Timestamp("2026-01-02", tz="UTC")
    assert not tables["c", "orders"]["amount"].equals(orders["amount"])
    assert not list(tmp_path.glob("*/*/*.partial"))


# --- match (SQL) ---------------------------------------------------------------------


def reference_match(clicks: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """What match.sql computes, written with pandas."""
    kept = clicks.drop_duplicates("click_id")
    kept = kept[~kept["user_agent"].str.contains("bot", case=False)]
    matched = pd.merge_asof(
        kept.sort_values("ts"),
        orders.rename(columns={"ts": "order_ts"}).sort_values("order_ts"),
        left_on="ts",
        right_on="order_ts",
        by="user_id",
        direction="forward",
        tolerance=pd.Timedelta(minutes=60),
    )
    matched["converted"] = matched["order_id"].notna()
    return matched.sort_values("click_id", ignore_index=True)


def test_the_pipeline_runs_through_the_engine(seed_run: SeedRun) -> None:
    assert results(seed_run.run) == {
        "clicks_ingest": "SUCCESS",
        "orders_ingest": "SUCCESS",
        "match": "SUCCESS",
        "enough_rows": "SUCCESS",
        "build_features": "SUCCESS",
        "persist_features": "SUCCESS",
        "drift": "SUCCESS",
        "drift_found": "SUCCESS",
        "retrain_requested": "SUCCESS",
    }


def test_match_dedupes_drops_bots_and_attributes_orders(seed_run: SeedRun) -> None:
    clicks = pd.read_parquet(seed_run.values["clicks_ingest"]["path"])
    orders = pd.read_parquet(seed_run.values["orders_ingest"]["path"])
    expected = reference_match(clicks, orders)
    matched = warehouse_query(
        seed_run.warehouse,
        "SELECT * FROM seed.matched_clicks WHERE run_date = ? ORDER BY click_id",
        [RUN_DATE],
    )
    assert seed_run.values["match"]["row_count"] == len(matched) == len(expected) < len(clicks)
    assert matched["click_id"].tolist() == expected["click_id"].tolist()
    assert matched["converted"].tolist() == expected["converted"].tolist()
    assert 0 < matched["converted"].sum() < len(matched)
    hits = matched[matched["converted"]]
    assert hits["order_ts"].tolist() == expected.loc[expected["converted"], "order_ts"].tolist()
    assert ((hits["order_ts"] - hits["ts"]) <= pd.Timedelta(hours=1)).all()
    assert matched.loc[~matched["converted"], ["order_id", "order_ts", "amount"]].isna().all().all()
    assert (matched["run_id"] == seed_run.run["run_id"]).all()

    output = seed_run.outputs["match"]["sql_output"]
    assert output["row_count"] == len(matched) and output["truncated"] is True
    assert output["rows"][0][0] == 1  # the preview: matched clicks by click_id


def test_match_rerun_replaces_its_day(seed_run: SeedRun, podium: Podium, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(seed_run.warehouse, home / "warehouse.duckdb")
    task = next(t for t in seed_data()["tasks"] if t["task_key"] == "match")
    task = {**task, "depends_on": []}
    task["sql_task"]["parameters"].update(
        clicks=seed_run.values["clicks_ingest"]["path"],
        orders=seed_run.values["orders_ingest"]["path"],
        run_date=RUN_DATE,
        run_id="99",
    )

    run = run_job(podium, job([task], EXAMPLES))

    assert results(run) == {"match": "SUCCESS"}
    counts = warehouse_query(
        home / "warehouse.duckdb",
        "SELECT run_id, count(*) AS n FROM seed.matched_clicks GROUP BY run_id",
    )
    assert counts.to_dict("records") == [{"run_id": 99, "n": seed_run.values["match"]["row_count"]}]


def test_the_condition_stops_a_day_with_too_few_rows(podium: Podium) -> None:
    keep = {"clicks_ingest", "orders_ingest", "match", "enough_rows", "build_features"}

    run = run_job(podium, seed_job(keep), run_date=RUN_DATE, size="200", min_rows="1000")

    assert results(run)["enough_rows"] == "SUCCESS"
    assert results(run)["build_features"] == "EXCLUDED"
    assert run["state"]["result_state"] == "SUCCESS"
    assert tasks_by_key(run)["match"]["task_values"]["row_count"] < 1000


# --- build_features (notebook) -------------------------------------------------------


def test_build_features_notebook_writes_one_row_per_session(seed_run: SeedRun) -> None:
    values = seed_run.values["build_features"]
    features = pd.read_parquet(values["features_path"])
    assert Path(values["features_path"]) == seed_run.artifacts / "features.parquet"
    matched = warehouse_query(
        seed_run.warehouse, "SELECT * FROM seed.matched_clicks WHERE run_date = ?", [RUN_DATE]
    )
    assert values["sessions"] == len(features) == matched["session_id"].nunique()
    assert features["session_id"].is_unique
    assert features["clicks"].sum() == len(matched)
    assert features["converted"].sum() == matched.groupby("session_id")["converted"].any().sum()
    assert not features.isna().any().any()
    assert 0.1 < values["positive_rate"] < 0.6

    output = seed_run.outputs["build_features"]["notebook_output"]
    assert json.loads(output["result"]) == {
        "sessions": values["sessions"],
        "positive_rate": values["positive_rate"],
    }
    assert Path(output["notebook_path"]).is_file() and Path(output["html_path"]).is_file()


# --- persist_features (SQL) ----------------------------------------------------------


def test_persist_features_publishes_the_days_feature_table(seed_run: SeedRun) -> None:
    features = pd.read_parquet(seed_run.values["build_features"]["features_path"])
    table = warehouse_query(
        seed_run.warehouse,
        "SELECT * FROM seed.session_features WHERE run_date = ? ORDER BY session_id",
        [RUN_DATE],
    )
    assert seed_run.values["persist_features"]["row_count"] == len(table) == len(features)
    assert (table["run_id"] == seed_run.run["run_id"]).all()
    pd.testing.assert_frame_equal(
        table[features.columns].reset_index(drop=True),
        features.sort_values("session_id", ignore_index=True),
        check_dtype=False,
    )


def test_persist_features_refuses_duplicate_sessions_and_commits_nothing(
    seed_run: SeedRun, podium: Podium, home: Path, tmp_path: Path
) -> None:
    features = pd.read_parquet(seed_run.values["build_features"]["features_path"])
    bad = tmp_path / "features.parquet"
    pd.concat([features, features.head(1)]).to_parquet(bad, index=False)
    task = next(t for t in seed_data()["tasks"] if t["task_key"] == "persist_features")
    task = {**task, "depends_on": []}
    task["sql_task"]["parameters"].update(features=str(bad), run_date=RUN_DATE, run_id="1")

    run = run_job(podium, job([task], EXAMPLES))

    state = tasks_by_key(run)["persist_features"]["state"]
    assert state["result_state"] == "FAILED"
    assert "session_id is not unique" in state["state_message"]
    tables = warehouse_query(home / "warehouse.duckdb", "SELECT table_name FROM duckdb_tables()")
    assert tables.empty  # the CREATE TABLE was rolled back with the rest


# --- train ---------------------------------------------------------------------------


# --- drift ---------------------------------------------------------------------------


def test_the_first_run_saves_the_reference_features_and_asks_for_training(
    seed_run: SeedRun,
) -> None:
    values = seed_run.values["drift"]
    rows = seed_run.values["persist_features"]["row_count"]
    assert values == {"drift_detected": True, "baseline_created": True, "max_psi": 0.0,
                      "drifted_columns": [], "rows_current": rows, "rows_reference": rows}
    reference = warehouse_query(seed_run.warehouse,
                                "SELECT count(*) AS n FROM seed.features_reference")
    assert reference["n"].tolist() == [rows]
    assert seed_run.outputs["drift"]["drift_output"]["reference"] == (
        "table seed.features_reference")


def test_drift_compares_later_features_with_the_reference(
    seed_run: SeedRun, podium: Podium, home: Path
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(seed_run.warehouse, home / "warehouse.duckdb")
    task = next(t for t in seed_data()["tasks"] if t["task_key"] == "drift")
    task = {**task, "depends_on": []}
    task["drift_check_task"]["current"] = {
        "path": seed_run.values["build_features"]["features_path"]}

    run = run_job(podium, job([task], EXAMPLES))

    assert results(run) == {"drift": "SUCCESS"}
    values = tasks_by_key(run)["drift"]["task_values"]
    assert values["drift_detected"] is False and values["baseline_created"] is False
    assert values["max_psi"] == 0.0
    report = get_output(podium, run["run_id"], "drift")["drift_output"]["columns"]
    assert [c["column"] for c in report] == task["drift_check_task"]["columns"]


def test_train_saves_a_model_well_above_chance(
    seed_run: SeedRun, trained: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    proc, values = trained
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((seed_run.artifacts / "metrics.json").read_text())
    assert values["auc"] == metrics["auc"] > 0.7
    assert values["model_path"] == str(seed_run.artifacts / "model.pkl")
    assert (
        metrics["train_rows"] + metrics["test_rows"]
        == seed_run.values["persist_features"]["row_count"]
    )
    assert set(metrics["features"]) >= {"device", "campaign", "reached_cart", "dwell_total"}
    assert not set(metrics["features"]) & {"session_id", "user_id", "start", "converted"}
    with open(values["model_path"], "rb") as src:
        model = pickle.load(src)
    features = pd.read_parquet(seed_run.values["build_features"]["features_path"])
    scores = model.predict_proba(features[metrics["features"]].to_numpy(dtype=object))[:, 1]
    assert scores.min() >= 0 and scores.max() <= 1
    assert "test ROC AUC" in proc.stdout


def test_train_fails_when_the_table_is_not_what_persist_published(
    seed_run: SeedRun, tmp_path: Path
) -> None:
    features = seed_run.values["build_features"]["features_path"]
    rows = seed_run.values["persist_features"]["row_count"] + 1
    argv = ["seed/train.py", "--features", features, "--expect-rows", str(rows)]

    proc, values = run_script(argv, tmp_path)

    assert proc.returncode != 0
    assert f"expected {rows}" in proc.stderr
    assert values == {}


# --- the JAR example -----------------------------------------------------------------


def test_jar_example_builds_and_runs_its_jar(podium: Podium) -> None:
    if not all(shutil.which(tool) for tool in ("java", "javac", "jar")):
        missing("java", "java, javac and jar are not all on PATH")

    run = run_job(podium, load_job(EXAMPLES / "jar_job.yaml"), top="3")

    assert results(run) == {"build_jar": "SUCCESS", "word_count": "SUCCESS"}
    tasks = tasks_by_key(run)
    jar = Path(tasks["build_jar"]["task_values"]["jar"])
    assert jar.is_file() and jar.parent.parent.name == str(run["run_id"])
    log = Path(tasks["word_count"]["attempts"][0]["log_path"]).read_text()
    lines = [line.split(" | ", 1)[1] for line in log.splitlines()]
    assert lines == ["words: 56", "distinct: 31", "a\t7", "of\t5", "the\t5"]
    assert not (EXAMPLES / "jar" / "build").exists()  # the source tree stays clean
