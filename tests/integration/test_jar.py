"""spark_jar_task with a real JDK: a jar compiled at test time, run by the real engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.runners.jar import NO_JAVA
from podium.services import Podium, open_podium
from tests.conftest import missing, settings_for
from tests.integration.helpers import job, run_job, tasks_by_key

HELLO = """
public class Hello {
    public static void main(String[] args) {
        System.out.println("hello from java: " + String.join(",", args));
    }
}
"""
BOOM = """
public class Boom {
    public static void main(String[] args) {
        throw new IllegalStateException("boom " + args.length);
    }
}
"""
SLOW = """
public class Slow {
    public static void main(String[] args) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("hook ran")));
        System.out.println("sleeping");
        Thread.sleep(60000);
    }
}
"""
CLASSES = {"Hello": HELLO, "Boom": BOOM, "Slow": SLOW}


@pytest.fixture(scope="module")
def jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``app.jar`` with the classes of CLASSES, compiled with the machine's JDK."""
    if not all(shutil.which(tool) for tool in ("java", "javac", "jar")):
        missing("java", "java, javac and jar are not all on PATH")
    src = tmp_path_factory.mktemp("java")
    for name, code in CLASSES.items():
        (src / f"{name}.java").write_text(code)
    sources = [f"{name}.java" for name in CLASSES]
    subprocess.run(["javac", "-d", "classes", *sources], cwd=src, check=True)
    subprocess.run(["jar", "cf", "app.jar", "-C", "classes", "."], cwd=src, check=True)
    return src / "app.jar"


def jar_task(key: str, main: str, *params: str, jars: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "task_key": key,
        "spark_jar_task": {"main_class_name": main, "parameters": list(params)},
        "libraries": [{"jar": j} for j in jars],
        **fields,
    }


def log_of(task: dict[str, Any]) -> str:
    return Path(task["attempts"][0]["log_path"]).read_text()


def test_runs_a_main_class_and_names_an_uncaught_exception(
    podium: Podium, jar: Path, tmp_path: Path
) -> None:
    shutil.copy(jar, tmp_path / "app.jar")
    spec = job(
        [
            jar_task("hello", "Hello", "a b", "c", jars=["app.jar"]),  # relative to the spec
            jar_task("boom", "Boom", "x", jars=[str(jar)]),
        ],
        tmp_path,
    )

    tasks = tasks_by_key(run_job(podium, spec))

    assert tasks["hello"]["state"]["result_state"] == "SUCCESS"
    assert "hello from java: a b,c" in log_of(tasks["hello"])
    assert tasks["boom"]["state"]["result_state"] == "FAILED"
    assert tasks["boom"]["state"]["state_message"] == "java.lang.IllegalStateException: boom 1"
    log = log_of(tasks["boom"])
    assert "java.lang.IllegalStateException: boom 1" in log and "at Boom.main" in log


def test_bad_jars_and_classes_fail_with_a_clear_message(
    podium: Podium, jar: Path, tmp_path: Path
) -> None:
    spec = job(
        [
            jar_task("missing", "Hello", jars=["lib/nope.jar"]),
            jar_task("remote", "Hello", jars=["dbfs:/FileStore/jars/app.jar"]),
            jar_task("no_class", "NoSuchClass", jars=[str(jar)]),
        ],
        tmp_path,
    )

    tasks = tasks_by_key(run_job(podium, spec))

    messages = {key: t["state"]["state_message"] for key, t in tasks.items()}
    assert {t["state"]["result_state"] for t in tasks.values()} == {"FAILED"}
    assert messages["missing"] == f"jar library {tmp_path / 'lib/nope.jar'} does not exist"
    assert "'dbfs:/FileStore/jars/app.jar' is not supported" in messages["remote"]
    assert "Could not find or load main class NoSuchClass" in messages["no_class"]


def test_a_timed_out_jvm_is_stopped_and_its_shutdown_hooks_reach_the_log(
    podium: Podium, jar: Path, tmp_path: Path
) -> None:
    spec = job([jar_task("slow", "Slow", jars=[str(jar)], timeout_seconds=1)], tmp_path)

    task = tasks_by_key(run_job(podium, spec))["slow"]

    assert task["state"]["result_state"] == "TIMEDOUT"
    log = log_of(task)
    assert "sleeping" in log and "hook ran" in log


@pytest.fixture(scope="module")
def java_home(jar: Path) -> Path:
    """The JDK the jar was built with (module scope: found before PATH loses it)."""
    java = shutil.which("java")
    assert java is not None
    return Path(os.path.realpath(java)).parent.parent


@pytest.fixture
def podium_without_java(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Podium]:
    """Podium whose tasks inherit a PATH without java and no JAVA_HOME."""
    monkeypatch.setenv("PATH", str(home.parent / "empty-bin"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    p = open_podium(settings_for(home))
    yield p
    p.close()


def test_without_java_the_task_fails_and_java_home_finds_it(
    jar: Path, java_home: Path, podium_without_java: Podium, tmp_path: Path
) -> None:
    spec = job(
        [
            jar_task("no_java", "Hello", jars=[str(jar)]),
            jar_task(
                "java_home",
                "Hello",
                "via-home",
                jars=[str(jar)],
                environment_variables={"JAVA_HOME": str(java_home)},
            ),
            jar_task(
                "bad_home",
                "Hello",
                jars=[str(jar)],
                environment_variables={"JAVA_HOME": str(tmp_path)},
            ),
        ],
        tmp_path,
    )

    tasks = tasks_by_key(run_job(podium_without_java, spec))

    assert tasks["no_java"]["state"]["result_state"] == "FAILED"
    assert tasks["no_java"]["state"]["state_message"] == NO_JAVA
    assert tasks["java_home"]["state"]["result_state"] == "SUCCESS"
    assert "hello from java: via-home" in log_of(tasks["java_home"])
    assert tasks["bad_home"]["state"]["state_message"] == (
        f"JAVA_HOME is {str(tmp_path)!r} but {tmp_path / 'bin/java'} is not an executable"
    )
