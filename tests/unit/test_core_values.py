"""Tests for podium.core.values: resolving {{...}} references against a run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.core.plan import TaskRunState
from podium.core.states import LifeCycleState, ResultState
from podium.core.values import (
    REDACTED,
    UnresolvedReference,
    ValueContext,
    lookup,
    mask_obj,
    mask_text,
    resolve_obj,
    resolve_text,
    secret_terms,
)

L = LifeCycleState
R = ResultState

# Saturday 4 May 2024, 07:08:09.123456 UTC
START = datetime(2024, 5, 4, 7, 8, 9, 123456, tzinfo=UTC)

CTX = ValueContext(
    job_id=17,
    job_name="seed pipeline",
    run_id=4242,
    start_time=START,
    parameters={"run_date": "2024-05-03", "size": "10", "a.b": "dotted", "empty": ""},
    task_key="train",
    task_run_id=99001,
    execution_count=2,
    repair_count=1,
    task_values={
        "match": {
            "rows": 42,
            "name": "matched",
            "ratio": 0.5,
            "ok": True,
            "bad": False,
            "none": None,
            "cols": [1, "x", None],
            "meta": {"k": 1, "s": "v"},
            "with.dot": "dotted value",
            "quote": 'say "hi"',
        },
    },
    task_states={
        "match": TaskRunState("match", L.TERMINATED, R.SUCCESS, attempt_count=3),
        "clicks_ingest": TaskRunState("clicks_ingest", L.TERMINATED, R.FAILED, attempt_count=1),
        "persist_features": TaskRunState("persist_features", L.RUNNING, attempt_count=1),
        "report": TaskRunState("report"),  # known, never ran
    },
    task_run_ids={"match": 501, "clicks_ingest": 502, "persist_features": 503},
)


# --- every reference form ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{job.id}}", "17"),
        ("{{job.name}}", "seed pipeline"),
        ("{{run.id}}", "4242"),
        ("{{job.run_id}}", "4242"),
        ("{{job.repair_count}}", "1"),
        ("{{job.parameters.run_date}}", "2024-05-03"),
        ("{{job.parameters.size}}", "10"),
        ("{{job.parameters.a.b}}", "dotted"),
        ("{{job.parameters.empty}}", ""),
        ("{{job.start_time.iso_date}}", "2024-05-04"),
        ("{{job.start_time.iso_datetime}}", "2024-05-04T07:08:09.123456+00:00"),
        ("{{job.start_time.year}}", "2024"),
        ("{{job.start_time.month}}", "5"),
        ("{{job.start_time.day}}", "4"),
        ("{{job.start_time.hour}}", "7"),
        ("{{job.start_time.minute}}", "8"),
        ("{{job.start_time.second}}", "9"),
        ("{{job.start_time.timestamp_ms}}", "1714806489123"),
        ("{{job.start_time.iso_weekday}}", "6"),
        ("{{job.start_time.is_weekday}}", "false"),
        ("{{task.name}}", "train"),
        ("{{task.run_id}}", "99001"),
        ("{{task.execution_count}}", "2"),
        ("{{tasks.match.values.rows}}", "42"),
        ("{{tasks.match.values.name}}", "matched"),
        ("{{tasks.match.values.ratio}}", "0.5"),
        ("{{tasks.match.values.ok}}", "true"),
        ("{{tasks.match.values.bad}}", "false"),
        ("{{tasks.match.values.none}}", "null"),
        ("{{tasks.match.values.cols}}", '[1, "x", null]'),
        ("{{tasks.match.values.meta}}", '{"k": 1, "s": "v"}'),
        ("{{tasks.match.values.with.dot}}", "dotted value"),
        ("{{tasks.match.values.quote}}", 'say "hi"'),
        ("{{tasks.match.result_state}}", "SUCCESS"),
        ("{{tasks.clicks_ingest.result_state}}", "FAILED"),
        ("{{tasks.persist_features.result_state}}", ""),  # still running: no result yet
        ("{{tasks.match.run_id}}", "501"),
        ("{{tasks.match.execution_count}}", "3"),
        ("{{tasks.persist_features.execution_count}}", "1"),
    ],
)
def test_every_reference_form(text: str, expected: str) -> None:
    assert resolve_text(text, CTX) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("job.id", 17),
        ("run.id", 4242),
        ("job.start_time.year", 2024),
        ("job.start_time.is_weekday", False),
        ("job.start_time.timestamp_ms", 1714806489123),
        ("tasks.match.values.rows", 42),
        ("tasks.match.values.ok", True),
        ("tasks.match.values.none", None),
        ("tasks.match.values.cols", [1, "x", None]),
        ("tasks.match.execution_count", 3),
        ("tasks.match.run_id", 501),
        ("job.parameters.size", "10"),  # parameters are text
    ],
)
def test_lookup_returns_the_raw_value(expr: str, expected: Any) -> None:
    value = lookup(expr, CTX)
    assert value == expected
    assert type(value) is type(expected)


def test_start_time_on_a_weekday() -> None:
    monday = replace(CTX, start_time=datetime(2024, 5, 6, 23, 59, 59, tzinfo=UTC))
    assert resolve_text(
        "{{job.start_time.iso_weekday}} {{job.start_time.is_weekday}}", monday
    ) == "1 true"
    friday = replace(CTX, start_time=datetime(2024, 5, 10, tzinfo=UTC))
    assert resolve_text("{{job.start_time.is_weekday}}", friday) == "true"
    sunday = replace(CTX, start_time=datetime(2024, 5, 12, tzinfo=UTC))
    assert resolve_text("{{job.start_time.iso_weekday}}", sunday) == "7"


def test_start_time_parts_follow_the_time_zone_of_start_time() -> None:
    # 23:30 on 4 May in UTC-05:00 is already 5 May in UTC; the parts are local
    local = datetime(2024, 5, 4, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    ctx = replace(CTX, start_time=local)
    assert resolve_text("{{job.start_time.iso_date}} {{job.start_time.hour}}", ctx) == (
        "2024-05-04 23"
    )
    assert resolve_text("{{job.start_time.timestamp_ms}}", ctx) == "1714883400000"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_timestamp_ms_after_2038_is_exact() -> None:
    # 2**31 seconds after the epoch a float no longer holds every millisecond exactly
    t = datetime(2038, 5, 31, 19, 38, 1, 740000, tzinfo=UTC)
    assert lookup("job.start_time.timestamp_ms", replace(CTX, start_time=t)) == 2158947481740


@given(st.integers(0, (datetime(2200, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)),
       st.integers(0, 999))
def test_timestamp_ms_is_whole_milliseconds_since_the_epoch(ms: int, micros: int) -> None:
    t = EPOCH + timedelta(milliseconds=ms, microseconds=micros)
    assert lookup("job.start_time.timestamp_ms", replace(CTX, start_time=t)) == ms


# --- text around and between references ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ job.id }}", "17"),
        ("{{   task.name\t}}", "train"),
        ("{{\n  tasks.match.values.rows\n}}", "42"),
        ("{{job.id}}{{run.id}}", "174242"),
        ("job={{job.id}} run={{ run.id }} task={{task.name}}!", "job=17 run=4242 task=train!"),
        ("--date={{job.parameters.run_date}} --rows={{tasks.match.values.rows}}",
         "--date=2024-05-03 --rows=42"),
        ("{{job.id}} and {{job.id}}", "17 and 17"),
        ("no references here", "no references here"),
        ("", ""),
        ("{{job.id", "{{job.id"),  # unclosed: plain text
        ("{ {job.id} }", "{ {job.id} }"),
        ("{{ {{job.id}}", "{{ 17"),
    ],
)
def test_resolve_text(text: str, expected: str) -> None:
    assert resolve_text(text, CTX) == expected


def test_resolved_values_are_not_resolved_again() -> None:
    ctx = replace(CTX, parameters={"p": "{{job.id}}"})
    assert resolve_text("{{job.parameters.p}}", ctx) == "{{job.id}}"


@given(st.text().filter(lambda s: "{{" not in s and "}}" not in s))
def test_text_without_references_is_unchanged(text: str) -> None:
    assert resolve_text(text, CTX) == text


PIECES = ["a", " ", "-", "}", "{ ", "{{job.id}}", "{{ run.id }}"]


@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_each_reference_is_replaced_in_place(parts: list[str]) -> None:
    values = {"{{job.id}}": "17", "{{ run.id }}": "4242"}
    expected = "".join(values.get(p, p) for p in parts)
    assert resolve_text("".join(parts), CTX) == expected


# --- resolve_obj ---------------------------------------------------------------------------


def test_resolve_obj_walks_lists_and_dicts() -> None:
    obj = {
        "command": ["python", "train.py", "--rows", "{{tasks.match.values.rows}}"],
        "env": {"RUN": "{{run.id}}", "{{job.id}}": "keys are not resolved"},
        "nested": [{"deep": ["{{task.name}}"]}],
        "number": 3,
        "flag": True,
        "nothing": None,
    }
    assert resolve_obj(obj, CTX) == {
        "command": ["python", "train.py", "--rows", "42"],
        "env": {"RUN": "4242", "{{job.id}}": "keys are not resolved"},
        "nested": [{"deep": ["train"]}],
        "number": 3,
        "flag": True,
        "nothing": None,
    }


def test_resolve_obj_scalars() -> None:
    assert resolve_obj("{{job.id}}", CTX) == "17"
    assert resolve_obj(5, CTX) == 5
    assert resolve_obj(None, CTX) is None
    assert resolve_obj([], CTX) == []


def test_resolve_obj_does_not_modify_its_input() -> None:
    obj = {"a": ["{{job.id}}"]}
    resolve_obj(obj, CTX)
    assert obj == {"a": ["{{job.id}}"]}


# --- unresolved references ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{job.parameters.nope}}", "{{job.parameters.nope}}: no job parameter 'nope'"),
        ("{{ job.parameters.nope }}", "{{job.parameters.nope}}: no job parameter 'nope'"),
        ("{{tasks.match.values.missing}}",
         "{{tasks.match.values.missing}}: task 'match' set no task value 'missing'"),
        ("{{tasks.report.values.rows}}",
         "{{tasks.report.values.rows}}: task 'report' set no task value 'rows'"),
        ("{{tasks.ghost.result_state}}",
         "{{tasks.ghost.result_state}}: task 'ghost' has not run in this run"),
        ("{{tasks.ghost.execution_count}}",
         "{{tasks.ghost.execution_count}}: task 'ghost' has not run in this run"),
        ("{{tasks.report.run_id}}",
         "{{tasks.report.run_id}}: task 'report' has not run in this run"),
        ("{{tasks.match.bogus}}", "{{tasks.match.bogus}}: unknown reference"),
        ("{{tasks.match.values}}", "{{tasks.match.values}}: unknown reference"),
        ("{{tasks.match.run_id.x}}", "{{tasks.match.run_id.x}}: unknown reference"),
        ("{{job.start_time.century}}", "{{job.start_time.century}}: unknown reference"),
        ("{{job.start_time}}", "{{job.start_time}}: unknown reference"),
        ("{{job.parameters}}", "{{job.parameters}}: unknown reference"),
        ("{{job.nope}}", "{{job.nope}}: unknown reference"),
        ("{{}}", "{{}}: unknown reference"),
    ],
)
def test_unresolved_reference(text: str, message: str) -> None:
    with pytest.raises(UnresolvedReference) as info:
        resolve_text(f"before {text} after", CTX)
    assert str(info.value) == message


def test_unresolved_reference_is_a_value_error() -> None:
    assert issubclass(UnresolvedReference, ValueError)
    with pytest.raises(ValueError, match="no job parameter 'x'"):
        lookup("job.parameters.x", CTX)


def test_one_missing_value_fails_the_whole_text() -> None:
    with pytest.raises(UnresolvedReference, match="no task value 'missing'"):
        resolve_text("{{job.id}} {{tasks.match.values.missing}} {{run.id}}", CTX)
    with pytest.raises(UnresolvedReference):
        resolve_obj({"ok": "{{job.id}}", "bad": ["{{job.parameters.nope}}"]}, CTX)


def test_empty_context_defaults() -> None:
    ctx = ValueContext(job_id=1, job_name="j", run_id=2, start_time=START, parameters={})
    assert resolve_text("{{task.name}}|{{task.run_id}}|{{task.execution_count}}", ctx) == "|0|0"
    assert resolve_text("{{job.repair_count}}", ctx) == "0"
    with pytest.raises(UnresolvedReference, match="task 'a' set no task value 'n'"):
        resolve_text("{{tasks.a.values.n}}", ctx)


# --- secrets ---------------------------------------------------------------------------------

SECRETS = {
    ("prod", "token"): "tok-123",
    ("prod", "pem"): "-----BEGIN-----\nAAAABBBBCCCC\n-----END-----",
}


def read_secret(scope: str, key: str) -> str:
    if (scope, key) not in SECRETS:
        raise UnresolvedReference(f"{{{{secrets/{scope}/{key}}}}}: no such secret")
    return SECRETS[(scope, key)]


SECRET_CTX = replace(CTX, secret=read_secret)


def test_secret_reference_resolves_through_the_context() -> None:
    text = "Bearer {{secrets/prod/token}} for {{job.id}}"
    assert resolve_text(text, SECRET_CTX) == "Bearer tok-123 for 17"
    assert lookup("secrets/prod/token", SECRET_CTX) == "tok-123"
    assert resolve_obj({"h": ["{{ secrets/prod/token }}"]}, SECRET_CTX) == {"h": ["tok-123"]}


def test_a_missing_secret_is_unresolved_with_the_readers_message() -> None:
    with pytest.raises(UnresolvedReference, match=r"\{\{secrets/prod/nope\}\}: no such secret"):
        resolve_text("x {{secrets/prod/nope}}", SECRET_CTX)


@pytest.mark.parametrize(
    "expr", ["secrets/only", "secrets//key", "secrets/scope/", "secrets/a/b/c"]
)
def test_a_malformed_secret_reference_is_unresolved(expr: str) -> None:
    with pytest.raises(UnresolvedReference, match="a secret reference is secrets/<scope>/<key>"):
        lookup(expr, SECRET_CTX)


def test_without_a_reader_secret_references_stay_as_written() -> None:
    text = "{{job.id}} {{secrets/prod/token}} {{ secrets/a/b }}"
    assert resolve_text(text, CTX) == "17 {{secrets/prod/token}} {{ secrets/a/b }}"
    assert resolve_text("{{secrets/prod/token}}", CTX) == "{{secrets/prod/token}}"
    with pytest.raises(UnresolvedReference, match="secrets cannot be read here"):
        lookup("secrets/prod/token", CTX)


def test_secret_terms_are_longest_first_with_the_long_lines_of_multiline_values() -> None:
    terms = secret_terms(["tok", "", "tok-123", SECRETS[("prod", "pem")], "tok"])
    assert terms == (
        SECRETS[("prod", "pem")], "-----BEGIN-----", "-----END-----", "AAAABBBBCCCC",
        "tok-123", "tok",
    )
    assert secret_terms(["{\n}\n"]) == ("{\n}\n",)  # short lines are not masked alone
    assert secret_terms([]) == ()


def test_mask_text_replaces_every_occurrence() -> None:
    terms = secret_terms(["tok-123", "tok"])
    assert mask_text("a tok-123 b tok c", terms) == f"a {REDACTED} b {REDACTED} c"
    assert mask_text("nothing here", terms) == "nothing here"
    assert mask_text("x", ()) == "x"


def test_mask_obj_masks_strings_keys_and_numbers_deep_inside() -> None:
    terms = secret_terms(["s3cret", "424242"])
    data = {"s3cret": ["a s3cret", {"n": 424242, "m": 7, "ok": True}], "none": None, "f": 1.5}
    assert mask_obj(data, terms) == {
        REDACTED: [f"a {REDACTED}", {"n": REDACTED, "m": 7, "ok": True}], "none": None, "f": 1.5,
    }
    assert mask_obj(data, ()) is data


# Letters that are not in "[REDACTED]", so what masking leaves cannot form a secret with it.
_TEXT = st.text(alphabet="abc xyz-\t", max_size=30)


@given(st.text(alphabet="abc xyz-\t", min_size=1, max_size=12), _TEXT, _TEXT)
def test_a_masked_text_never_holds_the_secret(secret: str, before: str, after: str) -> None:
    masked = mask_text(before + secret + after + secret, secret_terms([secret]))
    assert REDACTED in masked
    assert secret not in masked
