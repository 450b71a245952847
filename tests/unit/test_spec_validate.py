"""Tests for podium.spec.validate: every problem at once, each with a code and a place."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.errors import InvalidJobSpec, Problem
from podium.spec import TASK_TYPE_FIELDS, JobSpec, load_job, parse_job
from podium.spec.validate import (
    IGNORED_JOB_FIELDS,
    IGNORED_TASK_FIELDS,
    UNSUPPORTED_TASK_TYPES,
    find_cycles,
    format_loc,
)

SPECS = Path(__file__).parent.parent / "data" / "specs"

# file -> [(code, loc)] in the order reported
BAD_SPECS: dict[str, list[tuple[str, str]]] = {
    "bad_outcome.yaml": [("bad-value", "tasks[1].depends_on[0].outcome")],
    "bad_run_if.yaml": [("bad-value", "tasks[1].run_if")],
    "bad_syntax.yaml": [("bad-syntax", "line 5, column 3")],
    "bad_task_key.yaml": [("bad-value", "tasks[0].task_key")],
    "cycle.yaml": [("cycle", "tasks")],
    "duplicate_key.yaml": [("duplicate-task-key", "tasks[2].task_key")],
    "duplicate_parameter.yaml": [("duplicate-parameter", "parameters[2].name")],
    "empty_job.yaml": [("empty-job", "tasks")],
    "missing_dependency.yaml": [("unknown-task", "tasks[3].depends_on[0].task_key")],
    "missing_field.yaml": [("missing-field", "name"), ("missing-field", "tasks[0].task_key")],
    "no_task_type.yaml": [("no-task-type", "tasks[0]")],
    "not_a_mapping.yaml": [("not-a-mapping", "")],
    "out_of_range.yaml": [
        ("bad-value", "max_concurrent_runs"),
        ("bad-value", "tasks[0].max_retries"),
        ("bad-value", "tasks[0].retry_backoff_multiplier"),
    ],
    "outcome_without_condition.yaml": [
        ("outcome-without-condition", "tasks[1].depends_on[0].outcome")
    ],
    "reference_not_upstream.yaml": [("reference-not-upstream", "tasks[1].shell_task.command[1]")],
    "secret_reference.yaml": [
        ("bad-secret-reference", "tasks[0].shell_task.env.TOKEN"),
        ("secret-in-job-parameters", "tasks[1].run_job_task.job_parameters.token"),
    ],
    "self_dependency.yaml": [("self-dependency", "tasks[0].depends_on[0].task_key")],
    "several_problems.yaml": [
        ("wrong-type", "tasks[1].max_retries"),
        ("unknown-task", "tasks[3].depends_on[1].task_key"),
        ("cycle", "tasks"),
    ],
    "two_task_types.yaml": [("multiple-task-types", "tasks[0]")],
    "unknown_field.yaml": [
        ("unknown-field", "tag"),
        ("unknown-field", "tasks[1].shell_task.cwdir"),
        ("unknown-field", "tasks[1].depend_on"),
    ],
    "unknown_parameter.yaml": [("unknown-parameter", "tasks[0].spark_python_task.parameters[1]")],
    "unknown_reference.yaml": [
        ("unknown-reference", "tasks[0].shell_task.command[1]"),
        ("unknown-reference", "tasks[0].shell_task.command[2]"),
    ],
    "unsupported_task_type.yaml": [
        ("unsupported-task-type", "tasks[0].dbt_task"),
        ("unsupported-task-type", "tasks[1].pipeline_task"),
    ],
    "wrong_type.yaml": [
        ("wrong-type", "tasks[0].max_retries"),
        ("wrong-type", "tasks[0].retry_on_timeout"),
        ("wrong-type", "tasks[0].shell_task.command"),
        ("wrong-type", "timeout_seconds"),
    ],
}

# file -> the exact text of its problems, for the messages people read most
EXACT_MESSAGES: dict[str, list[str]] = {
    "missing_dependency.yaml": [
        "tasks[3].depends_on[0].task_key: no task 'mtch'; did you mean 'match'?  [unknown-task]"
    ],
    "cycle.yaml": ["tasks: cycle match -> build_features -> persist_features -> match  [cycle]"],
    "unknown_field.yaml": [
        "tag: unknown field 'tag'; did you mean 'tags'?  [unknown-field]",
        "tasks[1].shell_task.cwdir: unknown field 'cwdir'; did you mean 'cwd'?  [unknown-field]",
        "tasks[1].depend_on: unknown field 'depend_on'; "
        "did you mean 'depends_on'?  [unknown-field]",
    ],
    "duplicate_key.yaml": [
        "tasks[2].task_key: task_key 'ingest' is already used by tasks[0]; "
        "task keys must be unique  [duplicate-task-key]"
    ],
    "two_task_types.yaml": [
        "tasks[0]: task 'both' has 2 task types: python_function_task, shell_task; "
        "keep exactly one  [multiple-task-types]"
    ],
    "unsupported_task_type.yaml": [
        "tasks[0].dbt_task: task type 'dbt_task' is not supported yet; supported "
        f"task types: {', '.join(TASK_TYPE_FIELDS)}  [unsupported-task-type]",
        "tasks[1].pipeline_task: task type 'pipeline_task' is not supported yet; supported "
        f"task types: {', '.join(TASK_TYPE_FIELDS)}  [unsupported-task-type]",
    ],
    "wrong_type.yaml": [
        "tasks[0].max_retries: expected an integer, got the string 'three'  [wrong-type]",
        "tasks[0].retry_on_timeout: expected true or false, got the string 'maybe'  [wrong-type]",
        "tasks[0].shell_task.command: expected a list, got the string 'echo'  [wrong-type]",
        "timeout_seconds: expected an integer, got a list  [wrong-type]",
    ],
    "secret_reference.yaml": [
        "tasks[0].shell_task.env.TOKEN: {{secrets/prod_api_token}} is not a secret reference: "
        "it needs a scope and a key; write {{secrets/<scope>/<key>}}, e.g. "
        "{{secrets/prod/api_token}}; scope and key are 1 to 128 letters, digits, '_', '-' "
        "and '.'  [bad-secret-reference]",
        "tasks[1].run_job_task.job_parameters.token: a run_job_task's job_parameters are "
        "kept with the child run and shown in clear, so they cannot hold a secret; reference "
        "the secret in the tasks of the job it runs instead  [secret-in-job-parameters]",
    ],
    "out_of_range.yaml": [
        "max_concurrent_runs: must be >= 1, got 0  [bad-value]",
        "tasks[0].max_retries: must be >= 0, got -1  [bad-value]",
        "tasks[0].retry_backoff_multiplier: must be >= 1.0, got 0.5  [bad-value]",
    ],
}


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(InvalidJobSpec) as info:
        load_job(path)
    assert info.value.source == str(path)
    return info.value.problems


def shell(key: str, *deps: str, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"task_key": key, "shell_task": {"command": ["echo", key]}, **extra}
    if deps:
        task["depends_on"] = [{"task_key": d} for d in deps]
    return task


def problems(data: object) -> list[Problem]:
    with pytest.raises(InvalidJobSpec) as info:
        parse_job(data)
    return info.value.problems


def test_every_bad_spec_has_expectations() -> None:
    assert sorted(p.name for p in (SPECS / "bad").glob("*.yaml")) == sorted(BAD_SPECS)


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_bad_spec_problems(name: str) -> None:
    found = problems_of(SPECS / "bad" / name)
    assert [(p.code, p.loc) for p in found] == BAD_SPECS[name]


@pytest.mark.parametrize("name", sorted(EXACT_MESSAGES))
def test_bad_spec_messages(name: str) -> None:
    assert [str(p) for p in problems_of(SPECS / "bad" / name)] == EXACT_MESSAGES[name]


def test_error_text_lists_every_problem() -> None:
    path = SPECS / "bad" / "several_problems.yaml"
    with pytest.raises(InvalidJobSpec) as info:
        load_job(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 3 problems, nothing was recorded"
    assert lines[3] == "  tasks: cycle match -> build_features -> match  [cycle]"


def test_good_spec_validates_and_warns_about_ignored_fields() -> None:
    loaded = load_job(SPECS / "good" / "seed_pipeline.yaml")
    assert [t.task_key for t in loaded.spec.tasks][:3] == [
        "clicks_ingest",
        "orders_ingest",
        "match",
    ]
    assert loaded.spec.parameter_defaults() == {"run_date": "2026-01-01", "size": "200"}
    assert loaded.spec.schedule is not None and loaded.spec.email_notifications is not None
    assert loaded.warnings == [
        "tasks[0].libraries: only spark_jar_task and python_wheel_task use libraries; ignored "
        "(for Python packages, declare an environment and name it with environment_key)",
        "tasks[2].existing_cluster_id: not implemented by Podium yet; ignored",
    ]


@pytest.mark.parametrize("field", IGNORED_JOB_FIELDS)
def test_ignored_job_fields_warn(field: str) -> None:
    spec, warnings = parse_job({"name": "j", "tasks": [shell("a")], field: {"x": 1}})
    assert warnings == [f"{field}: not implemented by Podium yet; ignored"]
    assert spec == JobSpec(name="j", tasks=[shell("a")])  # type: ignore[list-item]


@pytest.mark.parametrize("field", IGNORED_TASK_FIELDS)
def test_ignored_task_fields_warn(field: str) -> None:
    _, warnings = parse_job({"name": "j", "tasks": [shell("a"), shell("b", **{field: "x"})]})
    assert warnings == [f"tasks[1].{field}: not implemented by Podium yet; ignored"]


@pytest.mark.parametrize("task_type", UNSUPPORTED_TASK_TYPES)
def test_unsupported_task_types(task_type: str) -> None:
    found = problems({"name": "j", "tasks": [{"task_key": "a", task_type: {}}]})
    assert [(p.code, p.loc) for p in found] == [("unsupported-task-type", f"tasks[0].{task_type}")]
    assert found[0].msg == f"task type {task_type!r} is not supported yet"


@pytest.mark.parametrize("data", [None, [], "name: x", 3, [{"name": "x"}]])
def test_top_level_must_be_a_mapping(data: object) -> None:
    assert [p.code for p in problems(data)] == ["not-a-mapping"]


def test_missing_tasks_is_a_missing_field() -> None:
    assert [(p.code, p.loc) for p in problems({"name": "j"})] == [("missing-field", "tasks")]


def test_parameters_are_checked_when_tasks_are_broken() -> None:
    params = [{"name": "a"}, {"name": "a"}]
    found = problems({"name": "j", "parameters": params, "tasks": []})
    assert [(p.code, p.loc) for p in found] == [
        ("duplicate-parameter", "parameters[1].name"),
        ("empty-job", "tasks"),
    ]


def test_task_that_is_not_a_mapping() -> None:
    found = problems({"name": "j", "tasks": [shell("a"), "b"]})
    assert [(p.code, p.loc, p.msg) for p in found] == [
        ("wrong-type", "tasks[1]", "expected a mapping, got the string 'b'")
    ]


def test_unknown_field_hints_at_ignored_and_unsupported_names() -> None:
    found = problems({"name": "j", "tasks": [shell("a", librarys=[], notebok_task={})]})
    assert [p.hint for p in found] == ["did you mean 'libraries'?", "did you mean 'notebook_task'?"]


def test_unknown_field_with_no_close_name_has_no_hint() -> None:
    found = problems({"name": "j", "tasks": [shell("a", zzzzzz=1)]})
    assert [(p.code, p.hint) for p in found] == [("unknown-field", "")]


def test_unknown_task_without_close_match() -> None:
    found = problems({"name": "j", "tasks": [shell("a"), shell("b", "qqqqq")]})
    assert [(p.code, p.msg, p.hint) for p in found] == [("unknown-task", "no task 'qqqqq'", "")]


def test_depending_on_a_condition_task() -> None:
    condition = {"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}}
    tasks = [
        condition,
        shell("yes", depends_on=[{"task_key": "c", "outcome": "true"}]),
        shell("no", depends_on=[{"task_key": "c", "outcome": "false"}]),
        shell("either", "c"),
    ]
    spec, warnings = parse_job({"name": "j", "tasks": tasks})
    assert warnings == []
    assert spec.task("yes").depends_on[0].outcome == "true"
    assert spec.task("either").depends_on[0].outcome is None


def test_references_to_transitive_upstream_are_fine() -> None:
    last = shell("c", "b")
    last["shell_task"]["command"].append("{{tasks.a.values.rows}} {{tasks.b.result_state}}")
    spec, _ = parse_job({"name": "j", "tasks": [shell("a"), shell("b", "a"), last]})
    assert spec.task("c").shell_task is not None


def test_secret_references_are_accepted_where_a_task_starts_with_them() -> None:
    ref = "{{secrets/prod/api_token}}"
    use = shell("b", "a", environment_variables={"TOKEN": ref})
    use["shell_task"]["command"].append(f"token={ref}")
    http = {"task_key": "c", "http_task": {"url": "http://x", "headers": {
        "Authorization": f"Bearer {ref}"}}}
    loop = {"task_key": "d", "for_each_task": {"inputs": f'["{ref}"]', "task": {
        "task_key": "d_i", "shell_task": {"command": ["echo", "{{input}}", ref]}}}}
    spec, warnings = parse_job({"name": "j", "tasks": [shell("a"), use, http, loop]})
    assert warnings == []
    assert spec.task("b").environment_variables == {"TOKEN": ref}


def test_reference_to_a_later_task_in_a_sibling_branch_is_not_upstream() -> None:
    use = shell("b", "a")
    use["environment_variables"] = {"ROWS": "{{tasks.c.values.rows}}"}
    found = problems({"name": "j", "tasks": [shell("a"), use, shell("c", "a")]})
    assert [(p.code, p.loc) for p in found] == [
        ("reference-not-upstream", "tasks[1].environment_variables.ROWS")
    ]


def test_problems_in_model_and_graph_are_reported_together() -> None:
    data = {
        "name": "j",
        "tasks": [shell("a", "b", max_retries="x"), shell("b", "a"), {"task_key": "c"}],
    }
    found = problems(data)
    assert {(p.code, p.loc) for p in found} == {
        ("wrong-type", "tasks[0].max_retries"),
        ("no-task-type", "tasks[2]"),
        ("cycle", "tasks"),
    }


def test_disjoint_cycles_are_each_reported() -> None:
    tasks = [shell("a", "b"), shell("b", "a"), shell("c", "d"), shell("d", "c")]
    found = problems({"name": "j", "tasks": tasks})
    assert [p.msg for p in found] == ["cycle a -> b -> a", "cycle c -> d -> c"]


def test_format_loc() -> None:
    assert (
        format_loc(("tasks", 3, "depends_on", 0, "task_key")) == "tasks[3].depends_on[0].task_key"
    )
    assert format_loc(("name",)) == "name"
    assert format_loc(()) == ""


# ---- property tests over random graphs ------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random acyclic graph: task t<j> may depend on any t<i> with i < j."""
    size = draw(st.integers(min_value=1, max_value=9))
    keys = [f"t{n}" for n in range(size)]
    return {key: [keys[i] for i in range(j) if draw(st.booleans())] for j, key in enumerate(keys)}


