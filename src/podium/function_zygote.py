"""A warm Python that forks one child per python_function_task attempt.

Starting a fresh interpreter costs tens of milliseconds; forking this small, already
started one costs about one. Each child is still a process of its own (own session,
environment, working folder and log), so user code cannot harm the engine or other
tasks, and the zygote itself never imports user code.

Protocol, JSON lines: the executor writes ``{"id", "call", "cwd", "env", "log"}`` on
stdin; the zygote answers ``{"id", "pid"}`` (or ``{"id", "error"}``) when the child is
started, and ``{"pid", "exit"}`` when a child ends (``exit`` < 0: killed by that signal).
It exits when its stdin closes.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys
import traceback
from typing import Any

from podium import function_worker
from podium.log_lines import StampedWriter


def main() -> int:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "requests")
    selector.register(read_end, selectors.EVENT_READ, "children")
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.data == "children":
                _drain(read_end)
                _reap()
                continue
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                return 0
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _start(json.loads(line), (read_end, write_end))


def _start(request: dict[str, Any], private_fds: tuple[int, int]) -> None:
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        _send({"id": request["id"], "error": f"cannot open the log: {exc}"})
        return
    pid = os.fork()
    if pid == 0:
        _child(request, log, private_fds)  # never returns
    os.close(log)
    _send({"id": request["id"], "pid": pid})


def _child(request: dict[str, Any], log: int, private_fds: tuple[int, int]) -> None:
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        for fd in private_fds:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(devnull)
        os.close(log)
        # Unbuffered streams that stamp each line as the executor does for other tasks
        # (the zygote's own were buffered for a pipe), so `logs --follow` sees lines live.
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = StampedWriter(1, "out")
        sys.stderr = StampedWriter(2, "err")
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # What a fresh interpreter would have put first on sys.path.
        extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:0] = [request["cwd"], *extra]
        sys.argv = [function_worker.__file__, request["call"]]
        code = function_worker.main(sys.argv)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send({"pid": pid, "exit": os.waitstatus_to_exitcode(status)})


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _send(message: dict[str, Any]) -> None:
    os.write(sys.stdout.fileno(), (json.dumps(message) + "\n").encode())


if __name__ == "__main__":
    sys.exit(main())
