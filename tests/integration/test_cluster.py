"""The seed pipeline, unchanged, on the whole cluster setup of issue #7: its metadata on
PostgreSQL, two ``podium server`` processes sharing it, and every attempt run by one of
two Dask workers on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.server import create_job, run_now
from tests.integration.test_dask_executor import Cluster, cluster
from tests.integration.test_several_servers import database_url, two_servers, wait_until_ended

__all__ = ["cluster", "database_url"]  # the fixtures this module uses

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.postgres
@pytest.mark.dask
@pytest.mark.slow
def test_the_seed_pipeline_runs_on_postgresql_two_servers_and_two_dask_workers(
        home: Path, database_url: str, cluster: Cluster) -> None:
    spec = yaml.safe_load((EXAMPLES / "seed_pipeline.yaml").read_text())
    env = {"PODIUM_EXECUTOR": "dask", "PODIUM_DASK_SCHEDULER": cluster.address}
    with two_servers(home, EXAMPLES, database_url, **env) as servers:
        first, second = (s.client() for s in servers)
        job_id = create_job(first, spec.pop("name"), spec.pop("tasks"), **spec)
        run = wait_until_ended(second, run_now(second, job_id), timeout=600)
        first.close()
        second.close()
    assert run["state"]["result_state"] == "SUCCESS", json.dumps(run["state"])
    ran = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
    assert ran["train"] == "SUCCESS", ran
    # Every attempt that ran a process ran on a Dask worker, and says which.
    logs = [Path(a["log_path"]) for t in run["tasks"] for a in t.get("attempts", [])
            if a.get("log_path") and Path(a["log_path"]).exists()]
    assert logs and all("started on Dask worker tcp://127.0.0.1:" in p.read_text()
                        for p in logs), [p.name for p in logs]
