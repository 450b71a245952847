"""Run attempts as local subprocesses, each in its own process group.

Output goes straight to the attempt's log file (no copying through Python). A canceled
or timed-out attempt's group gets SIGTERM, then SIGKILL after the grace period. The
engine bounds how many attempts run at once; this executor just runs what it is given.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from podium.core.states import ResultState
from podium.executors.base import AttemptRequest, Outcome, attempt_file
from podium.executors.logs import LogPump, append_line
from podium.executors.warm import WarmPython, WarmPythonLost
from podium.log_lines import strip
from podium.runners.base import OUTPUT_ENV
from podium.task_values import MAX_VALUE_BYTES, VALUES_IN_ENV, VALUES_OUT_ENV

_SEARCH_PATHS = ("PATH", "PYTHONPATH")
OUTPUT_SUFFIX = ".output.json"
_STOPPED = {ResultState.TIMEDOUT: "timed out", ResultState.CANCELED: "was canceled"}
PIDS_FILE = "pids"  # in the run's work folder: "TASK.ATTEMPT PID" per started process


class LocalExecutor:
    """Runs each attempt as a subprocess of this machine.

    Args:
        grace_seconds: how long a terminated attempt gets between SIGTERM and SIGKILL.
        warm_python: fork python_function_task attempts from a warm interpreter
            (``podium.function_zygote``) rather than starting a fresh one each time.
        on_started: called with the pid (and process group) of each attempt's process
            once it runs (a Dask worker has them killed should the worker die).
    """

    def __init__(
        self,
        grace_seconds: float = 5.0,
        warm_python: bool = True,
        on_started: Callable[[int], None] | None = None,
    ) -> None:
        self.grace_seconds = grace_seconds
        self.on_started = on_started
        self.warm = WarmPython() if warm_python and hasattr(os, "fork") else None
        self._running: dict[int, int] = {}  # attempt_id -> pid (and process group)
        self._reasons: dict[int, ResultState] = {}
        self._made_dirs: set[Path] = set()
        self._pid_files: dict[Path, TextIO] = {}
        self._base_env = _inherited_environment()

    async def run(self, request: AttemptRequest) -> Outcome:
        started = time.monotonic()
        self._mkdir(request.work_prefix.parent)
        self._mkdir(request.log_path.parent)
        values_out = attempt_file(request.work_prefix, ".values-out.jsonl")
        env = _environment(self._base_env, request, values_out)
        output = attempt_file(request.work_prefix, OUTPUT_SUFFIX)
        output.unlink(missing_ok=True)
        env[OUTPUT_ENV] = str(output)
        try:
            pid, exit_code_of, pump = await self._start(request, env)
        except (OSError, WarmPythonLost) as exc:
            message = f"cannot start {request.process.argv[0]!r}: {_reason(exc)}"
            append_line(request.log_path, message, request.redact)
            return Outcome(request.attempt_id, ResultState.FAILED, None, message)
        self._running[request.attempt_id] = pid
        self._record_pid(request.work_prefix, pid)
        if self.on_started is not None:
            self.on_started(pid)
        try:
            exit_code = await self._wait(request, exit_code_of)
        except WarmPythonLost as exc:
            message = f"lost: {exc}; the attempt's processes were killed"
            return Outcome(request.attempt_id, ResultState.FAILED, None, message)
        finally:
            del self._running[request.attempt_id]
            _kill_group(pid, signal.SIGKILL)  # stragglers the task left behind
            if pump is not None:
                await pump.close()
        reason = self._reasons.pop(request.attempt_id, None)
        return _outcome(request, exit_code, reason, values_out, time.monotonic() - started)

    async def _start(
        self, request: AttemptRequest, env: dict[str, str]
    ) -> tuple[int, Coroutine[Any, Any, int], LogPump | None]:
        """Start the attempt's process; returns its pid, what awaits its exit code, and
        the pump copying its output into the log (a warm child writes the log itself)."""
        process = request.process
        # A warm child writes its log itself, unmasked: a task given secrets gets a
        # process of its own, whose output goes through the masking pump.
        if process.function_call is not None and self.warm is not None and not request.redact:
            pid = await self.warm.start(process.function_call, process.cwd, env,
                                        request.log_path)
            return pid, self.warm.wait(pid), None
        log = open(request.log_path, "ab")  # noqa: SIM115 - the pump closes it
        try:
            proc = subprocess.Popen(
                process.argv, cwd=process.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except BaseException:
            log.close()
            raise
        # Attaching takes a few turns of the loop. If this task is canceled meanwhile (a
        # server shutting down), run() never records the process: kill it here. The
        # attaching goes on (shielded) so that its pipes and the log are closed after.
        attaching = asyncio.ensure_future(LogPump.attach(proc, log, request.redact))
        try:
            pump = await asyncio.shield(attaching)
        except BaseException:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            await _close_attaching(attaching, log)
            raise
        return proc.pid, _exit_of(proc), pump

    async def _wait(self, request: AttemptRequest, exit_code_of: Coroutine[Any, Any, int]) -> int:
        if request.timeout_seconds <= 0:
            # Awaited in this task, not a new one: a cancel that came before a new task's
            # first step would skip exit_code_of's cleanup (kill, reap) altogether.
            return await exit_code_of
        exited = asyncio.ensure_future(exit_code_of)
        try:
            return await asyncio.wait_for(asyncio.shield(exited), request.timeout_seconds)
        except TimeoutError:
            self.terminate(request.attempt_id, ResultState.TIMEDOUT)
        return await exited

    def running(self, attempt_id: int) -> bool:
        """Whether the attempt's process has started and not yet been waited for."""
        return attempt_id in self._running

    def terminate(self, attempt_id: int, reason: ResultState) -> None:
        pid = self._running.get(attempt_id)
        if pid is None:
            return
        self._reasons.setdefault(attempt_id, reason)
        _kill_group(pid, signal.SIGTERM)
        asyncio.get_running_loop().call_later(
            self.grace_seconds, self._kill_if_running, attempt_id, pid
        )

    def _kill_if_running(self, attempt_id: int, pid: int) -> None:
        if self._running.get(attempt_id) == pid:
            _kill_group(pid, signal.SIGKILL)

    async def close(self) -> None:
        """Stop the warm interpreter, if one was started, and close the pid files."""
        for pids in self._pid_files.values():
            pids.close()
        self._pid_files.clear()
        if self.warm is not None:
            await self.warm.close()

    def _record_pid(self, work_prefix: Path, pid: int) -> None:
        # One append-only file per run, kept open, rather than a file per attempt:
        # creating a file is the slow part on some filesystems, appending a line is not.
        path = work_prefix.parent / PIDS_FILE
        if path not in self._pid_files:
            self._pid_files[path] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._pid_files[path].write(f"{work_prefix.name} {pid}\n")
        self._pid_files[path].flush()

    def _mkdir(self, path: Path) -> None:
        if path not in self._made_dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(path)


