"""The seed pipeline defined with the Python SDK: the same job as ``seed_pipeline.yaml``.

Run it with ``podium run examples/seed_pipeline.py --param size=50000``.
"""

from __future__ import annotations

from seed import features, ingest

from podium.sdk import Job

DATE_AND_SIZE = {"run_date": "{{job.parameters.run_date}}", "size": "{{job.parameters.size}}"}
RETRY = {"max_retries": 2, "min_retry_interval_millis": 1000}

job = Job(
    "seed_pipeline",
    parameters={"run_date": "2026-01-01", "size": "20000"},
    tags={"team": "growth", "example": "seed"},
)
job.function_task(
    "clicks_ingest",
    ingest.clicks_ingest,
    named_parameters=DATE_AND_SIZE,
    timeout_seconds=300,
    **RETRY,
)
job.function_task(
    "orders_ingest",
    ingest.orders_ingest,
    named_parameters=DATE_AND_SIZE,
    timeout_seconds=300,
    **RETRY,
)
job.python_file_task(
    "match",
    "seed/match.py",
    parameters=["--window-hours", "1", "--out", "matched.parquet"],
    depends_on=["clicks_ingest", "orders_ingest"],
    timeout_seconds=600,
)
job.function_task(
    "build_features",
    features.build_features,
    named_parameters={"matched": "matched.parquet", "out": "features.parquet"},
    depends_on=["match"],
    timeout_seconds=600,
)
job.shell_task(
    "persist_features",
    [
        "python",
        "-m",
        "seed.persist",
        "--in",
        "features.parquet",
        "--out",
        "features/feature_table.parquet",
        "--run-date",
        "{{job.parameters.run_date}}",
        "--run-id",
        "{{run.id}}",
    ],
    depends_on=["build_features"],
    timeout_seconds=300,
)
job.python_file_task(
    "train",
    "seed/train.py",
    parameters=[
        "--features",
        "features/feature_table.parquet",
        "--expect-rows",
        "{{tasks.persist_features.values.feature_rows}}",
        "--min-auc",
        "0.6",
    ],
    depends_on=["persist_features"],
    timeout_seconds=900,
)
