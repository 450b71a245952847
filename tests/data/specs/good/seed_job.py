"""The seed pipeline as a Python job definition: the same job as seed_pipeline.yaml."""

from __future__ import annotations

from podium.sdk import Job

job = Job(
    "seed_pipeline",
    description="Ingest clicks and orders, match them, build features, train a model.",
    parameters={"run_date": "2026-01-01", "size": 200},
    tags={"team": "ml"},
    max_concurrent_runs=2,
    schedule={"quartz_cron_expression": "0 0 6 * * ?", "timezone_id": "UTC"},
    email_notifications={"on_failure": ["ml-team@example.com"]},
)


@job.task(
    max_retries=1,
    named_parameters={
        "run_date": "{{job.parameters.run_date}}",
        "size": "{{ job.parameters.size }}",
    },
)
def clicks_ingest(run_date: str, size: str) -> str:
    return f"{run_date}:{size}"


@job.task(max_retries=1, named_parameters={"run_date": "{{job.parameters.run_date}}"})
def orders_ingest(run_date: str) -> str:
    return run_date


job.python_file_task(
    "match",
    "match.py",
    parameters=["--run-date", "{{job.parameters.run_date}}", "--run-id", "{{job.run_id}}"],
    depends_on=[clicks_ingest, orders_ingest],
)
job.condition_task(
    "enough_rows", "{{tasks.match.values.rows}}", "GREATER_THAN", "0", depends_on=["match"]
)
job.shell_task(
    "build_features",
    ["python", "features.py", "--clicks", "{{tasks.clicks_ingest.values.rows}}"],
    env={"FEATURES_DAY": "{{job.start_time.iso_date}}"},
    depends_on=[("enough_rows", "true")],
)
job.python_file_task(
    "persist_features", "persist.py", depends_on=["build_features"], timeout_seconds=600
)
job.shell_task(
    "train",
    ["python", "train.py", "{{task.run_id}}"],
    depends_on=["persist_features"],
    run_if="ALL_DONE",
    retry_on_timeout=True,
    environment_variables={"TRAIN_SEED": "7"},
)