async def _exit_of(proc: subprocess.Popen[bytes]) -> int:
    """Wait for ``proc`` without a thread: a pidfd becomes readable when it exits."""
    if not hasattr(os, "pidfd_open"):  # not Linux: a thread per wait
        return await asyncio.to_thread(proc.wait)
    loop = asyncio.get_running_loop()
    exited = loop.create_future()
    fd = os.pidfd_open(proc.pid)
    loop.add_reader(fd, _resolve, exited)
    try:
        await exited
    except BaseException:  # our wait was cancelled: the process must not outlive it
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return proc.wait()


async def _close_attaching(attaching: asyncio.Future[LogPump], log: BinaryIO) -> None:
    """Close the pump (or, if attaching failed, the log) of a killed process."""
    await asyncio.wait([attaching])
    if attaching.exception() is None:
        await attaching.result().close()
    else:
        log.close()


def kill_leftover(work_prefix: Path) -> bool:
    """Kill the process group an earlier, crashed engine left running for an attempt.

    Returns True when a group was signalled.
    """
    try:
        lines = (work_prefix.parent / PIDS_FILE).read_text().splitlines()
    except OSError:
        return False
    pids = [int(pid) for name, _, pid in (ln.partition(" ") for ln in lines)
            if name == work_prefix.name and pid.isdigit()]
    return bool(pids) and _kill_group(pids[-1], signal.SIGKILL)





def _environment(
    base: dict[str, str], request: AttemptRequest, values_out: Path
) -> dict[str, str]:
    """The task's environment: ours, then the request's; PATH and PYTHONPATH entries of
    the request go in front of the inherited ones."""
    env = dict(base)
    for name, value in request.env.items():
        if name in _SEARCH_PATHS:
            env[name] = os.pathsep.join(p for p in (value, env.get(name, "")) if p)
        else:
            env[name] = value
    env.update(request.process.env)
    env[VALUES_OUT_ENV] = str(values_out)
    values_out.unlink(missing_ok=True)
    return env


def _inherited_environment() -> dict[str, str]:
    # Read once per executor: copying os.environ for every task is a measurable cost.
    env = dict(os.environ)
    python_dir = str(Path(sys.executable).parent)  # `python` in a task is the job's Python
    env["PATH"] = os.pathsep.join(p for p in (python_dir, env.get("PATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env[VALUES_IN_ENV] = ""
    return env


def _outcome(
    request: AttemptRequest,
    exit_code: int,
    reason: ResultState | None,
    values_out: Path,
    duration: float,
) -> Outcome:
    values, problem = _read_values(values_out)
    output = _read_output(attempt_file(request.work_prefix, OUTPUT_SUFFIX))
    if reason is not None:
        result, message = reason, f"the task {_STOPPED[reason]}"
        if reason is ResultState.TIMEDOUT:
            message += f" after {request.timeout_seconds:g} s"
    elif exit_code == 0 and problem is None:
        result, message = ResultState.SUCCESS, ""
    else:
        # A runner that knows what went wrong says so in its output ("notebook cell 7
        # raised KeyError: 'user_id'"); otherwise the last line of the log tells.
        result = ResultState.FAILED
        message = problem or str(output.get("error") or "") or _failure_message(
            request.log_path, exit_code
        )
    return Outcome(request.attempt_id, result, exit_code, message, values, duration,
                   output=output)


def _read_output(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable task output {path.name}: {exc}"}
    return data if isinstance(data, dict) else {"result": data}


def _read_values(path: Path) -> tuple[dict[str, Any], str | None]:
    values: dict[str, Any] = {}
    if not path.exists():
        return values, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError):
            return values, f"unreadable task value line in {path.name}: {line[:80]!r}"
        if len(json.dumps(value).encode()) > MAX_VALUE_BYTES:
            return values, f"task value {key!r} is larger than 48 KiB"
        values[key] = value
    return values, None


def _failure_message(log_path: Path, exit_code: int) -> str:
    if exit_code < 0:
        return f"the process was killed by signal {signal.Signals(-exit_code).name}"
    last = strip(_last_line(log_path))
    return f"exit code {exit_code}" + (f": {last}" if last else "")


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as src:
            src.seek(max(0, src.seek(0, os.SEEK_END) - 4096))
            lines = [ln for ln in src.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:500] if lines else ""


def _kill_group(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
