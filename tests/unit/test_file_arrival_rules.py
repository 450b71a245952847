"""File-arrival triggers, the pure parts: the url forms, the new-file and timing rules of
podium.core.arrivals, and the ``{{job.trigger...}}`` references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podium.core.arrivals import ListedFile, PendingFile, due_at, observe
from podium.core.values import ValueContext, lookup, resolve_text
from podium.errors import InvalidJobSpec
from podium.spec import parse_job
from podium.spec.automation import file_arrival_path
from podium.spec.refs import check_reference

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("url", "path"), [
    ("/data/in", "/data/in"),
    ("incoming/orders", "incoming/orders"),
    ("file:///data/in%20box", "/data/in box"),
    ("file://localhost/data/in", "/data/in"),
    ("file:/data/in", "/data/in"),
    ("/Volumes/main/raw/landing/", "/Volumes/main/raw/landing/"),
])
def test_local_directories_are_accepted(url: str, path: str) -> None:
    assert file_arrival_path(url) == path


@pytest.mark.parametrize(("url", "says"), [
    ("s3://bucket/landing", "s3: URL"),
    ("abfss://c@acct.dfs.core.windows.net/x", "abfss: URL"),
    ("dbfs:/mnt/landing", "dbfs: URL"),
    ("file://otherhost/data", "host 'otherhost'"),
    ("file:relative", "not an absolute file: URL"),
    ("/data/*.csv", "wildcard"),
])
def test_other_urls_are_a_problem_at_the_url(url: str, says: str) -> None:
    with pytest.raises(InvalidJobSpec) as caught:
        parse_job({
            "name": "j", "tasks": [{"task_key": "a", "shell_task": {"command": ["true"]}}],
            "trigger": {"file_arrival": {"url": url}},
        })
    [problem] = caught.value.problems
    assert (problem.code, problem.loc) == ("bad-file-arrival-url", "trigger.file_arrival.url")
    assert says in problem.msg


def listed(size: int = 1, mtime_ns: int = 10, changed_ns: int | None = None) -> ListedFile:
    return ListedFile(size, mtime_ns, mtime_ns if changed_ns is None else changed_ns)


def test_observe_sorts_files_into_seen_there_before_and_new() -> None:
    listing = {"/d/seen": listed(), "/d/old": listed(mtime_ns=5), "/d/new": listed(mtime_ns=20),
               "/d/moved_in": listed(mtime_ns=5, changed_ns=30)}
    pending, baseline = observe({}, listing, {"/d/seen"}, cutoff_ns=10, now=T0)
    assert set(baseline) == {"/d/old"}
    assert pending == {"/d/new": PendingFile(1, 20, T0), "/d/moved_in": PendingFile(1, 5, T0)}


def test_observe_keeps_the_time_of_an_unchanged_file_and_renews_a_changed_one() -> None:
    before = {"/d/same": PendingFile(1, 20, T0), "/d/grew": PendingFile(1, 20, T0),
              "/d/gone": PendingFile(1, 20, T0)}
    later = T0 + timedelta(seconds=9)
    listing = {"/d/same": listed(1, 20), "/d/grew": listed(2, 25)}
    pending, baseline = observe(before, listing, set(), cutoff_ns=0, now=later)
    assert pending == {"/d/same": PendingFile(1, 20, T0), "/d/grew": PendingFile(2, 25, later)}
    assert baseline == {}


def test_due_at_waits_for_quiet_and_for_the_gap_between_triggers() -> None:
    pending = {"/a": PendingFile(1, 1, T0), "/b": PendingFile(1, 1, T0 + timedelta(seconds=5))}
    assert due_at({}, wait_after_last_change_seconds=0, min_time_between_triggers_seconds=0,
                  last_triggered_at=None) is None
    assert due_at(pending, wait_after_last_change_seconds=60,
                  min_time_between_triggers_seconds=0,
                  last_triggered_at=None) == T0 + timedelta(seconds=65)
    assert due_at(pending, wait_after_last_change_seconds=0,
                  min_time_between_triggers_seconds=600,
                  last_triggered_at=T0) == T0 + timedelta(seconds=600)


def context(**fields: Any) -> ValueContext:
    return ValueContext(job_id=1, job_name="j", run_id=2, start_time=T0, parameters={},
                        **fields)


def test_trigger_references_resolve_from_the_runs_trigger() -> None:
    ctx = context(trigger="FILE_ARRIVAL", trigger_info={
        "location": "file:///in", "files": ["/in/a.csv", "/in/b c.csv"]})
    assert lookup("job.trigger.type", ctx) == "FILE_ARRIVAL"
    assert lookup("job.trigger.file_arrival.location", ctx) == "file:///in"
    assert resolve_text("{{job.trigger.file_arrival.files}}", ctx) == (
        '["/in/a.csv", "/in/b c.csv"]')
    manual = context(trigger="ONE_TIME")
    assert resolve_text("{{job.trigger.type}}:{{job.trigger.file_arrival.location}}:"
                        "{{job.trigger.file_arrival.files}}", manual) == "ONE_TIME::[]"


@pytest.mark.parametrize("expr", [
    "job.trigger.type", "job.trigger.file_arrival.location", "job.trigger.file_arrival.files",
])
def test_trigger_references_pass_validation(expr: str) -> None:
    assert check_reference(expr, task_keys=set(), upstream=set(), parameters=set()) is None
