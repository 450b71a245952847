"""notebook_task through the real engine: real notebooks run by papermill in a real kernel,
with parameters, task values, exit(), artifacts, cell errors and cancellation."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from textwrap import dedent
from typing import Any, cast

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from podium import notebook
from podium.services import Podium, execute_run, get_output, get_run, submit_run
from tests.integration.helpers import (
    PODIUM,
    job,
    pid_alive,
    results,
    run_job,
    tasks_by_key,
    wait_for,
)


def write_notebook(path: Path, *cells: str, parameters: str | None = None) -> Path:
    """A notebook of code cells (``# md:`` ones become markdown) at ``path``; the
    ``parameters`` code, if given, goes first in a cell tagged ``parameters``."""
    nb_cells = []
    if parameters is not None:
        nb_cells.append(new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    for cell in cells:
        text = dedent(cell).strip()
        if text.startswith("# md:"):
            nb_cells.append(new_markdown_cell(text.removeprefix("# md:").strip()))
        else:
            nb_cells.append(new_code_cell(text))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=nb_cells), str(path))
    return path


def notebook_task(key: str, path: str, **fields: Any) -> dict[str, Any]:
    base_parameters = fields.pop("base_parameters", {})
    return {
        "task_key": key,
        "notebook_task": {"notebook_path": path, "base_parameters": base_parameters},
        **fields,
    }


def runs_output_text(run_id: int, task_key: str) -> str:
    """What ``podium runs output RUN TASK`` prints for people."""
    done = subprocess.run(
        [*PODIUM, "runs", "output", str(run_id), task_key],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_parameters_task_values_exit_and_artifacts(podium: Podium, tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "notebooks" / "greet.ipynb",
        """
        import os
        from pathlib import Path
        Path("cwd.txt").write_text(os.getcwd())
        print(f"hello {who}", flush=True)
        """,
        """
        from podium import task_values
        task_values.set("rows", int(n) * 2)
        word = task_values.get(task_key="first", key="word")
        """,
        """
        from podium import notebook
        try:
            notebook.exit(f"{word}-{who}")
        except Exception:  # exit() must not be swallowed by this
            print("swallowed")
        """,
        """
        Path("after.txt").write_text("ran")
        print("AFTER EXIT")
        """,
        parameters='who = "nobody"\nn = "1"',
    )
    set_word = "from podium import task_values as v; v.set('word', 'hi')"
    spec = job(
        [
            {"task_key": "first", "shell_task": {"command": [sys.executable, "-c", set_word]}},
            notebook_task(
                "nb",
                "notebooks/greet",  # relative to the spec, without .ipynb
                base_parameters={"who": "{{job.parameters.who}}", "n": "3"},
                depends_on=[{"task_key": "first"}],
            ),
            {
                "task_key": "count",
                "depends_on": [{"task_key": "nb"}],
                "python_function_task": {
                    "function": "json:loads",
                    "parameters": ["{{tasks.nb.values.rows}}"],
                },
            },
        ],
        tmp_path,
        parameters=[{"name": "who", "default": "nobody"}],
    )

    run = run_job(podium, spec, who="ada")

    assert results(run) == {"first": "SUCCESS", "nb": "SUCCESS", "count": "SUCCESS"}
    tasks = tasks_by_key(run)
    assert tasks["nb"]["task_values"] == {"rows": 6}
    assert tasks["count"]["task_values"] == {"returned": 6}
    found = get_output(podium, run["run_id"], "nb")
    output = found["notebook_output"]
    assert output["result"] == "hi-ada"
    assert output["truncated"] is False
    assert "error" not in found
    # The kernel ran in the notebook's folder, and nothing after exit() ran.
    assert (tmp_path / "notebooks" / "cwd.txt").read_text() == str(tmp_path / "notebooks")
    assert not (tmp_path / "notebooks" / "after.txt").exists()
    assert "hello ada" in found["logs"]
    assert "AFTER EXIT" not in found["logs"] and "swallowed" not in found["logs"]

    executed, html = Path(output["notebook_path"]), Path(output["html_path"])
    assert executed.name == f"nb.{tasks['nb']['attempts'][0]['attempt_number']}.ipynb"
    assert html == executed.with_suffix(".html")
    executed_text = executed.read_text()
    assert 'who = \\"ada\\"' in executed_text  # the cell papermill injected
    assert "hello ada" in executed_text
    assert "An Exception was encountered" not in executed_text
    html_text = html.read_text()
    assert "hello ada" in html_text and "Notebook exited: hi-ada" in html_text
    assert '"result": "hi-ada"' in runs_output_text(run["run_id"], "nb")


def test_a_cell_error_fails_the_task_naming_the_cell(podium: Podium, tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "join.ipynb",
        "# md: # Join the users",
        'print("before")',
        'row = {"id": 1}\nrow["user_id"]',
        'print("never")',
    )
    spec = job([notebook_task("join", "join.ipynb")], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"join": "FAILED"}
    message = "notebook cell 2 raised KeyError: 'user_id'"  # In [2]; the 3rd cell
    assert tasks_by_key(run)["join"]["state"]["state_message"] == message
    found = get_output(podium, run["run_id"], "join")
    assert found["error"] == message
    trace = found["error_trace"]
    assert 'row["user_id"]' in trace and "KeyError: 'user_id'" in trace
    assert "\x1b[" not in trace
    assert found["notebook_output"]["result"] is None
    assert "KeyError" in Path(found["notebook_output"]["html_path"]).read_text()
    assert "before" in found["logs"] and message in found["logs"]
    assert "KeyError: 'user_id'" in found["logs"] and "never" not in found["logs"]
    assert message in runs_output_text(run["run_id"], "join")


def test_a_missing_notebook_fails_clearly(podium: Podium, tmp_path: Path) -> None:
    spec = job([notebook_task("nb", "nope")], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"nb": "FAILED"}
    message = tasks_by_key(run)["nb"]["state"]["state_message"]
    assert message == f"notebook not found: {tmp_path / 'nope.ipynb'}"


def test_canceling_stops_the_kernel_and_what_it_started(podium: Podium, tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "slow.ipynb",
        """
        import os, subprocess, time
        from pathlib import Path
        child = subprocess.Popen(["sleep", "120"])
        Path("pids").write_text(f"{os.getpid()} {child.pid}")
        time.sleep(120)
        """,
    )
    run_id = submit_run(podium, job([notebook_task("slow", "slow")], tmp_path))
    engine = threading.Thread(target=execute_run, args=(podium, run_id))
    engine.start()
    pids = tmp_path / "pids"
    try:
        wait_for(lambda: pids.exists() and " " in pids.read_text(), what="the cell to start")
    finally:
        # From another process: this one drives the run, so it would cancel it itself.
        subprocess.run([*PODIUM, "runs", "cancel", str(run_id)], check=True, timeout=60)
        engine.join(60)

    assert results(get_run(podium, run_id)) == {"slow": "CANCELED"}
    kernel, child = (int(pid) for pid in pids.read_text().split())
    wait_for(
        lambda: not pid_alive(kernel) and not pid_alive(child),
        timeout=10,
        what="the kernel and its child to end",
    )


def test_exit_outside_podium_only_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(notebook.EXIT_FILE_ENV, raising=False)
    with pytest.raises(notebook.NotebookExit) as stopped:
        try:
            notebook.exit(json.dumps({"rows": 3}))
        except Exception:  # pragma: no cover - the point: exit() is not an Exception
            pytest.fail("exit() was caught by `except Exception`")
    assert stopped.value.value == '{"rows": 3}'
    with pytest.raises(TypeError, match=r"takes a string, not int; use json\.dumps"):
        notebook.exit(cast(Any, 3))


def test_job_parameters_reach_the_notebook_over_base_parameters(
    podium: Podium, tmp_path: Path
) -> None:
    write_notebook(
        tmp_path / "modes.ipynb",
        """
        from podium import task_values
        task_values.set("seen", f"{mode}/{extra}")
        """,
        parameters='mode = "unset"\nextra = "unset"',
    )
    spec = job(
        [notebook_task("nb", "modes.ipynb", base_parameters={"mode": "slow", "extra": "x"})],
        tmp_path,
        parameters=[{"name": "mode", "default": "fast"}],
    )
    run = run_job(podium, spec)
    assert tasks_by_key(run)["nb"]["task_values"] == {"seen": "fast/x"}
