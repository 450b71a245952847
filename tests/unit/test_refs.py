"""Tests for podium.spec.refs: finding and checking {{ ... }} references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.spec import Reference, iter_references
from podium.spec.refs import check_reference, walk_strings

KEYS = {"clicks_ingest", "orders_ingest", "match", "train"}
UPSTREAM = {"clicks_ingest", "orders_ingest"}
PARAMS = {"run_date", "size"}


def check(expr: str) -> tuple[str, str, str] | None:
    return check_reference(expr, task_keys=KEYS, upstream=UPSTREAM, parameters=PARAMS)


def test_iter_references_gives_stripped_expr_and_span() -> None:
    text = "rows={{ tasks.a.values.rows }} at {{job.id}}"
    refs = list(iter_references(text))
    assert refs == [
        Reference("tasks.a.values.rows", 5, 30),
        Reference("job.id", 34, 44),
    ]
    assert [text[r.start : r.end] for r in refs] == ["{{ tasks.a.values.rows }}", "{{job.id}}"]


def test_unclosed_braces_are_text() -> None:
    assert list(iter_references("{{job.id")) == []
    assert list(iter_references("{{ {{job.id}}")) == [Reference("job.id", 3, 13)]
    assert list(iter_references("{{a}} {{ b")) == [Reference("a", 0, 5)]


def test_reference_may_span_lines() -> None:
    assert [r.expr for r in iter_references("a {{\n job.name \n}} b")] == ["job.name"]


@given(st.text(alphabet="ab{} .\n", max_size=40))
def test_every_reference_span_is_a_closed_pair_of_braces(text: str) -> None:
    for ref in iter_references(text):
        piece = text[ref.start : ref.end]
        assert piece.startswith("{{") and piece.endswith("}}")
        assert ref.expr == piece[2:-2].strip()
        assert "{{" not in piece[2:]


@given(st.lists(st.from_regex(r"[a-z_.]{1,12}", fullmatch=True), max_size=5))
def test_references_written_are_references_found(exprs: list[str]) -> None:
    text = " and ".join("{{" + e + "}}" for e in exprs)
    assert [r.expr for r in iter_references(text)] == exprs


@pytest.mark.parametrize(
    "expr",
    [
        "job.id",
        "job.name",
        "job.run_id",
        "job.repair_count",
        "run.id",
        "task.name",
        "task.run_id",
        "task.execution_count",
        "job.parameters.run_date",
        "job.start_time.iso_date",
        "job.start_time.is_weekday",
        "tasks.clicks_ingest.values.rows",
        "tasks.orders_ingest.values.a.b",
        "tasks.clicks_ingest.result_state",
        "tasks.clicks_ingest.run_id",
        "tasks.orders_ingest.execution_count",
    ],
)
def test_known_references_are_fine(expr: str) -> None:
    assert check(expr) is None


@pytest.mark.parametrize(
    ("expr", "code", "hint_part"),
    [
        ("job.idd", "unknown-reference", "did you mean 'job.id'?"),
        ("something.else", "unknown-reference", "job.parameters.<name>"),
        ("", "unknown-reference", "known references"),
        ("job.parameters.run_dat", "unknown-parameter", "did you mean 'run_date'?"),
        ("job.parameters.zzz", "unknown-parameter", "defined: run_date, size"),
        ("job.start_time.iso_dat", "unknown-reference", "did you mean 'iso_date'?"),
        ("tasks.mtch.values.rows", "unknown-task", "did you mean 'match'?"),
        ("tasks.match.values.rows", "reference-not-upstream", "add 'match' to depends_on"),
        ("tasks.clicks_ingest.value.rows", "unknown-reference", "values.<name>"),
        ("tasks.clicks_ingest.values.", "unknown-reference", "values.<name>"),
        ("tasks.clicks_ingest.result_stat", "unknown-reference", "'result_state'"),
        ("secrets/only", "bad-secret-reference", "{{secrets/<scope>/<key>}}"),
        ("secrets/", "bad-secret-reference", "{{secrets/<scope>/<key>}}"),
        ("secrets//key", "bad-secret-reference", "{{secrets/<scope>/<key>}}"),
        ("secrets/scope/", "bad-secret-reference", "{{secrets/<scope>/<key>}}"),
        ("secrets/a/b/c", "bad-secret-reference", "{{secrets/<scope>/<key>}}"),
        ("secrets/a b/c", "bad-secret-reference", "letters, digits"),
        ("secrets.prod.token", "unknown-reference", "secrets/<scope>/<key>"),
    ],
)
def test_bad_references_have_codes_and_hints(expr: str, code: str, hint_part: str) -> None:
    found = check(expr)
    assert found is not None
    assert found[0] == code
    assert hint_part in found[2]


@pytest.mark.parametrize(
    "expr", ["secrets/scope/key", "secrets/prod/api_token", "secrets/a.b-c/K_1.x"]
)
def test_secret_references_with_a_scope_and_a_key_are_fine(expr: str) -> None:
    assert check(expr) is None


def test_malformed_secret_reference_messages() -> None:
    assert check("secrets/only") == (
        "bad-secret-reference",
        "{{secrets/only}} is not a secret reference: it needs a scope and a key",
        "write {{secrets/<scope>/<key>}}, e.g. {{secrets/prod/api_token}}; scope and key "
        "are 1 to 128 letters, digits, '_', '-' and '.'",
    )
    found = check("secrets/prod/my key")
    assert found is not None
    assert found[1] == "{{secrets/prod/my key}}: 'my key' is not a valid secret scope or key name"


def test_walk_strings_names_every_string() -> None:
    task = {
        "task_key": "a",
        "max_retries": 3,
        "shell_task": {"command": ["echo", "{{job.id}}"], "env": {"X": "1"}},
        "depends_on": [{"task_key": "b", "outcome": None}],
    }
    assert list(walk_strings(task, "tasks[2]")) == [
        ("tasks[2].task_key", "a"),
        ("tasks[2].shell_task.command[0]", "echo"),
        ("tasks[2].shell_task.command[1]", "{{job.id}}"),
        ("tasks[2].shell_task.env.X", "1"),
        ("tasks[2].depends_on[0].task_key", "b"),
    ]


def test_walk_strings_at_the_top() -> None:
    assert list(walk_strings({"name": "x", "tags": ["t"]}, "")) == [("name", "x"), ("tags[0]", "t")]
    assert list(walk_strings("plain", "here")) == [("here", "plain")]
    assert list(walk_strings(42, "here")) == []