def job_of(graph: dict[str, list[str]]) -> dict[str, Any]:
    order = list(graph)
    draw_order = order[::-1]  # list dependents first: validation must not rely on order
    return {"name": "g", "tasks": [shell(k, *graph[k]) for k in draw_order]}


def reachable(graph: dict[str, list[str]], start: str) -> set[str]:
    """Keys that (transitively) depend on ``start``."""
    found: set[str] = set()
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for key, ups in graph.items():
            if node in ups and key not in found:
                found.add(key)
                frontier.append(key)
    return found


@given(dags())
def test_acyclic_graphs_validate(graph: dict[str, list[str]]) -> None:
    spec, _ = parse_job(job_of(graph))
    assert {t.task_key: t.upstream_keys for t in spec.tasks} == graph
    assert find_cycles(graph) == []


@settings(max_examples=150)
@given(dags(), st.data())
def test_a_back_edge_makes_a_reported_cycle(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    pairs = [(a, b) for a in graph for b in sorted(reachable(graph, a))]
    if not pairs:
        graph = {"t0": [], "t1": ["t0"]}
        pairs = [("t0", "t1")]
    upstream, downstream = data.draw(st.sampled_from(pairs))
    graph[upstream] = [*graph[upstream], downstream]  # upstream now also waits for downstream
    found = problems(job_of(graph))
    assert found and {(p.code, p.loc) for p in found} == {("cycle", "tasks")}
    for problem in found:
        path = problem.msg.removeprefix("cycle ").split(" -> ")
        assert path[0] == path[-1]
        for before, after in itertools.pairwise(path):
            assert before in graph[after], f"{after} does not depend on {before}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
task_fields = st.sampled_from(
    ["task_key", "depends_on", "shell_task", "run_if", "max_retries", "condition_task",
     "libraries", "notebook_task", "environment_variables", "python_function_task"]
)  # fmt: skip


@given(
    st.dictionaries(
        st.sampled_from(["name", "tasks", "parameters", "schedule", "tags", "extra"]),
        st.lists(st.dictionaries(task_fields, json_values, max_size=5), max_size=4) | json_values,
        max_size=5,
    )
)
def test_any_data_gives_a_spec_or_problems(data: dict[str, Any]) -> None:
    try:
        parse_job(data)
    except InvalidJobSpec as exc:
        assert exc.problems
        assert all(p.code and isinstance(p.loc, str) for p in exc.problems)


def test_streaming_backlog_notifications_are_accepted_with_a_warning() -> None:
    from podium.spec import parse_job

    _, warnings = parse_job({
        "name": "x", "email_notifications": {"on_streaming_backlog_exceeded": ["a@b.c"]},
        "tasks": [{"task_key": "t", "shell_task": {"command": ["true"]},
                   "webhook_notifications": {"on_streaming_backlog_exceeded": [{"id": "h"}]}}],
    })
    assert warnings == [
        "email_notifications.on_streaming_backlog_exceeded: Podium runs no streams; ignored",
        "tasks[0].webhook_notifications.on_streaming_backlog_exceeded: Podium runs no "
        "streams; ignored",
    ]
