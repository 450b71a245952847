"""``podium worker``: start one Dask worker for the dask executor (a thin wrapper over
``dask worker`` that turns pools into worker resources; docs/cluster.md)."""

from __future__ import annotations

import click


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--scheduler", required=True, metavar="ADDRESS",
              help="The Dask scheduler to join, e.g. tcp://10.0.0.5:8786")
@click.option("--pool", "pools", multiple=True, metavar="NAME[=N]",
              help="A worker pool this worker serves: tasks with `pool: NAME` (or "
              "`job_cluster_key: NAME`) run only on workers of their pool. It runs up to N "
              "of them at once  [default N: --nthreads]. Repeatable.")
@click.option("--resources", default="", metavar='"NAME=N ..."',
              help="Further Dask worker resources, passed on as they are")
@click.option("--nthreads", type=int, default=None,
              help="How many attempts the worker runs at once  [default: one per CPU]")
@click.argument("dask_args", nargs=-1, type=click.UNPROCESSED)
def worker(scheduler: str, pools: tuple[str, ...], resources: str, nthreads: int | None,
           dask_args: tuple[str, ...]) -> None:
    """Start a Dask worker that runs Podium task attempts.

    It is `dask worker` (give any of its options after `--`, e.g. `-- --no-nanny`),
    run by this Python, so it can import Podium and the jobs' own modules; the task
    files must be on a path shared with the server (docs/cluster.md).
    """
    import os
    import sys

    from podium.executors.dask import pool_resource

    slots = nthreads or os.cpu_count() or 1
    wanted = resources.replace(",", " ").split()
    for pool in pools:
        name, _, count = pool.partition("=")
        if not name or (count and not count.isdigit()):
            raise click.BadParameter(f"expected NAME or NAME=N, got {pool!r}",
                                     param_hint="--pool")
        wanted.append(f"{pool_resource(name)}={count or slots}")
    argv = [sys.executable, "-m", "distributed.cli.dask_worker", scheduler]
    if wanted:
        argv += ["--resources", " ".join(wanted)]
    if nthreads:
        argv += ["--nthreads", str(nthreads)]
    argv += list(dask_args)
    click.echo(f"podium worker: {' '.join(argv[1:])}", err=True)
    # Replaced, not wrapped: signals (Ctrl-C, a supervisor's SIGTERM) reach the worker.
    os.execv(sys.executable, argv)
