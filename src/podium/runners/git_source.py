"""Tasks whose files come from a job's ``git_source``: the task's process is wrapped so
that, where it runs (this machine, or a Dask worker), it first makes or reuses a
checkout of the repository at the job's ref, then starts the task in it.

A checkout lives in ``$PODIUM_HOME/git/<key>``: one per commit, shared by every run that
asks for it; one per run for a branch or a tag (they move, and the tasks of one run
must see the same files). Checkouts are made under a lock (one clone when tasks start
together), in a temporary folder renamed into place, so a half-made one is never used.
``python -m podium.runners.git_source --url URL --kind commit|tag|branch --ref REF
--into DIR --cwd DIR -- ARGV...`` is the wrapper; it needs ``git`` on the PATH.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from podium.runners.base import ProcessSpec

if TYPE_CHECKING:
    from podium.spec import GitSource, Task

MODULE = "podium.runners.git_source"


def uses_git(task: Task, git_source: GitSource | None) -> bool:
    """Whether the task's files come from the job's repository: its ``source`` says GIT,
    or says nothing while the job has a git_source (as in the Jobs API)."""
    if git_source is None:
        return False
    if task.spark_python_task is not None:
        source = task.spark_python_task.source
    elif task.notebook_task is not None:
        source = task.notebook_task.source
    elif task.sql_task is not None and task.sql_task.file is not None:
        source = task.sql_task.file.source
    else:
        return False
    return source in (None, "GIT")


def checkout_dir(home: Path, git_source: GitSource, run_id: int) -> Path:
    """Where the checkout for ``git_source`` is (per run for a branch or a tag)."""
    kind, ref = git_source.ref
    key = hashlib.sha256(f"{git_source.git_url}\n{kind}:{ref}".encode()).hexdigest()[:16]
    return home / "git" / (key if kind == "commit" else f"{key}-run{run_id}")


def wrap(process: ProcessSpec, git_source: GitSource, checkout: Path) -> ProcessSpec:
    """``process`` (built with its files in ``checkout``), started once the checkout is
    there. The wrapper starts in the checkout's parent (which exists or is made): the
    task's own folder may not exist before the checkout."""
    kind, ref = git_source.ref
    argv = [sys.executable, "-m", MODULE, "--url", git_source.git_url, "--kind", kind,
            "--ref", ref, "--into", str(checkout), "--cwd", str(process.cwd), "--",
            *process.argv]
    checkout.parent.mkdir(parents=True, exist_ok=True)
    return replace(process, argv=argv, cwd=checkout.parent, function_call=None)


def ensure_checkout(url: str, kind: str, ref: str, into: Path) -> str:
    """Make the checkout (unless there); the commit it is at."""
    into.parent.mkdir(parents=True, exist_ok=True)
    with open(into.parent / f"{into.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (into / ".git").exists():
            scratch = into.parent / f"{into.name}.partial"
            shutil.rmtree(scratch, ignore_errors=True)
            clone = ["git", "clone", "--quiet"]
            if kind != "commit":  # a branch or a tag: only its tip is needed
                clone += ["--depth", "1", "--branch", ref]
            _git([*clone, url, str(scratch)])
            if kind == "commit":
                _git(["git", "-C", str(scratch), "checkout", "--quiet", "--detach", ref])
            scratch.rename(into)
        return _git(["git", "-C", str(into), "rev-parse", "HEAD"]).strip()


def _git(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit("podium: git is not installed on this machine: install git "
                         "to run tasks from a git_source") from None
    if done.returncode != 0:
        # The URL may hold a token: say what failed without echoing the command.
        said = [ln for ln in done.stderr.splitlines() if ln.strip()] or ["no message"]
        raise SystemExit(f"podium: git {argv[1] if argv[1] != '-C' else argv[3]} failed: "
                         f"{said[-1].strip()[:500]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    for name in ("--url", "--kind", "--ref", "--into", "--cwd"):
        parser.add_argument(name, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    commit = ensure_checkout(args.url, args.kind, args.ref, Path(args.into))
    print(f"podium: files from git {args.kind} {args.ref} (commit {commit[:12]}) in "
          f"{args.into}", file=sys.stderr, flush=True)
    os.chdir(args.cwd)
    os.execvp(command[0], command)


if __name__ == "__main__":
    raise SystemExit(main())
