"""Run each task of the seed pipeline for real, in order, under Podium's task contract.

A small stand-in for the engine reads ``examples/seed_pipeline.yaml``, resolves its
``{{...}}`` references and runs each task as a subprocess with the documented environment
(function tasks through a worker that calls ``module:callable``, as the engine's does).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from podium.spec.models import JobSpec, Task

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SIZE = 2000
RUN_ID = "4242"
_REFERENCE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
# What the engine's function worker does: call module:callable, keep its JSON return value.
_WORKER = """
import importlib, json, sys
from podium import task_values
call = json.loads(sys.argv[1])
module, name = call["function"].split(":")
result = getattr(importlib.import_module(module), name)(*call["args"], **call["kwargs"])
if result is not None:
    task_values.set("returned", result)
"""


def load_spec() -> JobSpec:
    return JobSpec.model_validate(yaml.safe_load((EXAMPLES / "seed_pipeline.yaml").read_text()))


@dataclass
class SeedRun:
    """One run's folders, task values and logs; ``run(task)`` executes one task."""

    root: Path
    params: dict[str, str]
    artifacts: Path = Path()
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.artifacts == Path():
            self.artifacts = self.root / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)

    def run_all(self, tasks: Iterable[Task]) -> None:
        """Run tasks wave by wave, each wave's tasks side by side, as the engine would."""
        pending = list(tasks)
        with ThreadPoolExecutor(max_workers=4) as pool:
            while pending:
                wave = [t for t in pending if set(t.upstream_keys) <= set(self.values)]
                assert wave, f"no runnable task among {[t.task_key for t in pending]}"
                list(pool.map(self.run, wave))
                pending = [t for t in pending if t not in wave]

    def resolve(self, obj: Any) -> Any:
        if isinstance(obj, list):
            return [self.resolve(item) for item in obj]
        if isinstance(obj, dict):
            return {key: self.resolve(value) for key, value in obj.items()}
        if isinstance(obj, str):
            return _REFERENCE.sub(lambda m: self._value(m.group(1)), obj)
        return obj

    def _value(self, expr: str) -> str:
        if expr == "run.id":
            return RUN_ID
        if expr.startswith("job.parameters."):
            return self.params[expr.removeprefix("job.parameters.")]
        task_key, kind, name = expr.removeprefix("tasks.").split(".")
        assert kind == "values", expr
        value = self.values[task_key][name]
        return value if isinstance(value, str) else json.dumps(value)

    def run(self, task: Task, *, expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
        key = task.task_key
        values_in = self.root / f"{key}.values.json"
        values_in.write_text(json.dumps(self.values))
        values_out = self.root / f"{key}.values.jsonl"
        values_out.unlink(missing_ok=True)
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLES), os.getenv("PYTHONPATH")])),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONWARNINGS": "error",
            "PODIUM_ARTIFACTS_DIR": str(self.artifacts),
            "PODIUM_RUN_ID": RUN_ID,
            "PODIUM_JOB_ID": "7",
            "PODIUM_TASK_KEY": key,
            "PODIUM_ATTEMPT_NUMBER": "0",
            "PODIUM_TASK_VALUES_IN": str(values_in),
            "PODIUM_TASK_VALUES_OUT": str(values_out),
        }
        if task.python_function_task:
            fn = task.python_function_task
            call = {
                "function": fn.function,
                "args": self.resolve(fn.parameters),
                "kwargs": self.resolve(fn.named_parameters),
            }
            argv = [sys.executable, "-c", _WORKER, json.dumps(call)]
        elif task.spark_python_task:
            py = task.spark_python_task
            argv = [sys.executable, py.python_file, *self.resolve(py.parameters)]
        else:
            assert task.shell_task is not None, f"{key}: unexpected task type {task.task_type}"
            argv = self.resolve(task.shell_task.command)
            env.update(task.shell_task.env)
        proc = subprocess.run(
            argv, cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        self.logs[key] = proc.stdout + proc.stderr
        if expect_ok:
            assert proc.returncode == 0, f"{key} failed:\n{self.logs[key]}"
        task_values: dict[str, Any] = {}
        if values_out.exists():
            for line in values_out.read_text().splitlines():
                record = json.loads(line)
                task_values[record["key"]] = record["value"]
        self.values[key] = task_values
        return proc


@pytest.fixture(scope="module")
def spec() -> JobSpec:
    return load_spec()


@pytest.fixture(scope="module")
def seed_run(spec: JobSpec, tmp_path_factory: pytest.TempPathFactory) -> SeedRun:
    """The whole pipeline, run once; tests below only read what it produced."""
    run = SeedRun(tmp_path_factory.mktemp("seed"), {"run_date": "2026-01-01", "size": str(SIZE)})
    run.run_all(spec.tasks)
    return run


def test_spec_uses_three_task_types_in_the_expected_graph(spec: JobSpec) -> None:
    graph = {task.task_key: task.upstream_keys for task in spec.tasks}
    assert graph == {
        "clicks_ingest": [],
        "orders_ingest": [],
        "match": ["clicks_ingest", "orders_ingest"],
        "build_features": ["match"],
        "persist_features": ["build_features"],
        "train": ["persist_features"],
    }
    assert {task.task_type for task in spec.tasks} == {
        "python_function_task",
        "spark_python_task",
        "shell_task",
    }
    assert all(task.timeout_seconds > 0 for task in spec.tasks)
    assert spec.parameter_defaults() == {"run_date": "2026-01-01", "size": "20000"}


def test_python_form_builds_the_same_spec() -> None:
    # In a subprocess: loading the .py form imports `seed` and edits sys.path.
    check = (
        "from podium.spec import load_job; "
        "a = load_job('seed_pipeline.py'); b = load_job('seed_pipeline.yaml'); "
        "assert a.spec == b.spec, (a.spec, b.spec); assert not a.warnings + b.warnings"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "error"}
    proc = subprocess.run(
        [sys.executable, "-c", check],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_ingest_writes_clicks_and_orders(seed_run: SeedRun) -> None:
    clicks = pd.read_parquet(seed_run.artifacts / "clicks.parquet")
    orders = pd.read_parquet(seed_run.artifacts / "orders.parquet")
    assert seed_run.values["clicks_ingest"] == {
        "rows": len(clicks),
        "returned": str(seed_run.artifacts / "clicks.parquet"),
    }
    assert seed_run.values["orders_ingest"]["rows"] == len(orders)
    assert clicks["click_id"].nunique() == SIZE
    assert len(clicks) == SIZE + SIZE // 100  # at-least-once delivery duplicates a few
    assert 0.05 * SIZE < len(orders) < 0.15 * SIZE
    assert orders["user_id"].isin(clicks["user_id"]).mean() > 0.9  # a few are untracked
    assert clicks["ts"].dt.date.astype(str).eq("2026-01-01").all()
    assert "clicks_ingest: wrote" in seed_run.logs["clicks_ingest"]


def test_ingest_is_deterministic_per_run_date(
    spec: JobSpec, seed_run: SeedRun, tmp_path: Path
) -> None:
    ingest = [spec.task("clicks_ingest"), spec.task("orders_ingest")]
    same = SeedRun(tmp_path / "same", {"run_date": "2026-01-01", "size": str(SIZE)})
    other = SeedRun(tmp_path / "other", {"run_date": "2026-01-02", "size": str(SIZE)})
    with ThreadPoolExecutor() as pool:
        list(pool.map(lambda run: run.run_all(ingest), [same, other]))

    for name in ("clicks.parquet", "orders.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(same.artifacts / name), pd.read_parquet(seed_run.artifacts / name)
        )
    clicks = pd.read_parquet(same.artifacts / "clicks.parquet")
    orders = pd.read_parquet(same.artifacts / "orders.parquet")
    other_clicks = pd.read_parquet(other.artifacts / "clicks.parquet")
    other_orders = pd.read_parquet(other.artifacts / "orders.parquet")
    assert other_clicks["ts"].min() >= pd.Timestamp("2026-01-02", tz="UTC")
    assert not other_clicks["user_id"].equals(clicks["user_id"])
    assert not other_orders["amount"].equals(orders["amount"])


def test_match_dedupes_filters_and_attributes_orders(seed_run: SeedRun) -> None:
    matched = pd.read_parquet(seed_run.artifacts / "matched.parquet")
    clicks = pd.read_parquet(seed_run.artifacts / "clicks.parquet")
    orders = pd.read_parquet(seed_run.artifacts / "orders.parquet").set_index("order_id")
    values = seed_run.values["match"]
    assert values["matched_rows"] == len(matched)
    assert values["conversions"] == int(matched["converted"].sum())
    humans = clicks[~clicks["user_agent"].str.contains("bot")]
    assert len(matched) == humans["click_id"].nunique() < len(clicks)
    assert matched["click_id"].is_unique
    assert 0 < values["conversions"] < len(matched)

    hits = matched[matched["converted"]]
    assert (orders.loc[hits["order_id"], "user_id"].to_numpy() == hits["user_id"]).all()
    lag = hits["order_ts"] - hits["ts"]
    assert lag.between(pd.Timedelta(0), pd.Timedelta(hours=1)).all()
    assert matched.loc[~matched["converted"], "order_id"].isna().all()


def test_build_features_one_row_per_session(seed_run: SeedRun) -> None:
    features = pd.read_parquet(seed_run.artifacts / "features.parquet")
    matched = pd.read_parquet(seed_run.artifacts / "matched.parquet")
    values = seed_run.values["build_features"]
    assert values["sessions"] == len(features) == matched["session_id"].nunique()
    assert values["returned"]["sessions"] == len(features)
    assert 0.1 < values["returned"]["positive_rate"] < 0.6
    assert features["session_id"].is_unique
    assert features["clicks"].sum() == len(matched)
    assert not features.isna().any().any()


def test_persist_features_publishes_the_feature_table(seed_run: SeedRun) -> None:
    path = seed_run.artifacts / "features" / "feature_table.parquet"
    table = pq.read_table(path)
    assert seed_run.values["persist_features"] == {
        "feature_rows": table.num_rows,
        "feature_table": str(path),
    }
    assert table.num_rows == seed_run.values["build_features"]["sessions"]
    meta = json.loads(table.schema.metadata[b"podium.seed"])
    assert meta == {"feature_version": "1", "run_date": "2026-01-01", "run_id": RUN_ID}
    assert sorted(p.name for p in path.parent.iterdir()) == ["feature_table.parquet"]


def test_train_saves_a_model_well_above_chance(seed_run: SeedRun) -> None:
    values = seed_run.values["train"]
    metrics = json.loads((seed_run.artifacts / "metrics.json").read_text())
    assert values["auc"] == metrics["auc"] > 0.7
    assert values["model_path"] == str(seed_run.artifacts / "model.pkl")
    feature_rows = seed_run.values["persist_features"]["feature_rows"]
    assert metrics["train_rows"] + metrics["test_rows"] == feature_rows
    with open(values["model_path"], "rb") as src:
        model = pickle.load(src)
    table = pd.read_parquet(seed_run.artifacts / "features" / "feature_table.parquet")
    scores = model.predict_proba(table[metrics["features"]])[:, 1]
    assert scores.min() >= 0 and scores.max() <= 1
    assert "test ROC AUC" in seed_run.logs["train"]


def test_train_fails_when_the_table_does_not_match_what_persist_reported(
    spec: JobSpec, seed_run: SeedRun, tmp_path: Path
) -> None:
    values = copy.deepcopy(seed_run.values)
    values["persist_features"]["feature_rows"] += 1
    run = SeedRun(tmp_path, seed_run.params, artifacts=seed_run.artifacts, values=values)
    proc = run.run(spec.task("train"), expect_ok=False)
    assert proc.returncode != 0
    assert "feature table has" in proc.stderr
    assert "auc" not in run.values["train"]
