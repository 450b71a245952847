"""The seed pipeline defined with the Python SDK: the same job as ``seed_pipeline.yaml``.

Run it with ``podium run examples/seed_pipeline.py --param size=50000``. The SDK has
helpers for Python files and conditions; the SQL, notebook and drift tasks are added as
dicts in the job-spec shape (``Job.add_task``).
"""

from __future__ import annotations

from podium.sdk import Job

RETRY = {"max_retries": 2, "min_retry_interval_millis": 1000}
# What seed/train.py imports, pinned (its own environment, independent of Podium's).
TRAIN_ENVIRONMENT = {
    "environment_key": "train",
    "spec": {"dependencies": ["numpy==2.4.6", "pyarrow==26.0.1", "scikit-learn==1.9.1"]},
}

# The model's features, compared with the reference by the drift task.
DRIFT_COLUMNS = [
    "device",
    "campaign",
    "clicks",
    "distinct_pages",
    "product_views",
    "reached_cart",
    "dwell_mean",
    "duration_seconds",
    "hour",
    "user_sessions",
]


def ingest(table: str) -> list[str]:
    """The command line of an ingest task."""
    return [
        table,
        "--run-date",
        "{{job.parameters.run_date}}",
        "--size",
        "{{job.parameters.size}}",
    ]


job = Job(
    "seed_pipeline",
    parameters={
        "run_date": "2026-01-01",
        "size": "20000",
        "min_rows": "1000",
        "retrain": "auto",  # auto: train only when the features drifted; always: anyway
    },
    tags={"team": "growth", "example": "seed"},
    environments=[TRAIN_ENVIRONMENT],
)
job.python_file_task(
    "clicks_ingest", "seed/ingest.py", parameters=ingest("clicks"), timeout_seconds=300, **RETRY
)
job.python_file_task(
    "orders_ingest", "seed/ingest.py", parameters=ingest("orders"), timeout_seconds=300, **RETRY
)
job.add_task(
    {
        "task_key": "match",
        "depends_on": ["clicks_ingest", "orders_ingest"],
        "sql_task": {
            "warehouse_id": "default",
            "file": {"path": "seed/match.sql"},
            "parameters": {
                "clicks": "{{tasks.clicks_ingest.values.path}}",
                "orders": "{{tasks.orders_ingest.values.path}}",
                "run_date": "{{job.parameters.run_date}}",
                "run_id": "{{run.id}}",
                "window_minutes": "60",
            },
        },
        "timeout_seconds": 600,
    }
)
job.condition_task(
    "enough_rows",
    "{{tasks.match.values.row_count}}",
    "GREATER_THAN_OR_EQUAL",
    "{{job.parameters.min_rows}}",
    depends_on=["match"],
)
job.add_task(
    {
        "task_key": "build_features",
        "depends_on": [("enough_rows", "true")],
        "notebook_task": {
            "notebook_path": "seed/build_features",
            "base_parameters": {
                "matched_rows": "{{tasks.match.values.row_count}}",
                "warehouse": "default",
                "out": "features.parquet",
            },
        },
        "timeout_seconds": 600,
    }
)
job.add_task(
    {
        "task_key": "persist_features",
        "depends_on": ["build_features"],
        "sql_task": {
            "warehouse_id": "default",
            "file": {"path": "seed/persist_features.sql"},
            "parameters": {
                "features": "{{tasks.build_features.values.features_path}}",
                "run_date": "{{job.parameters.run_date}}",
                "run_id": "{{run.id}}",
            },
        },
        "timeout_seconds": 300,
    }
)
# The features against the reference features (a warehouse table). The first run finds
# no reference: BASELINE saves these features as the reference and reports drift, so that
# a first model is trained.
job.add_task(
    {
        "task_key": "drift",
        "depends_on": ["persist_features"],
        "drift_check_task": {
            "current": {"path": "{{tasks.build_features.values.features_path}}"},
            "reference": {"table": "seed.features_reference", "warehouse_id": "default"},
            "columns": DRIFT_COLUMNS,
            "psi_threshold": 0.2,
            "ks_p_value": 0.001,  # strict: ten columns at 0.05 would drift by chance
            "bins": 10,
            "missing_reference": "BASELINE",
        },
        "timeout_seconds": 300,
    }
)
job.condition_task(
    "drift_found",
    "{{tasks.drift.values.drift_detected}}",
    "EQUAL_TO",
    "true",
    depends_on=["drift"],
)
job.condition_task(
    "retrain_requested",
    "{{job.parameters.retrain}}",
    "EQUAL_TO",
    "always",
    depends_on=["persist_features"],
)
# Either branch is enough: a false condition excludes its branch only.
job.python_file_task(
    "train",
    "seed/train.py",
    parameters=[
        "--features",
        "{{tasks.build_features.values.features_path}}",
        "--expect-rows",
        "{{tasks.persist_features.values.row_count}}",
        "--min-auc",
        "0.6",
    ],
    depends_on=[("drift_found", "true"), ("retrain_requested", "true")],
    run_if="AT_LEAST_ONE_SUCCESS",
    environment_key="train",
    timeout_seconds=900,
)
