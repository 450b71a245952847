"""``{{secrets/<scope>/<key>}}`` in tasks run by the real engine: the value reaches the
task, and everything the task produces (log, state message, output, task values) shows
``[REDACTED]`` instead; a missing secret fails the task with a message saying how to add it.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from podium.core.values import REDACTED
from podium.executors.logs import MAX_HELD_BYTES, LineMasker
from podium.secret_box import KEY_FILE
from podium.services import Podium, get_output, get_run
from podium.services.auth import local_principal
from podium.services.secrets import create_scope, put_secret
from tests.integration.helpers import job, results, run_job, tasks_by_key

VALUE = "hunter2-Zq9x-v4lue"
REF = "{{secrets/s/k}}"
PEM = (
    "-----BEGIN TEST KEY-----\nMIIBVwIBADANBgkqhkiG9w0B\nAQEFAASCAUEwggE9AgEAAkEA\n"
    "-----END TEST KEY-----"
)


@pytest.fixture
def secrets(podium: Podium) -> Podium:
    """``podium`` with scope ``s`` holding ``k`` (VALUE) and ``pem`` (a multi-line value)."""
    actor = local_principal()
    create_scope(podium, "s", actor)
    put_secret(podium, "s", "k", VALUE, actor)
    put_secret(podium, "s", "pem", PEM, actor)
    return podium


def sh(key: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"task_key": key, "shell_task": {"command": ["bash", "-c", script]}, **extra}


def log_of(run: dict[str, Any], key: str) -> str:
    return Path(tasks_by_key(run)[key]["attempts"][-1]["log_path"]).read_text()


def message(run: dict[str, Any], key: str) -> str:
    text: str = tasks_by_key(run)[key]["state"]["state_message"]
    return text


def everything_shown(podium: Podium, run: dict[str, Any]) -> str:
    """The run, each task's output (with its log tail) and each log, as one text."""
    shown = [json.dumps(get_run(podium, run["run_id"]))]
    for task in run["tasks"]:
        if not task["attempts"]:
            continue  # a condition or a skipped task: no output
        shown.append(json.dumps(get_output(podium, run["run_id"], task["task_key"])))
        shown.extend(Path(a["log_path"]).read_text() for a in task["attempts"])
    return "\n".join(shown)


