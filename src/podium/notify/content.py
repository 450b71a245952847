"""What a notification says: the mail's subject and text, the webhook's JSON payload
(documented in the README, "Notifications"), and the signature that proves a payload
came from this Podium. Pure: the facts about the run are gathered by the notifier."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SIGNATURE_HEADER = "X-Podium-Signature"
TIMESTAMP_HEADER = "X-Podium-Timestamp"
EVENT_HEADER = "X-Podium-Event"
LOG_TAIL_LINES = 20
_FAILED = ("FAILED", "TIMEDOUT", "INTERNAL_ERROR")
_MORE_LOGS = 3  # a run-level mail shows the logs of at most this many failed tasks
_HEADLINES = {"on_anomaly": "UNUSUAL", "on_flaky": "FLAKY"}
_DETAILS = {"on_anomaly": "Unusual against the job's earlier runs",
            "on_flaky": "Passed only on a retry, and not for the first time"}


@dataclass(frozen=True, slots=True)
class TaskFacts:
    task_key: str
    life_cycle_state: str
    result_state: str | None
    message: str
    attempts: int  # how many attempts were started
    failed_attempt: int | None = None  # the number of its latest failed attempt
    failed_result: str | None = None  # how that attempt ended
    failed_message: str = ""
    log_path: str = ""  # that attempt's log
    log_tail: list[str] = field(default_factory=list)  # stamps stripped, secrets masked

    @property
    def failed(self) -> bool:
        """Whether the task failed, or its latest attempt did and it waits for a retry."""
        return (self.result_state in _FAILED or self.life_cycle_state == "INTERNAL_ERROR"
                or (self.life_cycle_state == "WAITING_FOR_RETRY"
                    and self.failed_attempt is not None))


@dataclass(frozen=True, slots=True)
class RunFacts:
    run_id: int
    job_id: int
    job_name: str
    run_name: str
    life_cycle_state: str
    result_state: str | None
    message: str
    started_at: datetime | None
    ended_at: datetime | None
    trigger: str
    tasks: list[TaskFacts]
    host: str
    home: str

    def task(self, key: str) -> TaskFacts | None:
        return next((t for t in self.tasks if t.task_key == key), None)


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    payload: dict[str, Any]  # the webhook's JSON document


def run_page_url(public_url: str | None, run_id: int) -> str:
    """The run's page in the web UI. The one place that knows its address; without a
    server address (a `podium run` with no ``server.public_url``), "" ."""
    if not public_url:
        return ""
    return f"{public_url.rstrip('/')}/runs/{run_id}"


def render(facts: RunFacts, task_key: str, event: str, page_url: str, now: datetime,
           notification_id: int = 0, details: list[str] | None = None) -> Message:
    """The notification ``notification_id`` of ``event`` of the run (``task_key`` "") or
    of one task; ``details``: the evidence of an insight alert (on_anomaly, on_flaky)."""
    task = facts.task(task_key) if task_key else None
    word = _headline(facts, task, event)
    subject = f"[Podium] {word}: {facts.job_name} run {facts.run_id}" + (
        f", task {task_key}" if task_key else ""
    )
    lines = [subject.removeprefix("[Podium] "), ""]
    lines.append(f"Job {facts.job_name!r} (job {facts.job_id}), run {facts.run_id} "
                 f"({facts.run_name}), triggered by {facts.trigger}")
    if task is not None:
        lines.append(f"Task {task.task_key!r}: {_state(task.life_cycle_state, task.result_state)}"
                     f" after {task.attempts} attempt(s)" + _colon(task.message))
        if event == "on_failure" and task.failed_attempt is not None:
            retried = "" if task.result_state in _FAILED else "; the task was retried"
            lines.append(f"  attempt {task.failed_attempt} ended {task.failed_result}"
                         + _colon(task.failed_message) + retried)
        if task.life_cycle_state == "WAITING_FOR_RETRY":
            lines.append("  the task will be retried")
    lines.append(f"Run: {_state(facts.life_cycle_state, facts.result_state)}"
                 + _colon(facts.message))
    if facts.started_at is not None:
        end = facts.ended_at or now
        lines.append(f"Started {facts.started_at:%Y-%m-%d %H:%M:%S} UTC, "
                     f"{'ran' if facts.ended_at else 'running for'} "
                     f"{_duration((end - facts.started_at).total_seconds())}")
    if details:
        lines += ["", _DETAILS.get(event, "Details") + ":"]
        lines += [f"  - {line}" for line in details]
    lines += ["", "Tasks:"]
    width = max((len(t.task_key) for t in facts.tasks), default=0)
    lines += [f"  {t.task_key:<{width}}  {_state(t.life_cycle_state, t.result_state)}"
              + _colon(t.message) for t in facts.tasks]
    for shown in _logs_to_show(facts, task, event):
        lines += ["", f"Last {len(shown.log_tail)} lines of the log of task {shown.task_key!r} "
                  f"({shown.log_path}):"]
        lines += [f"  | {line}" for line in shown.log_tail]
    page = page_url or f"none (no server); `podium runs show {facts.run_id}` on that host"
    lines += ["", f"Where: host {facts.host}, home {facts.home}", f"Run page: {page}"]
    payload = _payload(facts, task_key, event, page_url, subject, now)
    payload["notification_id"] = notification_id  # the same in each retry of a delivery
    if details:
        payload["insights"] = details
    return Message(subject, "\n".join(lines) + "\n", payload)


def slack_payload(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook body: the subject, the link, and what failed."""
    run = message.payload["run"]
    page = message.payload["run_page_url"]
    text = f"*{message.subject}*" + (f"\n<{page}|Open run {run['run_id']}>" if page else "")
    failed = [t for t in run["tasks"] if t.get("log_tail") is not None]
    for task in failed:
        text += f"\nTask `{task['task_key']}`: {task['state'].get('state_message', '')}"
    return {"text": text}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Podium-Signature`` value: ``sha256=`` and the hex HMAC-SHA256, keyed with
    the destination's secret, of the timestamp header, a dot, and the raw body. Signing
    the timestamp too lets a receiver refuse replays of old deliveries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` sent at ``timestamp``."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


# ---- helpers -------------------------------------------------------------------------
def _headline(facts: RunFacts, task: TaskFacts | None, event: str) -> str:
    if event == "on_start":
        return "STARTED"
    if event == "on_success":
        return "SUCCESS"
    if event == "on_duration_warning_threshold_exceeded":
        return "RUNNING LONG"
    if event in _HEADLINES:
        return _HEADLINES[event]
    if task is not None:
        if task.result_state in _FAILED or task.life_cycle_state == "INTERNAL_ERROR":
            return task.result_state or task.life_cycle_state
        if task.result_state in ("CANCELED", "UPSTREAM_FAILED", "UPSTREAM_CANCELED"):
            return task.result_state or "FAILED"
        return task.failed_result or task.result_state or "FAILED"
    return facts.result_state or facts.life_cycle_state


def _logs_to_show(facts: RunFacts, task: TaskFacts | None, event: str) -> list[TaskFacts]:
    if event != "on_failure":
        return []
    if task is not None:
        return [task] if task.log_tail else []
    return [t for t in facts.tasks if t.failed and t.log_tail][:_MORE_LOGS]


def _payload(facts: RunFacts, task_key: str, event: str, page_url: str, summary: str,
             now: datetime) -> dict[str, Any]:
    def state(life: str, result: str | None, message: str) -> dict[str, Any]:
        out: dict[str, Any] = {"life_cycle_state": life, "state_message": message}
        if result:
            out["result_state"] = result
        return out

    tasks = []
    for t in facts.tasks:
        entry: dict[str, Any] = {
            "task_key": t.task_key, "attempt_number": max(t.attempts - 1, 0),
            "state": state(t.life_cycle_state, t.result_state, t.message),
        }
        if t.failed:
            entry["log_tail"] = t.log_tail
        tasks.append(entry)
    return {
        "event_type": f"jobs.{event}",
        "task_key": task_key or None,
        "summary": summary,
        "job": {"job_id": facts.job_id, "name": facts.job_name},
        "run": {
            "run_id": facts.run_id, "job_id": facts.job_id, "run_name": facts.run_name,
            "trigger": facts.trigger,
            "state": state(facts.life_cycle_state, facts.result_state, facts.message),
            "start_time": _millis(facts.started_at), "end_time": _millis(facts.ended_at),
            "tasks": tasks,
        },
        "run_page_url": page_url,
        "host": facts.host,
        "sent_at": _millis(now),
    }


def _state(life: str, result: str | None) -> str:
    return f"{life} {result}" if result else life


def _colon(message: str) -> str:
    return f": {message}" if message else ""


def _millis(at: datetime | None) -> int:
    return int(at.timestamp() * 1000) if at else 0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
