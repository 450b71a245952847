"""spark_jar_task: run ``main_class_name`` with ``java -cp <jars>`` through a small
launcher process that finds java, checks the jars, and names an uncaught exception."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from podium.runners.base import (
    LIBRARY_URI,
    LaunchError,
    ProcessSpec,
    RunnerContext,
    fail,
    library_paths,
    write_output,
)

if TYPE_CHECKING:
    from podium.spec.models import Task

NO_JAVA = "java not found on PATH (set JAVA_HOME or install a JDK)"
_UNCAUGHT = b'Exception in thread "'
_LAUNCHER_ERROR = b"Error: "



def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    """The launcher process of a ``spark_jar_task``.

    Jar paths resolve against the job spec's folder here; java is looked up by the
    launcher, in the task's own environment (its PATH and JAVA_HOME).
    """
    spec = task.spark_jar_task
    assert spec is not None
    jars, ignored = library_paths(task, "jar", ctx)
    call = {
        "main_class_name": spec.main_class_name,
        "parameters": spec.parameters,
        "jars": jars,
        "ignored": ignored,
    }
    return ProcessSpec(
        argv=[ctx.python, "-m", "podium.runners.jar", json.dumps(call)], cwd=ctx.source_dir
    )


def find_java(env: Mapping[str, str]) -> str:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on PATH.

    Raises:
        LaunchError: neither gives an executable java.
    """
    java_home = env.get("JAVA_HOME")
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise LaunchError(f"JAVA_HOME is {java_home!r} but {java} is not an executable")
        return str(java)
    found = shutil.which("java", path=env.get("PATH", os.defpath))
    if found is None:
        raise LaunchError(NO_JAVA)
    return found


def classpath(jars: list[str]) -> list[str]:
    """``-cp`` and the jars joined, or nothing when there are no jars.

    Raises:
        LaunchError: a jar is a URI (``dbfs:/``, ``s3://``, ...) or does not exist.
    """
    for jar in jars:
        if LIBRARY_URI.match(jar):
            raise LaunchError(
                f"jar library {jar!r} is not supported: Podium runs local jar "
                "files (a path relative to the job spec, or absolute)"
            )
        if not Path(jar).exists():
            raise LaunchError(f"jar library {jar} does not exist")
    return ["-cp", os.pathsep.join(jars)] if jars else []


def run_java(argv: list[str]) -> tuple[int, str]:
    """Run java with its output copied to ours (the attempt's log) as it comes.

    Returns:
        The exit code (negative: killed by that signal) and the uncaught exception
        line (``java.lang.IllegalStateException: boom``), or the java launcher's
        ``Error: ...`` line, or "" when java printed neither.
    """
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    # The executor signals our whole process group, java included; forwarding as well
    # covers a signal sent to this process alone. We keep copying until java exits,
    # so what its shutdown hooks print still reaches the log.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    assert proc.stdout is not None
    found = {_UNCAUGHT: "", _LAUNCHER_ERROR: ""}
    pending = b""
    while chunk := os.read(proc.stdout.fileno(), 65536):
        os.write(sys.stdout.fileno(), chunk)
        *lines, pending = (pending + chunk).split(b"\n")
        pending = pending[-4096:]
        for line in lines:
            if line.startswith(_UNCAUGHT):
                found[_UNCAUGHT] = line.partition(b'" ')[2].decode(errors="replace")
            elif line.startswith(_LAUNCHER_ERROR) and not found[_LAUNCHER_ERROR]:
                found[_LAUNCHER_ERROR] = line.decode(errors="replace")
    code = proc.wait()
    return code, (found[_UNCAUGHT] or found[_LAUNCHER_ERROR]).strip()[:500]




def main(argv: list[str]) -> int:
    """The launcher: ``argv[1]`` is the JSON call made by :func:`build`."""
    call = json.loads(argv[1])
    for kind in call["ignored"]:
        print(f"podium: {kind} libraries are ignored by spark_jar_task", file=sys.stderr)
    try:
        java = find_java(os.environ)
        cp = classpath(call["jars"])
    except LaunchError as exc:
        return fail(str(exc))
    code, exception = run_java([java, *cp, call["main_class_name"], *call["parameters"]])
    if code < 0:  # die of the same signal, so the executor reports it as such
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    if code != 0 and exception:
        write_output({"error": exception})
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
