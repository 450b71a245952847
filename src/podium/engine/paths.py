"""Where a run keeps its files under PODIUM_HOME: attempt logs, work folders, artifacts."""

from __future__ import annotations

from pathlib import Path


def log_path(home: Path, run_id: int, task_key: str, attempt_number: int) -> Path:
    """One log file per task attempt."""
    return home / "logs" / str(run_id) / task_key / f"attempt-{attempt_number}.log"


def work_dir(home: Path, run_id: int, task_key: str, attempt_number: int) -> Path:
    """Podium's own files for an attempt (task-value files, pid file)."""
    return home / "work" / str(run_id) / task_key / str(attempt_number)


def artifacts_dir(home: Path, run_id: int) -> Path:
    """The run's artifacts, shared by its tasks (PODIUM_ARTIFACTS_DIR)."""
    return home / "artifacts" / str(run_id)
