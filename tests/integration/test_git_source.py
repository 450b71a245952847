"""Tasks whose files come from the job's ``git_source``: a real git repository on disk,
checked out where the task runs (by the engine's own processes, and by a Dask worker),
at a branch (per run) or a pinned commit (shared); a bad ref fails the task, saying why."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from podium.errors import InvalidJobSpec
from podium.services import Podium
from tests.integration.helpers import job, results, run_job, tasks_by_key
from tests.integration.test_dask_executor import Cluster, cluster, dask_podium, drive

__all__ = ["cluster", "dask_podium"]  # the fixtures this module uses


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with ``jobs/report.py`` and ``jobs/count.sql`` on branch main, two
    commits: the first prints "v1", the second "v2"."""
    path = tmp_path / "repo"
    (path / "jobs").mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch", "main")
    git(path, "config", "user.email", "dev@podium.invalid")
    git(path, "config", "user.name", "Podium Dev")
    for version in ("v1", "v2"):
        (path / "jobs" / "report.py").write_text(
            "import os, sys\n"
            f"print('report {version} in', os.getcwd(), sys.argv[1:])\n")
        (path / "jobs" / "count.sql").write_text(f"SELECT '{version}' AS version, 42 AS n;\n")
        git(path, "add", ".")
        git(path, "commit", "--quiet", "-m", version)
    return path


def tasks() -> list[dict[str, Any]]:
    return [
        {"task_key": "report", "spark_python_task": {"python_file": "jobs/report.py",
                                                     "parameters": ["--day", "1"]}},
        {"task_key": "count", "sql_task": {"file": {"path": "jobs/count.sql", "source": "GIT"}}},
        {"task_key": "local", "spark_python_task": {"python_file": "local.py",
                                                    "source": "WORKSPACE"}},
    ]


def log(podium: Podium, run: dict[str, Any], key: str) -> str:
    return Path(tasks_by_key(run)[key]["attempts"][-1]["log_path"]).read_text()


def test_a_branch_and_a_pinned_commit(podium: Podium, repo: Path, tmp_path: Path) -> None:
    (tmp_path / "local.py").write_text("print('from the workspace')\n")
    first_commit = git(repo, "rev-list", "--max-parents=0", "HEAD")
    branch = run_job(podium, job(tasks(), tmp_path, name="from_git",
                                 git_source={"git_url": str(repo), "git_provider": "gitHub",
                                             "git_branch": "main"}))
    assert results(branch) == dict.fromkeys(["report", "count", "local"], "SUCCESS")
    report = log(podium, branch, "report")
    assert "report v2 in" in report and "['--day', '1']" in report
    assert "podium: files from git branch main (commit " in report
    assert "from the workspace" in log(podium, branch, "local")
    checkouts = sorted(p.name for p in (podium.settings.home / "git").iterdir() if p.is_dir())
    assert len(checkouts) == 1 and checkouts[0].endswith(f"-run{branch['run_id']}")

    pinned = run_job(podium, job(tasks(), tmp_path, name="pinned",
                                 git_source={"git_url": str(repo), "git_commit": first_commit}))
    assert results(pinned)["report"] == "SUCCESS"
    assert "report v1 in" in log(podium, pinned, "report")
    again = run_job(podium, job(tasks(), tmp_path, name="pinned",
                                git_source={"git_url": str(repo), "git_commit": first_commit}))
    assert "report v1 in" in log(podium, again, "report")
    shared = [p for p in (podium.settings.home / "git").iterdir()
              if p.is_dir() and "-run" not in p.name]
    assert len(shared) == 1  # one checkout of the commit for both runs


def test_a_bad_ref_fails_the_task_and_says_why(podium: Podium, repo: Path,
                                              tmp_path: Path) -> None:
    run = run_job(podium, job(tasks()[:1], tmp_path, name="bad_ref",
                              git_source={"git_url": str(repo), "git_branch": "nope"}))
    assert results(run) == {"report": "FAILED"}
    message = tasks_by_key(run)["report"]["state"]["state_message"]
    assert "podium: git clone failed" in message and "nope" in message


def test_source_git_needs_a_git_source_and_one_ref(tmp_path: Path) -> None:
    with pytest.raises(InvalidJobSpec) as error:
        job(tasks()[1:2], tmp_path)
    assert "tasks[0].sql_task.file.source: source GIT needs the job's git_source" in str(
        error.value)
    with pytest.raises(InvalidJobSpec) as error:
        job(tasks()[:1], tmp_path, git_source={"git_url": "x", "git_branch": "main",
                                               "git_tag": "v1"})
    assert "exactly one of git_branch, git_tag and git_commit" in str(error.value)


@pytest.mark.dask
def test_a_dask_worker_checks_out_the_repository(dask_podium: Podium, cluster: Cluster,
                                                 repo: Path, tmp_path: Path) -> None:
    driven = drive(dask_podium, tasks()[:1], tmp_path, name="git_on_dask",
                   git_source={"git_url": str(repo), "git_branch": "main"})
    run = driven.join(120)
    assert results(run) == {"report": "SUCCESS"}
    text = log(dask_podium, run, "report")
    assert "started on Dask worker" in text and "report v2 in" in text
