"""Notifications with real parts: a real SMTP server (aiosmtpd) and a real HTTP receiver
on loopback, runs driven by the real engine with real subprocesses, and one end to end
through a real ``podium server``."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from podium.engine import Engine
from podium.notify import Notifier, verify
from podium.services import Podium, cancel_run, get_run, open_podium, repair_run, submit_run
from podium.spec import LoadedJob
from tests.conftest import settings_for
from tests.integration import server as srv
from tests.integration.helpers import PODIUM, job, wait_for

PUBLIC = "http://podium.example:8000"
ADDRESS = "ops@example.com"
SECRET = "s3cret-key"


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


# ---- a real SMTP server and a real HTTP receiver ---------------------------------------


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]

    def body(self, index: int = 0) -> str:
        with self.lock:
            part = self.messages[index].get_body(("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Receiver:
    """A webhook receiver: records every request, answers ``statuses`` in turn (then
    200)."""

    url: str
    statuses: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = srv.free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver("", [])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                found.requests.append((dict(self.headers.items()), body))
                status = found.statuses.pop(0) if found.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{http.server_address[1]}/hook"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        http.shutdown()
        http.server_close()


@pytest.fixture
def notified(home: Path, mailbox: tuple[Mailbox, int], receiver: Receiver) -> Iterator[Podium]:
    """Podium whose settings point at the mailbox and at two webhook destinations."""
    _, port = mailbox
    p = open_podium(settings_for(
        home, PODIUM_MAX_PARALLEL_TASKS="2", PODIUM_CANCEL_GRACE_SECONDS="2",
        PODIUM_SMTP__HOST="127.0.0.1", PODIUM_SMTP__PORT=str(port),
        PODIUM_SMTP__FROM_ADDRESS="podium@example.com",
        PODIUM_DESTINATIONS__HOOK=receiver.url, PODIUM_DESTINATIONS__HOOK__SECRET=SECRET,
        PODIUM_DESTINATIONS__CHAT=receiver.url, PODIUM_DESTINATIONS__CHAT__FORMAT="slack",
    ))
    yield p
    p.close()


# ---- driving runs with a notifier ------------------------------------------------------


def notifier_for(podium: Podium, **options: Any) -> Notifier:
    options = {"backoff_seconds": 0.05, "health_seconds": 0.1, **options}
    return Notifier(podium.sessions, podium.settings, PUBLIC, **options)


async def settle(notifier: Notifier) -> None:
    deadline = time.monotonic() + 60
    while not notifier.settled():
        assert time.monotonic() < deadline, "the notifier did not settle within 60 s"
        await asyncio.sleep(0.02)


def run_notified(podium: Podium, loaded: LoadedJob, **options: Any) -> dict[str, Any]:
    """Run ``loaded`` to its end with a notifier beside the engine; wait until every
    notification it caused is delivered or FAILED; the run in the runs/get shape."""
    return drive_notified(podium, submit_run(podium, loaded, {}), **options)


def drive_notified(podium: Podium, run_id: int, **options: Any) -> dict[str, Any]:
    """Drive the recorded run ``run_id`` as ``run_notified`` does."""

    async def main() -> int:
        notifier = notifier_for(podium, **options)
        loop = asyncio.create_task(notifier.run())
        engine = Engine(podium.sessions, podium.settings, on_event=notifier.on_event)
        try:
            await engine.execute(run_id)
        finally:
            await engine.close()
        await settle(notifier)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        return run_id

    return get_run(podium, asyncio.run(main()))


def notes(run: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(task key, event, destination, state) of each notification of the run."""
    return [(n.get("task_key", ""), n["event"], n["destination"], n["state"])
            for n in run["notifications"]]


def mail(**events: list[str]) -> dict[str, list[str]]:
    return {"email_notifications": {k: v for k, v in events.items()}}


# ---- mail ------------------------------------------------------------------------------


