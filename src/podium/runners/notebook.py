"""notebook_task: execute a Jupyter notebook with papermill in a kernel of the job's Python;
the executed notebook and its HTML rendering become artifacts of the attempt.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from podium.notebook import EXIT_FILE_ENV
from podium.runners.base import (
    OUTPUT_ENV,
    ProcessSpec,
    RunnerContext,
    resolve_path,
    write_output,
)
from podium.spec.models import Task

MODULE = "podium.runners.notebook"
# A kernelspec of our own, written per process: whatever kernelspecs the machine has (or
# lacks), the notebook runs in this very interpreter, the job's Python.
KERNEL_NAME = "podium-python"
MAX_RESULT_BYTES = 5 * 1024 * 1024  # as Databricks: the first 5 MB of an exit value
_EXIT_ENAME = "NotebookExit"  # podium.notebook.NotebookExit, raised by exit()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_ERROR_MARKER_TAG = "papermill-error-cell-tag"

# (message, trace) of a failed notebook.
Failure = tuple[str, str]


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    """Run the notebook in a process of the job's interpreter (see :func:`main`).

    ``notebook_path`` is relative to the job spec's folder (for ``source`` GIT, the
    checkout of the job's repository: ``runners.git_source``), with or without
    ``.ipynb``. As in
    Databricks, the job's parameters reach the notebook too, over same-named
    ``base_parameters``.
    """
    spec = task.notebook_task
    assert spec is not None
    call = {
        "notebook_path": str(resolve_path(spec.notebook_path, ctx)),
        "parameters": {**spec.base_parameters, **ctx.job_parameters},
    }
    return ProcessSpec(argv=[ctx.python, "-m", MODULE, json.dumps(call)], cwd=ctx.source_dir)


@dataclass(frozen=True, slots=True)
class Artifacts:
    """Where the executed notebook and its HTML rendering go."""

    ipynb: Path
    html: Path

    @classmethod
    def of_attempt(cls, notebook: Path) -> Artifacts:
        """``$PODIUM_ARTIFACTS_DIR/<task_key>.<attempt_number>.ipynb`` and ``.html``
        (started by hand: ``<notebook name>.0.*`` in the current folder)."""
        folder = Path(os.environ.get("PODIUM_ARTIFACTS_DIR") or ".")
        task_key = os.environ.get("PODIUM_TASK_KEY") or notebook.stem
        name = f"{task_key}.{os.environ.get('PODIUM_ATTEMPT_NUMBER') or '0'}"
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / f"{name}.ipynb", folder / f"{name}.html")


def main(argv: list[str] | None = None) -> int:
    """Execute the notebook that the JSON call ``argv[0]`` names; returns the exit code.

    The call is ``{"notebook_path": ABSOLUTE_PATH, "parameters": {NAME: VALUE}}``; the
    parameters go in a cell papermill injects after the cell tagged ``parameters`` (or
    first). What cells print streams to stdout and stderr as the notebook runs. The
    kernel's working folder is the notebook's folder, as in Jupyter and Databricks.

    A cell that raises fails the task with ``notebook cell N raised KeyError: 'x'``, where
    N is the cell's execution count: the ``In [N]`` shown by the executed notebook (the
    parameters cell papermill injects counts too). ``podium.notebook.exit(value)`` ends
    the notebook successfully with ``value`` as ``notebook_output.result``.
    """
    call = json.loads((sys.argv[1:] if argv is None else argv)[0])
    wanted = Path(call["notebook_path"])
    notebook = _find_notebook(wanted)
    if notebook is None:
        shown = wanted if wanted.suffix == ".ipynb" else wanted.with_name(wanted.name + ".ipynb")
        return _fail((f"notebook not found: {shown}", ""), None)
    artifacts = Artifacts.of_attempt(notebook)
    _stream_logs(sys.stdout)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with _kernel_home() as home:
        exit_file = home / "exit-value"
        os.environ[EXIT_FILE_ENV] = str(exit_file)
        failure = _execute(notebook, artifacts.ipynb, call["parameters"])
        result = exit_file.read_text(encoding="utf-8") if exit_file.exists() else None
    output = _notebook_output(result, artifacts, _render_html(artifacts))
    if failure is not None:
        return _fail(failure, output)
    write_output({"notebook_output": output})
    return 0


def _find_notebook(path: Path) -> Path | None:
    """``path``, or ``path`` + ``.ipynb``: the first that is a file, if any."""
    for candidate in (path, path.with_name(path.name + ".ipynb")):
        if candidate.is_file():
            return candidate
    return None


def _execute(notebook: Path, output: Path, parameters: dict[str, str]) -> Failure | None:
    """Run ``notebook`` with papermill, saving it (cell by cell) to ``output``.

    Returns None on success (a call of ``podium.notebook.exit`` included), else what failed.
    """
    import papermill  # type: ignore[import-untyped]
    from papermill.exceptions import PapermillExecutionError  # type: ignore[import-untyped]

    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters, kernel_name=KERNEL_NAME,
            language="python", progress_bar=False, stdout_file=sys.stdout,
            stderr_file=sys.stderr, cwd=str(notebook.parent),
        )
    except PapermillExecutionError as exc:
        if exc.ename == _EXIT_ENAME:
            _clear_exit_error(output)
            return None
        cell = exc.exec_count if exc.exec_count is not None else exc.cell_index + 1
        raised = f"{exc.ename}: {exc.evalue}" if exc.evalue else exc.ename
        trace = _ANSI.sub("", "\n".join(exc.traceback))
        return f"notebook cell {cell} raised {raised}", trace
    except Exception as exc:  # the kernel died, a cell timed out, the file is not a notebook
        return f"notebook failed: {type(exc).__name__}: {exc}", traceback.format_exc()
    return None


def _clear_exit_error(path: Path) -> None:
    """Make the executed notebook at ``path`` show exit() as the success it is: drop the
    error banner papermill adds and mark the exiting cell completed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"] = [
        c for c in nb["cells"] if _ERROR_MARKER_TAG not in c["metadata"].get("tags", [])
    ]
    for cell in nb["cells"]:
        papermill_meta = cell["metadata"].get("papermill", {})
        if papermill_meta.get("exception"):
            papermill_meta.update(exception=False, status="completed")
    nb["metadata"].get("papermill", {})["exception"] = False
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _render_html(artifacts: Artifacts) -> bool:
    """Render the executed notebook to HTML next to it; False if that was not possible."""
    if not artifacts.ipynb.exists():
        return False
    from nbconvert import HTMLExporter

    try:
        body, _ = HTMLExporter().from_filename(str(artifacts.ipynb))  # type: ignore[no-untyped-call]
    except Exception as exc:  # a rendering problem must not fail a notebook that ran
        print(f"cannot render {artifacts.ipynb.name} to HTML: {exc}", file=sys.stderr)
        return False
    artifacts.html.write_text(body, encoding="utf-8")
    return True


