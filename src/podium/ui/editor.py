"""The visual job editor (``/build``) and the template gallery (``/templates``).

The editor has two panes that stay in sync: a YAML text and a visual pane (the task
graph, a small form per task, the job's own fields). Both conversions happen here, in
Python: YAML → visual pane (``POST /build/preview``) and form → YAML (``POST /build/form``,
which starts from the YAML, so fields the form does not show are kept). Validation
messages come from the same validator as the API; saving goes through the job services.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from podium.errors import InvalidJobSpec, NotFound, PermissionDenied, PodiumError, Problem
from podium.services import Podium
from podium.services import jobs as job_services
from podium.spec import ConditionOp, RunIf
from podium.ui.app import HERE, page, templates
from podium.ui.graph import graph_elements, task_type
from podium.ui.session import check_csrf, viewer

router = APIRouter(include_in_schema=False)

TEMPLATES_DIR = HERE / "job_templates"
# Each task type's form: (form name, path in the *_task object, label, kind). Kinds:
# text; argv (a command line, split like a shell); pairs (name=value, one a line); int;
# long (a text area); or a choice from CHOICES. A field whose current value does not fit
# its kind (a list where text goes, say) is left out of the form, so the YAML keeps it.
Field = tuple[str, str, str, str]
PAIRS = "(name=value, one a line)"
FORMS: dict[str, tuple[Field, ...]] = {
    "shell_task": (("command", "command", "Command", "argv"),
                   ("cwd", "cwd", "Working folder", "text"),
                   ("env", "env", f"Environment {PAIRS}", "pairs")),
    "spark_python_task": (("python_file", "python_file", "Python file", "text"),
                          ("parameters", "parameters", "Arguments", "argv")),
    "notebook_task": (("notebook_path", "notebook_path", "Notebook path", "text"),
                      ("base_parameters", "base_parameters", f"Parameters {PAIRS}", "pairs")),
    "sql_task": (("file", "file.path", "SQL file path (or leave empty and write the query)",
                  "text"),
                 ("query", "query.query_text", "Query", "long"),
                 ("warehouse_id", "warehouse_id", "Connection", "text"),
                 ("parameters", "parameters", f"Parameters {PAIRS}", "pairs")),
    "http_task": (("method", "method", "Method", "method"), ("url", "url", "URL", "text"),
                  ("headers", "headers", f"Headers {PAIRS}", "pairs"),
                  ("params", "params", f"Query parameters {PAIRS}", "pairs"),
                  ("response_values", "response_values",
                   "Task values from the JSON response (name=JMESPath, one a line)", "pairs")),
    "python_function_task": (("function", "function", "Function (module:name)", "text"),),
    "condition_task": (("left", "left", "Left", "text"), ("op", "op", "Op", "op"),
                       ("right", "right", "Right", "text")),
    "spark_jar_task": (("main_class_name", "main_class_name", "Main class", "text"),
                       ("parameters", "parameters", "Arguments", "argv")),
    "python_wheel_task": (("package_name", "package_name", "Package", "text"),
                          ("entry_point", "entry_point", "Entry point", "text"),
                          ("parameters", "parameters", "Arguments", "argv"),
                          ("named_parameters", "named_parameters",
                           f"Named parameters {PAIRS}", "pairs")),
    "run_job_task": (("job_name", "job_name", "Job name", "text"),
                     ("job_parameters", "job_parameters", f"Job parameters {PAIRS}", "pairs")),
    "for_each_task": (("inputs", "inputs", "Inputs (a JSON array, or a reference to one)",
                       "text"),
                      ("concurrency", "concurrency", "Iterations at once", "int")),
}
# The fields every task has, whatever its type.
COMMON: tuple[Field, ...] = (
    ("max_retries", "max_retries", "Retries", "int"),
    ("timeout_seconds", "timeout_seconds", "Timeout (seconds, 0: none)", "int"),
    ("run_if", "run_if", "Run if", "run_if"),
)
TASK_TYPES = tuple(FORMS)
CHOICES = {
    "method": ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"),
    "op": tuple(op.value for op in ConditionOp),
    "run_if": tuple(r.value for r in RunIf),
}
DEFAULTS = {"method": "GET", "run_if": "ALL_SUCCESS"}  # a default is left out of the YAML
EVENTS = ("on_start", "on_success", "on_failure")  # e-mail notifications the form sets
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
CHECKBOXES_UP_TO = 20  # tasks; a bigger job names its dependencies in a text field
NEW_JOB: dict[str, Any] = {"name": "new_job", "tasks": [
    {"task_key": "first", "shell_task": {"command": ["echo", "hello"]}}]}


# ---- YAML <-> settings ------------------------------------------------------------------
def to_yaml(settings: dict[str, Any]) -> str:
    """``settings`` as YAML, the tasks last (the job's own fields read first)."""
    ordered = {k: v for k, v in settings.items() if k != "tasks"}
    if "tasks" in settings:
        ordered["tasks"] = settings["tasks"]
    return yaml.dump(ordered, Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=100)


def parse_yaml(text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The settings in ``text``, or None with the problem that stops reading it."""
    try:
        data = yaml.load(text, Loader=LOADER)  # a safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return None, [Problem("yaml-syntax", loc, f"not valid YAML: "
                              f"{getattr(exc, 'problem', None) or exc}",
                              "fix the YAML text; the visual pane follows it")]
    if not isinstance(data, dict):
        return None, [Problem("not-a-mapping", "", "the job spec must be a mapping of "
                              "fields (name, tasks, ...)", "start with 'name: my_job'")]
    return data, []


def problems_of(settings: dict[str, Any]) -> list[Problem]:
    """What the API's validator says of ``settings`` (nothing when it is valid)."""
    try:
        job_services.validate_settings(settings)
    except InvalidJobSpec as exc:
        return list(exc.problems)
    return []


# ---- settings -> the visual pane --------------------------------------------------------
def task_view(task: dict[str, Any]) -> dict[str, Any]:
    """What a task's form shows: its key, type, dependencies and the fields of its type."""
    kind = next((t for t in TASK_TYPES if isinstance(task.get(t), dict)), "")
    other = "" if kind else (task_type(task) + "_task" if task_type(task) else "")
    body = task.get(kind) or {}
    return {
        "key": str(task.get("task_key", "")), "type": kind, "other": other,
        "fields": _shown(FORMS.get(kind, ()), body), "common": _shown(COMMON, task),
        "deps": [str(d.get("task_key", "")) for d in task.get("depends_on") or []
                 if isinstance(d, dict)],
    }


def _shown(fields: tuple[Field, ...], source: dict[str, Any]) -> list[dict[str, Any]]:
    shown = []
    for name, path, label, kind in fields:
        text = _as_text(_get(source, path), kind)
        if text is not None:
            shown.append({"name": name, "label": label, "kind": kind, "value": text,
                          "options": CHOICES.get(kind, ())})
    return shown


def _get(source: dict[str, Any], path: str) -> Any:
    found: Any = source
    for part in path.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found


def _as_text(value: Any, kind: str) -> str | None:
    """``value`` as the form shows it; None when it does not fit ``kind``."""
    if value is None:
        return DEFAULTS.get(kind, "")
    if kind == "argv":
        ok = isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
        return shlex.join(str(v) for v in value) if ok else None
    if kind == "pairs":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        return "\n".join(f"{k}={v}" for k, v in value.items()) if ok else None
    if kind == "int":
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else None


def job_view(settings: dict[str, Any]) -> dict[str, Any]:
    schedule = settings.get("schedule") or {}
    email = settings.get("email_notifications") or {}
    hooks = settings.get("webhook_notifications") or {}
    return {
        "name": settings.get("name", ""),
        "cron": schedule.get("quartz_cron_expression", ""),
        "timezone": schedule.get("timezone_id", "UTC"),
        "parameters": "\n".join(f"{p.get('name', '')}={p.get('default', '')}"
                                for p in settings.get("parameters") or []
                                if isinstance(p, dict)),
        **{f"email_{event}": ", ".join(str(a) for a in email.get(event) or [])
           for event in EVENTS},
        "webhook_on_failure": ", ".join(str(h.get("id", "")) for h in hooks.get("on_failure")
                                        or [] if isinstance(h, dict)),
    }


def visual_context(text: str) -> dict[str, Any]:
    """Everything the visual pane shows for the YAML ``text``."""
    settings, problems = parse_yaml(text)
    if settings is None:
        return {"readable": False, "problems": problems, "tasks": [], "job": {},
                "graph": [], "yaml": text}
    raw_tasks = settings.get("tasks")
    tasks = [t for t in raw_tasks if isinstance(t, dict)] if isinstance(raw_tasks, list) else []
    return {
        "readable": True, "problems": problems_of(settings), "job": job_view(settings),
        "tasks": [task_view(t) for t in tasks], "graph": graph_elements(tasks), "yaml": text,
    }


# ---- the form -> settings ---------------------------------------------------------------
def _field(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def _apply_fields(target: dict[str, Any], fields: tuple[Field, ...], form: FormData,
                  p: str) -> None:
    """Set the fields of ``target`` the form carries (an empty one removes its field)."""
    for name, path, _, kind in fields:
        if p + name not in form:
            continue  # not shown: the YAML keeps it
        raw = str(form.get(p + name, ""))
        value = _from_text(raw if kind in ("long", "pairs") else raw.strip(), kind)
        *parents, last = path.split(".")
        where = target
        for part in parents:
            found = where.get(part)
            where[part] = dict(found) if isinstance(found, dict) else {}
            where = where[part]
        if value in (None, "", [], {}) or value == DEFAULTS.get(kind):
            where.pop(last, None)
        else:
            where[last] = value
        if parents and not where:
            target.pop(parents[0], None)


def _from_text(text: str, kind: str) -> Any:
    if kind == "argv":
        try:
            return shlex.split(text)
        except ValueError:  # an unclosed quote: keep the text, the validator tells
            return [text]
    if kind == "pairs":
        pairs = (line.partition("=") for line in text.splitlines() if line.strip())
        return {k.strip(): v.strip() for k, _, v in pairs}
    if kind == "int":
        return int(text) if text.isdigit() else text or None  # a non-number: the validator tells
    return text.strip() if kind == "long" else text


def _task_body(kind: str, old: dict[str, Any], form: FormData, p: str) -> dict[str, Any]:
    """The ``*_task`` object for ``kind``: ``old`` with the form's fields applied."""
    body = dict(old)
    _apply_fields(body, FORMS[kind], form, p)
    if kind == "sql_task" and body.get("file"):
        body.pop("query", None)  # a file or a query, not both: the file wins
    return body


def apply_form(form: FormData) -> dict[str, Any]:
    """The settings of the form: the YAML it carries with the visual pane's fields applied,
    then its ``action`` (``add``, or ``remove:<i>``)."""
    settings, _ = parse_yaml(str(form.get("yaml", "")))
    settings = dict(settings or {})
    found = settings.get("tasks")
    old_tasks: list[Any] = found if isinstance(found, list) else []
    count = int(_field(form, "count") or 0) if _field(form, "count").isdigit() else 0
    renamed = {_field(form, f"t{i}.old"): _field(form, f"t{i}.key") for i in range(count)}
    tasks: list[dict[str, Any]] = []
    for i in range(count):
        p = f"t{i}."
        old = old_tasks[i] if i < len(old_tasks) and isinstance(old_tasks[i], dict) else {}
        task = dict(old)
        task["task_key"] = _field(form, p + "key")
        kind = _field(form, p + "type")
        _apply_fields(task, COMMON, form, p)
        if kind in TASK_TYPES:
            current = old.get(kind)
            body: dict[str, Any] = current if isinstance(current, dict) else {}
            for name in list(task):
                if name.endswith("_task") and name != kind and isinstance(task[name], dict):
                    del task[name]  # the type changed
            task[kind] = _task_body(kind, body, form, p)
        outcomes = {str(d.get("task_key")): d for d in old.get("depends_on") or []
                    if isinstance(d, dict)}
        deps = []
        ups = [str(u) for u in form.getlist(p + "deps")]
        if p + "deps_text" in form:
            ups = [u.strip() for u in _field(form, p + "deps_text").split(",") if u.strip()]
        for up in ups:
            key = renamed.get(up, up)
            before = outcomes.get(up, {})
            deps.append({**before, "task_key": key})
        task.pop("depends_on", None)
        if deps:  # keep depends_on right after task_key, as people write it
            task = {"task_key": task.pop("task_key"), "depends_on": deps, **task}
        tasks.append(task)
    if count or "tasks" in settings:
        settings["tasks"] = tasks
    _apply_job_fields(settings, form)
    _apply_action(settings, _field(form, "action"), _field(form, "up"), _field(form, "down"))
    return settings


def _apply_job_fields(settings: dict[str, Any], form: FormData) -> None:
    if "name" in form:
        settings["name"] = _field(form, "name")
    if "cron" in form:
        cron = _field(form, "cron")
        if cron:
            settings["schedule"] = {**(settings.get("schedule") or {}),
                                    "quartz_cron_expression": cron,
                                    "timezone_id": _field(form, "timezone") or "UTC"}
        else:
            settings.pop("schedule", None)
    if "parameters" in form:
        params = []
        for line in str(form.get("parameters", "")).splitlines():
            if line.strip():
                name, _, default = line.partition("=")
                params.append({"name": name.strip(), "default": default.strip()})
        if params:
            settings["parameters"] = params
        else:
            settings.pop("parameters", None)
    email = dict(settings.get("email_notifications") or {})
    for event in EVENTS:
        if f"email_{event}" in form:
            _set_list(email, event, _listed(_field(form, f"email_{event}")))
    _set_list(settings, "email_notifications", email)
    if "webhook_on_failure" in form:
        hooks = dict(settings.get("webhook_notifications") or {})
        _set_list(hooks, "on_failure", [{"id": d} for d in
                                        _listed(_field(form, "webhook_on_failure"))])
        _set_list(settings, "webhook_notifications", hooks)


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _set_list(target: dict[str, Any], name: str, value: Any) -> None:
    """``target[name] = value``, or no ``name`` at all when ``value`` is empty."""
    if value:
        target[name] = value
    else:
        target.pop(name, None)


def _apply_action(settings: dict[str, Any], action: str, up: str = "", down: str = "") -> None:
    """``add`` a task, ``remove:<i>`` one, or ``connect``/``disconnect`` task ``down`` from
    task ``up`` (what dragging from one node to another, or deleting an edge, sends)."""
    tasks: list[dict[str, Any]] = settings.setdefault("tasks", [])
    if action in ("connect", "disconnect"):
        _connect(tasks, up, down, action == "connect")
        return
    if action == "add":
        keys = {t.get("task_key") for t in tasks}
        n = len(tasks) + 1
        while f"task_{n}" in keys:
            n += 1
        tasks.append({"task_key": f"task_{n}", "shell_task": {"command": ["echo", "hello"]}})
    elif action.startswith("remove:") and action[7:].isdigit():
        i = int(action[7:])
        if i < len(tasks):
            gone = tasks.pop(i).get("task_key")
            for task in tasks:
                deps = [d for d in task.get("depends_on") or [] if d.get("task_key") != gone]
                if deps:
                    task["depends_on"] = deps
                else:
                    task.pop("depends_on", None)


def _connect(tasks: list[dict[str, Any]], up: str, down: str, on: bool) -> None:
    task = next((t for t in tasks if t.get("task_key") == down), None)
    if task is None or up == down or up not in {t.get("task_key") for t in tasks}:
        return
    deps = [d for d in task.get("depends_on") or []
            if isinstance(d, dict) and d.get("task_key") != up]
    if on:
        deps.append({"task_key": up})
    task.pop("depends_on", None)
    if deps:  # depends_on right after task_key, as people write it
        moved = {"task_key": task.pop("task_key"), "depends_on": deps, **task}
        task.clear()
        task.update(moved)


# ---- pages ------------------------------------------------------------------------------
def _editor(request: Request, text: str, job_id: int | None, status: int = 200,
            error: str = "") -> HTMLResponse:
    user = viewer(request)
    return page(request, "editor.html", status, user=user, section="build", job_id=job_id,
                error=error, types=TASK_TYPES, checkboxes_up_to=CHECKBOXES_UP_TO,
                **visual_context(text))


@router.get("/build")
def new_job(request: Request) -> HTMLResponse:
    return _editor(request, to_yaml(NEW_JOB), None)


@router.get("/build/{job_id}")
def edit_job(request: Request, job_id: int) -> HTMLResponse:
    user = viewer(request)
    try:
        job = job_services.get_job(request.app.state.podium, job_id, user)
    except PodiumError as exc:
        status = 404 if isinstance(exc, NotFound) else 403
        return page(request, "error.html", status, user=user, title="Cannot edit",
                    message=str(exc))
    return _editor(request, to_yaml(job["settings"]), job_id)


def _pane(request: Request, text: str, with_yaml: bool) -> HTMLResponse:
    return templates.TemplateResponse(request, "_editor_visual.html", {
        "types": TASK_TYPES, "with_yaml": with_yaml,
        "checkboxes_up_to": CHECKBOXES_UP_TO,
        **visual_context(text)})


@router.post("/build/preview")
async def preview(request: Request) -> HTMLResponse:
    """The visual pane and the validation messages for the posted YAML."""
    viewer(request)
    await check_csrf(request)
    form = await request.form()
    return _pane(request, str(form.get("yaml", "")), with_yaml=False)


@router.post("/build/form")
async def from_form(request: Request) -> HTMLResponse:
    """The YAML of the posted visual form (and its action), with the visual pane."""
    viewer(request)
    await check_csrf(request)
    form = await request.form()
    if not parse_yaml(str(form.get("yaml", "")))[0] and form.get("yaml"):
        return _pane(request, str(form.get("yaml", "")), with_yaml=False)
    return _pane(request, to_yaml(apply_form(form)), with_yaml=True)


@router.post("/build/save")
async def save_new(request: Request) -> Response:
    """Create the job of the YAML; the viewer owns it."""
    return await save(request, None)


@router.post("/build/{job_id}/save")
async def save(request: Request, job_id: int | None) -> Response:
    """Create the job of the YAML (the viewer owns it) or reset job ``job_id`` to it."""
    user = viewer(request)
    await check_csrf(request)
    form = await request.form()
    text = str(form.get("yaml", ""))
    settings, problems = parse_yaml(text)
    podium: Podium = request.app.state.podium
    try:
        if settings is None:
            raise InvalidJobSpec(problems, "yaml")
        if job_id is None:
            job_id = await run_in_threadpool(job_services.create_job, podium, settings, user)
        else:
            await run_in_threadpool(job_services.reset_job, podium, job_id, settings, user)
    except InvalidJobSpec as exc:
        return _editor(request, text, job_id, 400,
                       f"Not saved: {len(exc.problems)} problem(s), listed below.")
    except (PermissionDenied, NotFound) as exc:
        return _editor(request, text, job_id, 403, f"Not saved: {exc}")
    except PodiumError as exc:
        return _editor(request, text, job_id, 400, f"Not saved: {exc}")
    return RedirectResponse(f"/jobs/{job_id}", 303)


# ---- templates --------------------------------------------------------------------------
def job_templates() -> list[dict[str, Any]]:
    """The gallery: each template's id (its file's stem), settings and summary."""
    found = []
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        settings = yaml.safe_load(path.read_text())
        found.append({"id": path.stem, "settings": settings, "name": settings["name"],
                      "description": settings.get("description", ""),
                      "tasks": len(settings.get("tasks") or []),
                      "types": sorted({task_type(t) for t in settings.get("tasks") or []})})
    return found


def template_path(template_id: str) -> Path | None:
    path = TEMPLATES_DIR / f"{template_id}.yaml"
    return path if template_id.replace("_", "").isalnum() and path.is_file() else None


@router.get("/templates")
def gallery(request: Request) -> HTMLResponse:
    user = viewer(request)
    return page(request, "templates_gallery.html", user=user, section="templates",
                items=job_templates())


@router.post("/templates/{template_id}/use")
async def use_template(request: Request, template_id: str) -> Response:
    """Create a job from the template; open it in the editor."""
    user = viewer(request)
    await check_csrf(request)
    path = template_path(template_id)
    if path is None:
        return page(request, "error.html", 404, user=user, title="Not found",
                    message=f"no template {template_id!r}")
    try:
        job_id = await run_in_threadpool(job_services.create_job, request.app.state.podium,
                                         yaml.safe_load(path.read_text()), user)
    except PodiumError as exc:
        return page(request, "error.html", 400, user=user, title="Cannot do that",
                    message=str(exc))
    return RedirectResponse(f"/build/{job_id}", 303)
