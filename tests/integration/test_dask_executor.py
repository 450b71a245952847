"""The dask executor on a real cluster on loopback: a `dask scheduler`, a plain `dask
worker` and a `podium worker` of pool gpu, all separate processes. Jobs run through the
Engine end to end; one test SIGKILLs the worker running an attempt (after the other
cluster tests: it leaves one worker). Without distributed they skip, saying why."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.core import ResultState
from podium.engine import Engine
from podium.services import Podium, get_run, open_podium, submit_run
from podium.store import runs as q
from tests.conftest import missing, settings_for
from tests.integration.helpers import (
    job,
    pid_alive,
    podium_cli,
    results,
    tasks_by_key,
    wait_for,
)

try:
    import distributed  # noqa: F401
except ImportError:
    HAVE_DASK = False
else:
    HAVE_DASK = True

pytestmark = pytest.mark.dask
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """The scheduler and worker processes, and a client to look at them."""

    def __init__(self, address: str, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        self.address = address
        self.procs = procs

    def workers(self) -> dict[str, dict[str, Any]]:
        from distributed import Client

        with Client(self.address, timeout="20s") as client:
            info: dict[str, dict[str, Any]] = client.scheduler_info(n_workers=-1)["workers"]
            return info


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not HAVE_DASK:
        missing("dask", "distributed is not installed (pip install 'podium[dask]')")
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m"]
    commands = {
        "scheduler": [*dask, "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                      "--port", str(port), "--dashboard-address", ":0"],
        # Both serve pool "crash", so an attempt lost with one is retried on the other.
        "plain": [*dask, "distributed.cli.dask_worker", address, "--nthreads", "2",
                  "--no-nanny", "--name", "plain", "--resources", "pool-crash=1",
                  "--dashboard-address", ":0"],
        "gpu": [*dask, "podium.cli", "worker", "--scheduler", address, "--pool", "gpu=1",
                "--pool", "crash=1", "--nthreads", "2", "--", "--no-nanny", "--name", "gpu",
                "--dashboard-address", ":0"],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in commands.items():
            out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
            procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
            out.close()
            if name == "scheduler":
                wait_for(lambda: _listening(port), STARTUP_SECONDS, "the dask scheduler")
        found = Cluster(address, procs)
        wait_for(lambda: len(found.workers()) == 2, STARTUP_SECONDS, "two dask workers")
        yield found
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def dask_podium(home: Path, cluster: Cluster) -> Iterator[Podium]:
    """Podium on SQLite whose engine runs attempts on the cluster."""
    p = open_podium(settings_for(
        home, PODIUM_MAX_PARALLEL_TASKS="4", PODIUM_CANCEL_GRACE_SECONDS="2",
        PODIUM_EXECUTOR="dask", PODIUM_DASK_SCHEDULER=cluster.address,
    ))
    yield p
    p.close()


class Driven:
    """A run driven by an Engine in a thread of its own, so a test can watch it."""

    def __init__(self, podium: Podium, run_id: int) -> None:
        self.podium, self.run_id = podium, run_id
        self.result: ResultState | None = None
        self.task: asyncio.Task[Any] | None = None
        self.engine = Engine(podium.sessions, podium.settings, poll_seconds=0.1)
        self.thread = threading.Thread(target=self._drive)
        self.thread.start()

    def _drive(self) -> None:
        async def drive() -> ResultState:
            self.loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
            try:
                return await self.engine.execute(self.run_id)
            finally:
                await self.engine.close()

        with contextlib.suppress(asyncio.CancelledError):  # see stop_engine
            self.result = asyncio.run(drive())

    def stop_engine(self) -> None:
        """Stop the engine mid-run, as a server shutting down does."""
        wait_for(lambda: self.task is not None, 10, "the engine to start")
        assert self.task is not None
        self.loop.call_soon_threadsafe(self.task.cancel)

    def join(self, timeout: float = 60) -> dict[str, Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not end"
        return get_run(self.podium, self.run_id)


def drive(podium: Podium, tasks: list[dict[str, Any]], source: Path, **fields: Any) -> Driven:
    return Driven(podium, submit_run(podium, job(tasks, source, **fields), {}))


def py(code: str) -> dict[str, Any]:
    return {"shell_task": {"command": [sys.executable, "-c", code]}}


def log_of(podium: Podium, run_id: int, key: str, attempt: int = 0) -> str:
    path = podium.settings.home / "logs" / str(run_id) / f"{key}.{attempt}.log"
    return path.read_text() if path.exists() else ""


def test_runs_a_job_with_values_logs_and_failures(dask_podium: Podium, tmp_path: Path) -> None:
    driven = drive(dask_podium, [
        {"task_key": "a", **py(
            "import os; from podium import task_values as v; v.set('n', 7);"
            "print('hello from', os.getpid()); print('on', os.environ['PODIUM_TASK_KEY']);"
            "print('home', os.environ['PODIUM_HOME'])"
        )},
        {"task_key": "b", "depends_on": [{"task_key": "a"}],
         "environment_variables": {"N": "{{tasks.a.values.n}}"},
         **py("import os; from podium import task_values as v;"
              "v.set('twice', 2 * int(os.environ['N'])); print('n is', os.environ['N'])")},
        {"task_key": "c", "depends_on": [{"task_key": "b"}],
         **py("import sys; from podium import task_values as v;"
              "print('got', v.get('b', 'twice')); sys.exit('no good: ' + str(v.get('a', 'n')))")},
    ], tmp_path)
    run = driven.join()
    assert results(run) == {"a": "SUCCESS", "b": "SUCCESS", "c": "FAILED"}
    tasks = tasks_by_key(run)
    assert tasks["c"]["state"]["state_message"] == "exit code 1: no good: 7"
    assert "on a" in log_of(dask_podium, driven.run_id, "a")
    assert f"home {dask_podium.settings.home}" in log_of(dask_podium, driven.run_id, "a")
    assert "started on Dask worker tcp://" in log_of(dask_podium, driven.run_id, "a")
    assert "n is 7" in log_of(dask_podium, driven.run_id, "b")
    assert "got 14" in log_of(dask_podium, driven.run_id, "c")
    with dask_podium.sessions() as session:
        values = q.get_task_values(session, driven.run_id)
    assert values == {"a": {"n": 7}, "b": {"twice": 14}}


def test_logs_stream_back_while_the_task_runs(dask_podium: Podium, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    driven = drive(dask_podium, [{"task_key": "ticker", **py(
        "import os, time\n"
        "i = 0\n"
        f"while not os.path.exists({str(stop)!r}):\n"
        "    print('tick', i, flush=True); i += 1; time.sleep(0.1)\n"
    )}], tmp_path)
    try:
        wait_for(lambda: "tick 3" in log_of(dask_podium, driven.run_id, "ticker"), 60,
                 "ticks in the log while the task runs")
        assert driven.thread.is_alive()
    finally:
        stop.touch()
    run = driven.join()
    assert results(run) == {"ticker": "SUCCESS"}


def test_timeout_reaches_the_remote_process(dask_podium: Podium, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    driven = drive(dask_podium, [{"task_key": "slow", "timeout_seconds": 1, **py(
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid()));"
        "time.sleep(60)"
    )}], tmp_path)
    run = driven.join()
    assert results(run) == {"slow": "TIMEDOUT"}
    assert tasks_by_key(run)["slow"]["state"]["state_message"] == "the task timed out after 1 s"
    wait_for(lambda: not pid_alive(int(pid_file.read_text())), 10, "the process to die")


def test_cancel_kills_the_remote_process(dask_podium: Podium, tmp_path: Path) -> None:
    from podium.services import cancel_run

    pid_file = tmp_path / "pid"
    driven = drive(dask_podium, [{"task_key": "long", **py(
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid()));"
        "time.sleep(60)"
    )}], tmp_path)
    wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", 60, "the task to start")
    pid = int(pid_file.read_text())
    assert pid_alive(pid)
    cancel_run(dask_podium, driven.run_id)
    run = driven.join()
    assert results(run) == {"long": "CANCELED"}
    wait_for(lambda: not pid_alive(pid), 10, "the canceled process to die")


def test_an_engine_that_stops_lets_go_and_a_new_one_retries_the_lost_attempt(
    dask_podium: Podium, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    trail = tmp_path / "trail"
    script = (
        "import os, time\n"
        "n = os.environ['PODIUM_ATTEMPT_NUMBER']\n"
        f"open({str(trail)!r}, 'a').write(f'start {{n}}\\n')\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60 if n == '0' else 0)\n"
    )
    driven = drive(dask_podium, [{"task_key": "t", **py(script)}], tmp_path)
    wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", 60, "the task to start")
    pid = int(pid_file.read_text())
    driven.stop_engine()
    run = driven.join()
    assert run["state"]["life_cycle_state"] == "RUNNING"  # for the next engine to resume
    wait_for(lambda: not pid_alive(pid), 10, "the abandoned process to die")

    resumed = Driven(dask_podium, driven.run_id).join()
    assert results(resumed) == {"t": "SUCCESS"}
    assert trail.read_text().split() == ["start", "0", "start", "1"]


def test_pools_send_tasks_to_their_workers_and_say_why_one_waits(
    dask_podium: Podium, cluster: Cluster, tmp_path: Path
) -> None:
    by_name = {w["name"]: address for address, w in cluster.workers().items()}
    driven = drive(dask_podium, [
        {"task_key": f"gpu{i}", "pool": "gpu", **py("print('on gpu')")} for i in range(3)
    ] + [
        {"task_key": "cluster_key", "job_cluster_key": "gpu", **py("print('on gpu')")},
        {"task_key": "nowhere", "pool": "tpu", "timeout_seconds": 5, **py("print('never')")},
    ], tmp_path)

    def says_why() -> bool:
        state = tasks_by_key(get_run(dask_podium, driven.run_id))["nowhere"]["state"]
        return str(state.get("state_message", "")).startswith(
            "waiting: no Dask worker has the resource pool-tpu"
        ) and state["life_cycle_state"] == "RUNNING"

    wait_for(says_why, 30, "the waiting task's state message")
    run = driven.join()
    assert results(run) == {"gpu0": "SUCCESS", "gpu1": "SUCCESS", "gpu2": "SUCCESS",
                            "cluster_key": "SUCCESS", "nowhere": "TIMEDOUT"}
    for key in ("gpu0", "gpu1", "gpu2", "cluster_key"):
        assert f"started on Dask worker {by_name['gpu']}" in log_of(
            dask_podium, driven.run_id, key
        )
    waiting = log_of(dask_podium, driven.run_id, "nowhere")
    assert "waiting: no Dask worker has the resource pool-tpu of pool 'tpu'" in waiting
    assert "never" not in waiting
    message = tasks_by_key(run)["nowhere"]["state"]["state_message"]
    assert message == "the task timed out after 5 s waiting for a Dask worker"


def test_a_worker_killed_mid_task_loses_the_attempt_and_it_is_retried_elsewhere(
    dask_podium: Podium, cluster: Cluster, tmp_path: Path
) -> None:
    # After the other cluster tests: it kills one of the two workers.
    trail = tmp_path / "trail"
    script = (
        "import os, time\n"
        "n = os.environ['PODIUM_ATTEMPT_NUMBER']\n"
        f"open({str(trail)!r}, 'a').write(f'start {{n}} {{os.getpid()}} {{os.getppid()}}\\n')\n"
        "time.sleep(30 if n == '0' else 0.5)\n"
        f"open({str(trail)!r}, 'a').write(f'done {{n}}\\n')\n"
        "from podium import task_values as v; v.set('attempt', int(n))\n"
    )
    driven = drive(dask_podium, [{"task_key": "fragile", "pool": "crash", "max_retries": 1,
                                  **py(script)}], tmp_path)
    wait_for(lambda: trail.exists() and "start 0" in trail.read_text(), 60, "attempt 0")
    _, _, pid, worker_pid = trail.read_text().split()
    os.kill(int(worker_pid), signal.SIGKILL)
    run = driven.join(90)

    assert results(run) == {"fragile": "SUCCESS"}
    lines = trail.read_text().splitlines()
    assert [ln.split()[:2] for ln in lines] == [["start", "0"], ["start", "1"], ["done", "1"]]
    assert not pid_alive(int(pid)), "the lost attempt's process outlived its worker"
    assert lines[1].split()[3] != worker_pid, "the retry ran on the dead worker"
    with dask_podium.sessions() as session:
        attempts = [(a.attempt_number, a.life_cycle_state, a.result_state, a.state_message)
                    for a in q.get_attempts(session, driven.run_id)]
        values = q.get_task_values(session, driven.run_id)
    assert [a[:3] for a in attempts] == [(0, "TERMINATED", "FAILED"), (1, "TERMINATED", "SUCCESS")]
    assert attempts[0][3].startswith("lost: its Dask worker tcp://")
    assert values == {"fragile": {"attempt": 1}}
    assert "started on Dask worker" in log_of(dask_podium, driven.run_id, "fragile", 1)


def test_settings_choose_the_executor(tmp_path: Path) -> None:
    from podium.errors import InvalidArgument
    from podium.executors import LocalExecutor, executor_for
    from podium.executors.dask import DaskExecutor

    assert isinstance(executor_for(settings_for(tmp_path)), LocalExecutor)
    chosen = settings_for(tmp_path, PODIUM_EXECUTOR="dask",
                          PODIUM_DASK_SCHEDULER="tcp://10.1.2.3:8786")
    if HAVE_DASK:
        executor = executor_for(chosen)
        assert isinstance(executor, DaskExecutor)
        assert executor.scheduler == "tcp://10.1.2.3:8786"
    with pytest.raises(InvalidArgument, match="dask_scheduler"):
        settings_for(tmp_path, PODIUM_EXECUTOR="dask")
    with pytest.raises(InvalidArgument, match="executor: expected one of local, dask"):
        settings_for(tmp_path, PODIUM_EXECUTOR="spark")


def test_server_refuses_the_dask_executor_without_a_scheduler(home: Path) -> None:
    proc = podium_cli("server", "--executor", "dask")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert "dask_scheduler: the dask executor needs the scheduler's address" in err


def test_the_benchmark_runs() -> None:
    # Scaled down, figures present, no timings asserted (it starts clusters of its own).
    if not HAVE_DASK:
        missing("dask", "distributed is not installed (pip install 'podium[dask]')")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.dask_executor", "--fanout", "2", "--proc", "2",
         "--repeat", "1", "--json"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert [f["result"] for f in figures] == ["SUCCESS"] * 4
    assert {"overhead_ms_per_task", "dask_cpu_ms_per_task"} <= figures[0].keys()
    assert figures[-1]["tasks_per_s"] > 0


def test_dask_is_imported_only_when_the_dask_executor_runs() -> None:
    # Podium works without the dask extra: importing the engine, or even the dask
    # executor's modules, loads no dask.
    code = ("import json, sys; import podium.engine, podium.executors.dask, podium.cli.worker;"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    loaded = set(json.loads(out.stdout))
    assert not {"dask", "distributed"} & loaded