def test_a_shell_task_gets_the_secret_and_its_log_shows_it_masked(
    secrets: Podium, tmp_path: Path
) -> None:
    spec = job([sh("a", f'echo "token is {REF}" > seen.txt; echo "token is {REF}"')], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {"a": "SUCCESS"}
    assert (tmp_path / "seen.txt").read_text() == f"token is {VALUE}\n"  # the task had it
    assert f"out | token is {REDACTED}\n" in log_of(run, "a")
    assert VALUE not in everything_shown(secrets, run)


def test_a_secret_in_an_environment_variable_is_masked_even_when_printed_in_pieces(
    secrets: Podium, tmp_path: Path
) -> None:
    (tmp_path / "show.py").write_text(
        "import os, sys, time\n"
        "token = os.environ['TOKEN']\n"
        "sys.stdout.write('split: ' + token[:5]); sys.stdout.flush(); time.sleep(0.3)\n"
        "sys.stdout.write(token[5:] + ' done\\n'); sys.stdout.flush()\n"
        "print('pem:', os.environ['PEM'])\n"
        "print('stderr', token, file=sys.stderr)\n"
        "sys.stdout.write('last ' + token)  # no newline at the end\n"
    )
    spec = job([{
        "task_key": "py", "spark_python_task": {"python_file": "show.py"},
        "environment_variables": {"TOKEN": REF, "PEM": "{{secrets/s/pem}}"},
    }], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {"py": "SUCCESS"}
    log = log_of(run, "py")
    assert f"out | split: {REDACTED} done\n" in log
    assert f"err | stderr {REDACTED}\n" in log
    assert log.endswith(f"out | last {REDACTED}")
    for line in PEM.splitlines():  # masked line by line
        assert line not in log
    assert VALUE not in everything_shown(secrets, run)


def test_a_failure_message_holding_the_secret_is_masked(secrets: Podium, tmp_path: Path) -> None:
    spec = job([
        sh("shell", 'echo "rejected token $TOKEN" >&2; exit 3',
           environment_variables={"TOKEN": REF}),
        # A warm interpreter would write its log unmasked: this runs in a process of its own.
        {"task_key": "function", "python_function_task": {
            "function": "builtins:int", "parameters": [REF]}},
    ], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {"shell": "FAILED", "function": "FAILED"}
    assert message(run, "shell") == f"exit code 3: rejected token {REDACTED}"
    assert REDACTED in message(run, "function") and "ValueError" in message(run, "function")
    assert REDACTED in log_of(run, "function")
    assert VALUE not in everything_shown(secrets, run)


def test_task_values_holding_the_secret_are_masked_before_anyone_sees_them(
    secrets: Podium, tmp_path: Path
) -> None:
    setter = (
        'python -c "import os; from podium import task_values as v; t = os.environ[\'T\']; '
        "v.set('token', t); v.set('deep', {'list': ['x', t], t: 1})\""
    )
    spec = job([
        sh("a", setter, environment_variables={"T": REF}),
        sh("b", 'echo "{{tasks.a.values.token}}" > got.txt', depends_on=[{"task_key": "a"}]),
    ], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {"a": "SUCCESS", "b": "SUCCESS"}
    assert tasks_by_key(run)["a"]["task_values"] == {
        "token": REDACTED, "deep": {"list": ["x", REDACTED], REDACTED: 1},
    }
    assert (tmp_path / "got.txt").read_text() == f"{REDACTED}\n"
    assert VALUE not in everything_shown(secrets, run)


def test_a_condition_on_a_secret_shows_it_masked(secrets: Podium, tmp_path: Path) -> None:
    spec = job([
        {"task_key": "same", "condition_task": {"op": "EQUAL_TO", "left": REF,
                                                "right": "{{secrets/s/k}}"}},
        sh("then", "true", depends_on=[{"task_key": "same", "outcome": "true"}]),
    ], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {"same": "SUCCESS", "then": "SUCCESS"}
    assert message(run, "same") == f"'{REDACTED}' EQUAL_TO '{REDACTED}' is true"
    assert VALUE not in everything_shown(secrets, run)


def test_a_for_each_iteration_reads_the_secret_in_its_own_run(
    secrets: Podium, tmp_path: Path
) -> None:
    spec = job([{"task_key": "loop", "for_each_task": {
        "inputs": '["one", "two"]',
        "task": sh("each", f'echo "{{{{input}}}} {REF}" >> seen.txt; echo "{REF}"'),
    }}], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {"loop": "SUCCESS"}
    assert sorted((tmp_path / "seen.txt").read_text().splitlines()) == [
        f"one {VALUE}", f"two {VALUE}"
    ]
    children = get_output(secrets, run["run_id"], "loop")["child_runs"]
    assert len(children) == 2
    shown = everything_shown(secrets, run)
    for child in children:
        child_run = get_run(secrets, child["run_id"])
        assert REDACTED in log_of(child_run, "each")
        shown += everything_shown(secrets, child_run)
    assert VALUE not in shown


def test_a_missing_secret_fails_its_task_with_how_to_add_it(
    secrets: Podium, tmp_path: Path
) -> None:
    spec = job([
        sh("no_scope", "echo {{secrets/nope/k}} > ran.txt"),
        sh("no_key", "echo {{secrets/s/missing}} > ran.txt"),
        sh("after", "true", depends_on=[{"task_key": "no_scope"}]),
        sh("anyway", "echo anyway > anyway.txt", depends_on=[{"task_key": "no_key"}],
           run_if="ALL_DONE"),
        sh("fine", f"echo {REF} > fine.txt"),
    ], tmp_path)

    run = run_job(secrets, spec)

    assert results(run) == {
        "no_scope": "FAILED", "no_key": "FAILED", "after": "UPSTREAM_FAILED",
        "anyway": "SUCCESS", "fine": "SUCCESS",
    }
    assert message(run, "no_scope") == (
        "{{secrets/nope/k}}: no secret scope 'nope'; create it with `podium secrets "
        "create-scope nope` and add the key with `podium secrets put nope k` (API: "
        "/api/2.0/secrets/scopes/create and /api/2.0/secrets/put)"
    )
    assert message(run, "no_key") == (
        "{{secrets/s/missing}}: secret scope 's' has no key 'missing'; add it with "
        "`podium secrets put s missing` (API: /api/2.0/secrets/put)"
    )
    assert not (tmp_path / "ran.txt").exists()
    assert (tmp_path / "anyway.txt").exists()
    assert (tmp_path / "fine.txt").read_text() == f"{VALUE}\n"
    assert "no secret scope 'nope'" in run["state"]["state_message"]


def test_the_secret_key_file_is_private(secrets: Podium, home: Path) -> None:
    key_file = home / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert VALUE.encode() not in key_file.read_bytes()


# --- the log masker on its own ------------------------------------------------------------


def feed_all(masker: LineMasker, chunks: list[bytes]) -> bytes:
    return b"".join(masker.feed(c) for c in chunks) + masker.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_the_masker_catches_a_secret_split_across_reads(size: int) -> None:
    data = f"a {VALUE} b\r\nc {VALUE}\nlast {VALUE}".encode()
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    out = feed_all(LineMasker((VALUE,)), chunks)
    assert out == f"a {REDACTED} b\r\nc {REDACTED}\nlast {REDACTED}".encode()


def test_the_masker_holds_back_only_unfinished_lines() -> None:
    masker = LineMasker((VALUE,))
    assert masker.feed(b"one\ntw") == b"one\n"
    assert masker.feed(b"o\n") == b"two\n"
    assert masker.feed(b"") == b""


def test_the_masker_writes_a_very_long_line_in_masked_pieces() -> None:
    masker = LineMasker((VALUE,))
    long_line = (f"{VALUE} " * (MAX_HELD_BYTES // 10)).encode()
    out = b""
    for i in range(0, len(long_line), 1000):
        out += masker.feed(long_line[i:i + 1000])
    assert out  # written before the line ends
    out += masker.feed(b"\n") + masker.flush()
    assert VALUE.encode() not in out
    assert out == long_line.replace(VALUE.encode(), REDACTED.encode()) + b"\n"


def test_the_masker_without_secrets_passes_bytes_through() -> None:
    masker = LineMasker(())
    assert masker.feed(b"partial") == b"partial"
    assert masker.flush() == b""
