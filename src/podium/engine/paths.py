"""Where a run keeps its files under PODIUM_HOME: attempt logs, work folders, artifacts."""

from __future__ import annotations

from pathlib import Path

# Files of a run sit flat in one folder per run: a folder per task or attempt would cost
# a mkdir per task, a noticeable part of the per-task overhead on some filesystems.


def log_path(home: Path, run_id: int, task_key: str, attempt_number: int) -> Path:
    """One log file per task attempt: ``logs/RUN/TASK.ATTEMPT.log``."""
    return home / "logs" / str(run_id) / f"{task_key}.{attempt_number}.log"


def work_prefix(home: Path, run_id: int, task_key: str, attempt_number: int) -> Path:
    """Where Podium's own files of an attempt go: ``work/RUN/TASK.ATTEMPT.*``
    (its pid, the task values it reads and those it sets)."""
    return home / "work" / str(run_id) / f"{task_key}.{attempt_number}"


def artifacts_dir(home: Path, run_id: int) -> Path:
    """The run's artifacts, shared by its tasks (PODIUM_ARTIFACTS_DIR)."""
    return home / "artifacts" / str(run_id)
