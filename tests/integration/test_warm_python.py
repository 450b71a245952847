"""python_function_task attempts forked from the warm interpreter: as isolated and as
observable as a fresh process, and robust to the zygote itself dying."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from podium.engine import Engine
from podium.services import Podium, get_run, open_podium, submit_run
from tests.conftest import settings_for
from tests.integration.helpers import job, pid_alive, results, run_job, tasks_by_key, wait_for

USER_CODE = """
import os, signal, sys, time
from podium import task_values

STATE = {"calls": 0}

def leak():
    os.environ["PODIUM_TEST_LEAK"] = "1"
    STATE["calls"] += 1
    print("leaking", flush=False)
    return STATE["calls"]

def look():
    return {"leak": os.environ.get("PODIUM_TEST_LEAK"), "calls": STATE["calls"],
            "cwd": os.getcwd(), "ppid": os.getppid(), "argv0": sys.argv[0]}

def exit_three():
    os._exit(3)

def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)

def hang():
    print("hanging", os.getpid(), flush=True)
    open("hang.pid", "w").write(str(os.getpid()))
    time.sleep(120)

def slow_once():
    if os.path.exists("slow.done"):
        return "second"
    open("slow.pid", "w").write(str(os.getpid()))
    time.sleep(120)

def talk():
    print("to stdout")
    print("to stderr", file=sys.stderr)
"""


def write_code(folder: Path) -> None:
    (folder / "usercode.py").write_text(USER_CODE)


def fn(name: str) -> dict[str, str]:
    return {"function": f"usercode:{name}"}


def test_each_attempt_is_isolated(podium: Podium, tmp_path: Path) -> None:
    write_code(tmp_path)
    spec = job(
        [
            {"task_key": "leak", "python_function_task": fn("leak")},
            {
                "task_key": "look",
                "depends_on": [{"task_key": "leak"}],
                "python_function_task": fn("look"),
            },
            {"task_key": "talk", "python_function_task": fn("talk")},
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    tasks = tasks_by_key(run)
    assert tasks["leak"]["task_values"] == {"returned": 1}
    seen = tasks["look"]["task_values"]["returned"]
    assert seen["leak"] is None and seen["calls"] == 0  # no environment or module state leaks
    assert seen["cwd"] == str(tmp_path)
    assert seen["ppid"] != os.getpid()  # forked by the warm interpreter, not by us
    assert seen["argv0"].endswith("function_worker.py")
    log = Path(tasks["talk"]["attempts"][0]["log_path"]).read_text()
    assert "to stdout" in log and "to stderr" in log
    leak_log = Path(tasks["leak"]["attempts"][0]["log_path"]).read_text()
    assert leak_log.endswith("out | leaking\n")  # stamped like any task's output


def test_crashes_of_user_code_fail_only_the_task(podium: Podium, tmp_path: Path) -> None:
    write_code(tmp_path)
    spec = job(
        [
            {"task_key": "exit_three", "python_function_task": fn("exit_three")},
            {"task_key": "segfault", "python_function_task": fn("segfault")},
            {"task_key": "missing", "python_function_task": fn("no_such_function")},
            {
                "task_key": "fine",
                "python_function_task": {"function": "json:dumps", "parameters": [[1, 2]]},
            },
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    tasks = tasks_by_key(run)
    assert results(run) == {
        "exit_three": "FAILED",
        "segfault": "FAILED",
        "missing": "FAILED",
        "fine": "SUCCESS",
    }
    assert tasks["exit_three"]["attempts"][0]["exit_code"] == 3
    assert "SIGSEGV" in tasks["segfault"]["state"]["state_message"]
    assert "has no attribute 'no_such_function'" in tasks["missing"]["state"]["state_message"]
    assert tasks["fine"]["task_values"] == {"returned": "[1, 2]"}


def test_a_hanging_function_times_out_and_is_killed(podium: Podium, tmp_path: Path) -> None:
    write_code(tmp_path)
    spec = job(
        [{"task_key": "hang", "timeout_seconds": 1, "python_function_task": fn("hang")}], tmp_path
    )
    run = run_job(podium, spec)
    assert results(run) == {"hang": "TIMEDOUT"}
    assert not pid_alive(int((tmp_path / "hang.pid").read_text()))


def test_the_zygote_dying_loses_only_its_running_attempts(home: Path, tmp_path: Path) -> None:
    write_code(tmp_path)
    podium = open_podium(settings_for(home, PODIUM_CANCEL_GRACE_SECONDS="1"))
    spec = job(
        [{"task_key": "slow_once", "max_retries": 1, "python_function_task": fn("slow_once")}],
        tmp_path,
    )
    run_id = submit_run(podium, spec)

    async def scenario() -> None:
        engine = Engine(podium.sessions, podium.settings)
        running = asyncio.ensure_future(engine.execute(run_id))
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "slow.pid").exists())
        warm = engine.executor.warm  # type: ignore[attr-defined]
        os.kill(warm._proc.pid, signal.SIGKILL)
        (tmp_path / "slow.done").touch()
        await running
        await engine.close()

    asyncio.run(scenario())
    run = get_run(podium, run_id)
    attempts = tasks_by_key(run)["slow_once"]["attempts"]
    assert [a["state"]["result_state"] for a in attempts] == ["FAILED", "SUCCESS"]
    assert attempts[0]["state"]["state_message"].startswith("lost: the warm Python worker stopped")
    assert not pid_alive(int((tmp_path / "slow.pid").read_text()))
    assert tasks_by_key(run)["slow_once"]["task_values"] == {"returned": "second"}
    podium.close()


def test_warm_python_can_be_switched_off(home: Path, tmp_path: Path) -> None:
    write_code(tmp_path)
    podium = open_podium(settings_for(home, PODIUM_WARM_PYTHON="false"))
    spec = job([{"task_key": "look", "python_function_task": fn("look")}], tmp_path)
    run = run_job(podium, spec)
    seen = tasks_by_key(run)["look"]["task_values"]["returned"]
    assert seen["ppid"] == os.getpid()  # a fresh interpreter started by this process
    podium.close()