def _notebook_output(result: str | None, artifacts: Artifacts, html: bool) -> dict[str, Any]:
    """The ``notebook_output`` of runs/get-output, with the artifacts' paths added."""
    truncated = result is not None and len(result.encode()) > MAX_RESULT_BYTES
    if result is not None and truncated:
        result = result.encode()[:MAX_RESULT_BYTES].decode(errors="ignore")
    return {
        "result": result,
        "truncated": truncated,
        "notebook_path": str(artifacts.ipynb) if artifacts.ipynb.exists() else None,
        "html_path": str(artifacts.html) if html else None,
    }


def _fail(failure: Failure, output: dict[str, Any] | None) -> int:
    """Report ``failure`` (to the log and as the task's output); returns the exit code."""
    message, trace = failure
    print(f"{message}\n{trace}".rstrip(), file=sys.stderr)
    report: dict[str, Any] = {"error": message}
    if trace:
        report["error_trace"] = trace
    if output is not None:
        report["notebook_output"] = output
    write_output(report)
    return 1


@contextmanager
def _kernel_home() -> Iterator[Path]:
    """A private folder holding a kernelspec of this interpreter and the kernel's
    connection file, found by Jupyter through JUPYTER_PATH and JUPYTER_RUNTIME_DIR.

    It goes next to the attempt's own files when started by Podium, and is removed after.
    """
    task_output = os.environ.get(OUTPUT_ENV)
    parent = str(Path(task_output).parent) if task_output else None
    with tempfile.TemporaryDirectory(prefix="podium-kernel-", dir=parent) as folder:
        spec_dir = Path(folder) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {
            # ERROR: not the kernel's warning, on every start, that loopback TCP is unencrypted.
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        inherited = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (folder, inherited) if p)
        os.environ["JUPYTER_RUNTIME_DIR"] = str(Path(folder) / "runtime")
        yield Path(folder)


def _stream_logs(stream: TextIO) -> None:
    """Send papermill's own messages (where the notebook and its output are, parameters
    it did not expect) to ``stream``; the cells' output is written there directly."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("papermill: %(message)s"))
    logger = logging.getLogger("papermill")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Canceled or timed out: kill the kernel, which leads a session of its own (out of
    reach of the signals the executor sends to our group), then exit at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    for group in _child_groups():
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    os._exit(128 + signum)


def _child_groups() -> set[int]:
    """The process groups of this process's children but our own (Linux: from /proc;
    elsewhere none, and the kernel exits by itself once its parent is gone)."""
    me, ours = os.getpid(), os.getpgrp()
    groups = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            _state, ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(ppid) == me and int(pgrp) != ours:
            groups.add(int(pgrp))
    return groups


if __name__ == "__main__":
    sys.exit(main())
