"""The benchmarks still run: each workload scaled down, figures present, no timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_workload(*args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.workload", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("name", "size", "tasks"),
    [("chain-100", 5, 5), ("fanout-1000", 10, 12), ("proc-100", 4, 4), ("fanout-10000", 6, 8)],
)
def test_workload_runs_and_reports(name: str, size: int, tasks: int) -> None:
    out = run_workload(name, "--size", str(size))
    assert out["result"] == "SUCCESS"
    assert out["tasks"] == tasks
    for figure in ("wall_s", "bare_s", "engine_cpu_s", "cpu_ms_per_task", "peak_rss_mb"):
        value = out[figure]
        assert isinstance(value, float) and value > 0, (figure, value)


def test_report_renders_every_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.report import line, table

    out = run_workload("chain-100", "--size", "3")
    assert line(out).startswith("chain-100: 3 tasks SUCCESS")
    assert table([out]).row_count == 1


@pytest.mark.slow
def test_schedules_benchmark_runs_and_reports() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.schedules", "--samples", "2", "--jobs", "5",
         "--engine-jobs", "3", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["latency"]["to_first_task_start"]["n"] >= 2
    assert out["scheduler_alone"]["to_run_recorded"]["n"] == 5
    assert out["with_engine"]["to_first_task_start"]["n"] == 3


def test_ui_benchmark_times_every_page() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ui", "--tasks", "12", "--runs", "30", "--requests", "2",
         "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    pages = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [p["page"] for p in pages] == ["/jobs", "/jobs/1", "/runs", "/runs/31"]
    for p in pages:
        assert p["requests"] == 2 and p["median_ms"] > 0 and p["kb"] > 0, p