def test_a_failure_mail_says_what_failed_where_with_the_log_tail_and_the_link(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    spec = job(
        [{"task_key": "ok", "shell_task": sh("echo fine")},
         {"task_key": "match", "depends_on": [{"task_key": "ok"}],
          "shell_task": sh("for i in $(seq 1 30); do echo line $i; done; "
                           "echo 'boom: no orders' >&2; exit 3")}],
        tmp_path, name="seed", email_notifications={"on_failure": [ADDRESS]},
    )
    run = run_notified(notified, spec)
    assert run["state"]["result_state"] == "FAILED"
    assert box.subjects() == [f"[Podium] FAILED: seed run {run['run_id']}"]
    message = box.messages[0]
    assert message["To"] == ADDRESS
    assert message["From"] == "podium@example.com"
    body = box.body()
    assert "task 'match' FAILED" in body
    assert "match  TERMINATED FAILED" in body
    assert "ok     TERMINATED SUCCESS" in body
    assert "Last 20 lines of the log of task 'match'" in body
    tail = [ln.removeprefix("  | ") for ln in body.splitlines() if ln.startswith("  | ")]
    assert tail == [f"line {i}" for i in range(12, 31)] + ["boom: no orders"]  # no stamps
    assert f"Run page: {PUBLIC}/runs/{run['run_id']}" in body
    assert f"home {notified.settings.home}" in body
    assert notes(run) == [("", "on_failure", ADDRESS, "SENT")]
    assert run["notifications"][0]["attempts"] == 1


def test_a_secret_the_task_printed_stays_masked_in_the_mail_and_the_payload(
    notified: Podium, mailbox: tuple[Mailbox, int], receiver: Receiver, tmp_path: Path
) -> None:
    from podium.services import local_principal
    from podium.services.secrets import create_scope, put_secret

    value = "hunter2-very-secret"
    create_scope(notified, "s", local_principal())
    put_secret(notified, "s", "k", value, local_principal())
    box, _ = mailbox
    spec = job([{"task_key": "leaky", "shell_task": sh('echo "token=$TOKEN"; exit 1'),
                 "environment_variables": {"TOKEN": "{{secrets/s/k}}"}}], tmp_path,
               email_notifications={"on_failure": [ADDRESS]},
               webhook_notifications={"on_failure": [{"id": "hook"}]})
    run_notified(notified, spec)
    body = box.body()
    assert "token=" in body and value not in body
    [(_, payload)] = receiver.requests
    assert b"token=" in payload and value.encode() not in payload


def test_start_and_success_mails(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    spec = job([{"task_key": "t", "shell_task": sh("echo hi")}], tmp_path, name="nightly",
               **mail(on_start=[ADDRESS], on_success=[ADDRESS, "lead@example.com"],
                      on_failure=[ADDRESS]))
    run = run_notified(notified, spec)
    n = run["run_id"]
    assert sorted(box.subjects()) == sorted([
        f"[Podium] STARTED: nightly run {n}", f"[Podium] SUCCESS: nightly run {n}",
        f"[Podium] SUCCESS: nightly run {n}",
    ])
    assert sorted(str(m["To"]) for m in box.messages) == sorted(
        [ADDRESS, ADDRESS, "lead@example.com"])
    assert sorted(notes(run)) == sorted([
        ("", "on_start", ADDRESS, "SENT"), ("", "on_success", ADDRESS, "SENT"),
        ("", "on_success", "lead@example.com", "SENT"),
    ])


def test_a_task_failing_three_times_sends_one_failure_mail(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    spec = job([{"task_key": "flaky", "shell_task": sh("echo try; exit 1"),
                 "max_retries": 2, "min_retry_interval_millis": 0,
                 **mail(on_failure=[ADDRESS], on_start=[ADDRESS])}],
               tmp_path, name="retrying")
    run = run_notified(notified, spec)
    assert len(run["tasks"][0]["attempts"]) == 3
    n = run["run_id"]
    assert sorted(box.subjects()) == [f"[Podium] FAILED: retrying run {n}, task flaky",
                                      f"[Podium] STARTED: retrying run {n}, task flaky"]
    assert sorted(notes(run)) == [("flaky", "on_failure", ADDRESS, "SENT"),
                                  ("flaky", "on_start", ADDRESS, "SENT")]


def test_a_repaired_run_that_fails_again_notifies_again(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    spec = job([{"task_key": "boom", "shell_task": sh("exit 1"),
                 **mail(on_failure=[ADDRESS])}], tmp_path, name="repaired")
    run_id = run_notified(notified, spec)["run_id"]

    repair_run(notified, run_id)
    run = drive_notified(notified, run_id)

    assert box.subjects() == [f"[Podium] FAILED: repaired run {run_id}, task boom"] * 2
    assert [n for n in notes(run) if n[1] == "on_failure"] == [
        ("boom", "on_failure", ADDRESS, "SENT")] * 2


@pytest.mark.parametrize("last_attempt_only", [False, True])
def test_alert_on_last_attempt_waits_for_the_attempt_no_retry_follows(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path, last_attempt_only: bool
) -> None:
    box, _ = mailbox
    marker = tmp_path / "tried"
    spec = job([{"task_key": "flaky", "max_retries": 1, "min_retry_interval_millis": 0,
                 "shell_task": sh(f"test -e {marker} || {{ touch {marker}; exit 1; }}"),
                 "notification_settings": {"alert_on_last_attempt": last_attempt_only},
                 **mail(on_failure=[ADDRESS])}], tmp_path, name="second_time_lucky")
    run = run_notified(notified, spec)
    assert run["state"]["result_state"] == "SUCCESS"
    if last_attempt_only:
        assert box.subjects() == []
    else:  # the first failure tells at once, saying it will be retried
        assert box.subjects() == [
            f"[Podium] FAILED: second_time_lucky run {run['run_id']}, task flaky"]
        assert "attempt 0 ended FAILED" in box.body()
        assert "retried" in box.body()


@pytest.mark.parametrize("mute", [False, True])
def test_canceled_and_skipped_tasks_notify_unless_told_not_to(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path, mute: bool
) -> None:
    box, _ = mailbox
    settings = {"no_alert_for_canceled_runs": mute, "no_alert_for_skipped_runs": mute}
    started = tmp_path / "started"
    spec = job(
        [{"task_key": "slow", "shell_task": sh(f"touch {started}; sleep 60")},
         {"task_key": "after", "depends_on": [{"task_key": "slow"}],
          "shell_task": sh("echo never"), "notification_settings": settings,
          **mail(on_failure=["after@example.com"])}],
        tmp_path, name="stopped", notification_settings=settings,
        **mail(on_failure=[ADDRESS]),
    )

    async def main() -> int:
        notifier = notifier_for(notified)
        loop = asyncio.create_task(notifier.run())
        run_id = submit_run(notified, spec, {})
        engine = Engine(notified.sessions, notified.settings, on_event=notifier.on_event)
        drive = asyncio.create_task(engine.execute(run_id))
        while not started.exists():
            await asyncio.sleep(0.02)
        cancel_run(notified, run_id)
        await drive
        await engine.close()
        await settle(notifier)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        return run_id

    run = get_run(notified, asyncio.run(main()))
    assert run["state"]["result_state"] == "CANCELED"
    n = run["run_id"]
    if mute:
        assert box.subjects() == []
        assert run["notifications"] == []
    else:
        assert sorted(box.subjects()) == [f"[Podium] CANCELED: stopped run {n}",
                                          f"[Podium] UPSTREAM_CANCELED: stopped run {n}, "
                                          "task after"]


def test_failing_for_each_iterations_send_one_mail_not_one_each(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    spec = job([{"task_key": "each", **mail(on_failure=[ADDRESS]), "for_each_task": {
        "inputs": "[1, 2, 3]", "concurrency": 3,
        "task": {"task_key": "one", "shell_task": sh("exit 1"), **mail(on_failure=[ADDRESS])},
    }}], tmp_path, name="fan")
    run = run_notified(notified, spec)
    assert box.subjects() == [f"[Podium] FAILED: fan run {run['run_id']}, task each"]


def test_a_duration_warning_is_sent_once_while_the_run_is_still_running(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    release = tmp_path / "release"
    spec = job([{"task_key": "long", "shell_task": sh(f"while [ ! -e {release} ]; do "
                                                     "sleep 0.05; done")}],
               tmp_path, name="slowpoke",
               health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN",
                                  "value": 1}]},
               **mail(on_duration_warning_threshold_exceeded=[ADDRESS]))

    async def main() -> int:
        notifier = notifier_for(notified)
        loop = asyncio.create_task(notifier.run())
        run_id = submit_run(notified, spec, {})
        engine = Engine(notified.sessions, notified.settings, on_event=notifier.on_event)
        drive = asyncio.create_task(engine.execute(run_id))
        while not box.subjects():
            assert not drive.done(), "the run ended before its warning"
            await asyncio.sleep(0.02)
        running = get_run(notified, run_id)["state"]["life_cycle_state"]
        await asyncio.sleep(0.5)  # five more health checks: none may warn again
        release.touch()
        await drive
        await engine.close()
        await settle(notifier)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        assert running == "RUNNING"
        return run_id

    run = get_run(notified, asyncio.run(main()))
    assert box.subjects() == [f"[Podium] RUNNING LONG: slowpoke run {run['run_id']}"]
    assert "running for" in box.body()
    assert notes(run) == [("", "on_duration_warning_threshold_exceeded", ADDRESS, "SENT")]


def test_mail_that_cannot_be_sent_fails_the_notification_not_the_run(
    home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = srv.free_port()  # nothing listens there
    podium = open_podium(settings_for(home, PODIUM_SMTP__HOST="127.0.0.1",
                                      PODIUM_SMTP__PORT=str(closed)))
    try:
        spec = job([{"task_key": "t", "shell_task": sh("echo hi")}], tmp_path,
                   **mail(on_success=[ADDRESS]))
        run = run_notified(podium, spec, max_attempts=2)
    finally:
        podium.close()
    assert run["state"]["result_state"] == "SUCCESS"
    [note] = run["notifications"]
    assert (note["state"], note["attempts"]) == ("FAILED", 2)
    assert "ConnectionRefusedError" in note["error"]
    assert any("failed after 2 attempt(s)" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)


def test_mail_without_an_smtp_server_configured_says_how_to_configure_one(
    podium: Podium, tmp_path: Path
) -> None:
    spec = job([{"task_key": "t", "shell_task": sh("echo hi")}], tmp_path,
               **mail(on_success=[ADDRESS]))
    run = run_notified(podium, spec)
    [note] = run["notifications"]
    assert (note["state"], note["attempts"]) == ("FAILED", 1)  # not retried
    assert "PODIUM_SMTP__HOST" in note["error"]


def test_notifications_pending_at_a_crash_are_delivered_after_a_restart(
    notified: Podium, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, _ = mailbox
    spec = job([{"task_key": "t", "shell_task": sh("exit 1")}], tmp_path, name="crashy",
               **mail(on_failure=[ADDRESS]))

    async def first() -> int:  # records the notification, dies before sending it
        notifier = notifier_for(notified)
        run_id = submit_run(notified, spec, {})
        engine = Engine(notified.sessions, notified.settings, on_event=notifier.on_event)
        await engine.execute(run_id)
        await engine.close()
        await notifier.close()
        return run_id

    run_id = asyncio.run(first())
    assert notes(get_run(notified, run_id)) == [("", "on_failure", ADDRESS, "PENDING")]
    assert box.subjects() == []

    async def second() -> None:
        notifier = notifier_for(notified)
        loop = asyncio.create_task(notifier.run())
        await settle(notifier)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    asyncio.run(second())
    assert box.subjects() == [f"[Podium] FAILED: crashy run {run_id}"]
    assert notes(get_run(notified, run_id)) == [("", "on_failure", ADDRESS, "SENT")]


# ---- webhooks --------------------------------------------------------------------------


def test_a_webhook_is_signed_and_retried_with_back_off_after_errors(
    notified: Podium, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.statuses = [500, 500]
    spec = job([{"task_key": "t", "shell_task": sh("echo oops; exit 2")}], tmp_path,
               name="hooked", webhook_notifications={"on_failure": [{"id": "hook"}]})
    run = run_notified(notified, spec)
    assert len(receiver.requests) == 3
    ids = {json.loads(body)["notification_id"] for _, body in receiver.requests}
    assert len(ids) == 1  # one notification, delivered on the third try
    headers, body = receiver.requests[-1]
    assert verify(SECRET, headers["X-Podium-Timestamp"], body, headers["X-Podium-Signature"])
    assert not verify("wrong", headers["X-Podium-Timestamp"], body,
                      headers["X-Podium-Signature"])
    assert headers["X-Podium-Event"] == "jobs.on_failure"
    payload = json.loads(body)
    assert payload["event_type"] == "jobs.on_failure"
    assert payload["job"] == {"job_id": run["job_id"], "name": "hooked"}
    assert payload["run"]["run_id"] == run["run_id"]
    assert payload["run"]["state"]["result_state"] == "FAILED"
    [task] = payload["run"]["tasks"]
    assert task["task_key"] == "t" and task["log_tail"] == ["oops"]
    assert payload["run_page_url"] == f"{PUBLIC}/runs/{run['run_id']}"
    [note] = run["notifications"]
    assert (note["channel"], note["destination"], note["state"], note["attempts"]) == (
        "webhook", "hook", "SENT", 3)
    assert "error" not in note


def test_a_slack_destination_gets_a_slack_message(
    notified: Podium, receiver: Receiver, tmp_path: Path
) -> None:
    spec = job([{"task_key": "t", "shell_task": sh("true")}], tmp_path, name="chatty",
               webhook_notifications={"on_success": [{"id": "chat"}]})
    run = run_notified(notified, spec)
    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert list(payload) == ["text"]
    assert f"SUCCESS: chatty run {run['run_id']}" in payload["text"]
    assert f"{PUBLIC}/runs/{run['run_id']}" in payload["text"]
    assert "X-Podium-Signature" not in headers  # no secret configured for it


def test_an_unknown_destination_fails_at_once_and_says_how_to_configure_it(
    notified: Podium, tmp_path: Path
) -> None:
    spec = job([{"task_key": "t", "shell_task": sh("true")}], tmp_path,
               webhook_notifications={"on_success": [{"id": "pager"}]})
    run = run_notified(notified, spec)
    [note] = run["notifications"]
    assert (note["state"], note["attempts"]) == ("FAILED", 1)
    assert "PODIUM_DESTINATIONS__PAGER" in note["error"]


# ---- end to end ------------------------------------------------------------------------


def test_a_server_mails_a_failure_with_a_link_to_itself(
    home: Path, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with srv.running(home, workspace, PODIUM_SMTP__HOST="127.0.0.1",
                     PODIUM_SMTP__PORT=str(port)) as server, server.client() as client:
        answer = client.post("/api/2.2/jobs/create", json={
            "name": "served", "email_notifications": {"on_failure": [ADDRESS]},
            "tasks": [{"task_key": "bad", "shell_task": sh("echo kaput; exit 1")}],
        })
        assert answer.status_code == 200, answer.text
        run_id = client.post("/api/2.2/jobs/run-now",
                             json={"job_id": answer.json()["job_id"]}).json()["run_id"]

        def sent() -> bool:
            run = client.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
            return [n["state"] for n in run.get("notifications", [])] == ["SENT"]

        wait_for(sent, what="the failure mail")
    assert box.subjects() == [f"[Podium] FAILED: served run {run_id}"]
    body = box.body()
    assert "kaput" in body
    assert f"{server.url}/runs/{run_id}" in body


def test_podium_run_without_a_server_sends_its_mail_before_it_exits(
    home: Path, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "local", "email_notifications": {"on_failure": [ADDRESS]},
        "tasks": [{"task_key": "bad", "shell_task": sh("echo kaput; exit 1")}],
    }))
    env = {**os.environ, "PODIUM_HOME": str(home), "PODIUM_SMTP__HOST": "127.0.0.1",
           "PODIUM_SMTP__PORT": str(port)}

    done = subprocess.run([*PODIUM, "run", str(spec)], env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    assert box.subjects() == ["[Podium] FAILED: local run 1"]
    assert "kaput" in box.body() and "podium runs show 1" in box.body()


def test_a_notification_is_taken_by_one_notifier_and_retaken_after_its_lease(
    any_podium: Podium, tmp_path: Path
) -> None:
    podium = any_podium
    from datetime import timedelta

    from podium.engine import utcnow
    from podium.store import notifications as nq

    run_id = submit_run(podium, job([{"task_key": "t", "shell_task": sh("true")}], tmp_path),
                        {})
    now = utcnow()
    item = nq.NewNotification(run_id, "", "on_failure", "email", ADDRESS)
    with podium.sessions.begin() as session:
        assert nq.record(session, [item, item], now) == 1
        assert nq.record(session, [item], now) == 0  # once, however often it is recorded
        [row] = nq.pending(session, now)
        assert nq.claim(session, row.id, 0, now)
        assert not nq.claim(session, row.id, 0, now)  # a second server, or a stale look
        assert nq.pending(session, now + timedelta(minutes=1)) == []
        # Its notifier died mid-delivery: after the lease another takes it again.
        [again] = nq.pending(session, now + nq.LEASE + timedelta(seconds=1))
        assert nq.claim(session, again.id, 1, now + nq.LEASE + timedelta(seconds=1))


# ---- insight alerts ----------------------------------------------------------------------


def test_flaky_and_unusual_runs_alert_those_who_opted_in(
    notified: Podium, mailbox: tuple[Mailbox, int], receiver: Receiver, tmp_path: Path
) -> None:
    box, _ = mailbox
    marker = tmp_path / "slow"

    def spec() -> LoadedJob:
        # fetch fails on each run's first attempt and passes on the retry; load is quick
        # until the marker file asks it to be slow.
        return job(
            [{"task_key": "fetch", "max_retries": 1, "min_retry_interval_millis": 0,
              "shell_task": sh('test -f "$PODIUM_RUN_ID.try" || { touch "$PODIUM_RUN_ID.try";'
                               ' echo "503 from upstream" >&2; exit 1; }')},
             {"task_key": "load", "depends_on": [{"task_key": "fetch"}],
              "shell_task": sh(f"if [ -f {marker} ]; then sleep 2; else sleep 0.1; fi")}],
            tmp_path, name="alerting",
            email_notifications={"on_flaky": [ADDRESS], "on_anomaly": [ADDRESS]},
            webhook_notifications={"on_flaky": [{"id": "hook"}]},
        )

    first = run_notified(notified, spec())
    assert first["state"]["result_state"] == "SUCCESS"
    assert notes(first) == []  # flaky once is not yet a pattern; nothing to compare with
    second = run_notified(notified, spec())
    assert sorted(notes(second)) == [("", "on_flaky", "hook", "SENT"),
                                     ("", "on_flaky", ADDRESS, "SENT")]
    assert box.subjects() == [f"[Podium] FLAKY: alerting run {second['run_id']}"]
    body = box.body()
    assert "Passed only on a retry, and not for the first time:" in body
    assert "fetch: failed, then succeeded when tried again, in 2 of the last 2 runs" in body
    assert "503 from upstream" in body
    [payload] = [p for p in (json.loads(body) for _, body in receiver.requests)
                 if p.get("event_type") == "jobs.on_flaky"]
    assert payload["insights"][0].startswith("fetch: ")

    for _ in range(3):  # a baseline of quick loads
        run_notified(notified, spec())
    marker.touch()
    slow = run_notified(notified, spec())
    events = [n[1] for n in notes(slow) if n[2] == ADDRESS]
    assert sorted(events) == ["on_anomaly", "on_flaky"]
    unusual = next(i for i, s in enumerate(box.subjects()) if s.startswith("[Podium] UNUSUAL"))
    assert box.subjects()[unusual] == f"[Podium] UNUSUAL: alerting run {slow['run_id']}"
    assert "load:" in box.body(unusual)


def test_no_alert_without_opting_in(notified: Podium, mailbox: tuple[Mailbox, int],
                                    tmp_path: Path) -> None:
    box, _ = mailbox
    flaky = job([{"task_key": "fetch", "max_retries": 1, "min_retry_interval_millis": 0,
                  "shell_task": sh('test -f "$PODIUM_RUN_ID.try" || { touch '
                                   '"$PODIUM_RUN_ID.try"; exit 1; }')}],
                tmp_path, name="quiet", email_notifications={"on_failure": [ADDRESS]})
    for _ in range(3):
        run = run_notified(notified, flaky)
        assert run["state"]["result_state"] == "SUCCESS" and notes(run) == []
    assert not any("FLAKY" in s for s in box.subjects())
