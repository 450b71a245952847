"""Job use-cases (the Jobs API's jobs/create, get, list, update, reset, delete), with
per-job permissions and a stored version for every change of a job's settings."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy.orm import Session

from podium.core import pause_settings
from podium.engine import utcnow
from podium.errors import InvalidArgument, NotFound, PermissionDenied
from podium.services.auth import ADMINS, USERS, Principal, local_principal
from podium.services.context import Podium
from podium.services.views import millis
from podium.spec import JobSpec, LoadedJob, parse_job
from podium.store import JobRow, audit
from podium.store import jobs as q
from podium.store import users as user_queries

# Databricks' job permission levels, weakest first.
LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER")
VIEW, MANAGE_RUN, MANAGE, OWNER = LEVELS
_RANK = {level: i for i, level in enumerate(LEVELS)}
LEVEL_DESCRIPTIONS = {
    VIEW: "Can view the job, its runs and their output",
    MANAGE_RUN: "Can also run, cancel and repair runs",
    MANAGE: "Can also edit and delete the job and change its permissions",
    OWNER: "Owns the job",
}
MAX_PAGE = 100


# ---- permissions ------------------------------------------------------------------------
def at_least(held: str, level: str) -> bool:
    return _RANK[held] >= _RANK[level]


def job_level(session: Session, actor: Principal, job_id: int) -> str | None:
    """The strongest level ``actor`` holds on the job (admins hold every level)."""
    if actor.is_admin:
        return OWNER
    levels = q.permissions_of(session, actor.user_name, actor.groups).get(job_id, [])
    return max(levels, key=_RANK.__getitem__, default=None)


def require(session: Session, actor: Principal, job_id: int, level: str) -> JobRow:
    """The job, if ``actor`` holds at least ``level`` on it.

    Raises:
        NotFound: no such job, or the actor may not even see it.
        PermissionDenied: the actor sees the job but lacks ``level``.
    """
    row = q.get_job(session, job_id)
    held = job_level(session, actor, job_id)
    if held is None:
        raise NotFound(f"job {job_id} does not exist")  # what others may not see, is not there
    if not at_least(held, level):
        raise PermissionDenied(
            f"{actor.user_name} has {held} on job {job_id}; this needs {level} "
            "(the job's owner or an admin can grant it)"
        )
    return row


def levels_held(podium: Podium, actor: Principal, job_ids: list[int]) -> dict[int, str]:
    """The strongest level ``actor`` holds on each of ``job_ids`` it may see, in one query:
    pages show only the buttons their viewer may use."""
    if actor.is_admin:
        return dict.fromkeys(job_ids, OWNER)
    with podium.sessions() as session:
        held = q.permissions_of(session, actor.user_name, actor.groups)
    return {j: max(held[j], key=_RANK.__getitem__) for j in job_ids if j in held}


def visible_jobs(session: Session, actor: Principal) -> set[int] | None:
    """The ids of the jobs ``actor`` may see; None means all (an admin)."""
    if actor.is_admin:
        return None
    return set(q.permissions_of(session, actor.user_name, actor.groups))


def get_permissions(podium: Podium, job_id: int, actor: Principal) -> dict[str, Any]:
    """The job's access control list in the Permissions API shape."""
    with podium.sessions() as session:
        require(session, actor, job_id, VIEW)
        return _acl(session, job_id)


def change_permissions(
    podium: Podium, job_id: int, entries: list[dict[str, Any]], actor: Principal,
    replace: bool,
) -> dict[str, Any]:
    """Grant levels (``replace``: set exactly these, keeping the owner unless one is named).

    Raises:
        InvalidArgument: an unknown level, user or group, or a second owner.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        require(session, actor, job_id, MANAGE)
        grants = [_grant(session, i, entry) for i, entry in enumerate(entries)]
        owners = [(kind, who) for kind, who, level in grants if level == OWNER]
        if len(owners) > 1:
            raise InvalidArgument("access_control_list: a job has exactly one IS_OWNER")
        if owners and owners[0][0] != "user":
            raise InvalidArgument("access_control_list: IS_OWNER must be a user, not a group")
        current = q.get_permissions(session, job_id)
        if replace:
            keep_owner = not owners
            for row in current:
                if not (keep_owner and row.level == OWNER):
                    q.set_permission(session, job_id, row.principal_kind, row.principal, None)
        if owners:  # the new owner replaces the old one
            for row in current:
                if row.level == OWNER:
                    q.set_permission(session, job_id, row.principal_kind, row.principal, None)
        for kind, who, level in grants:
            q.set_permission(session, job_id, kind, who, level)
        audit.record(session, actor.user_name, "set_permissions" if replace else
                     "update_permissions", "job", job_id, now,
                     access_control_list=[{"kind": k, "principal": w, "level": lv}
                                          for k, w, lv in grants])
        return _acl(session, job_id)


def _grant(session: Session, i: int, entry: dict[str, Any]) -> tuple[str, str, str]:
    loc = f"access_control_list[{i}]"
    level = entry.get("permission_level")
    if level not in _RANK:
        raise InvalidArgument(f"{loc}.permission_level: {level!r} is not one of "
                              f"{', '.join(LEVELS)}")
    if entry.get("group_name"):
        group = str(entry["group_name"])
        if group not in (ADMINS, USERS):
            raise InvalidArgument(f"{loc}.group_name: no group {group!r}; the groups are "
                                  f"{ADMINS!r} and {USERS!r}")
        return "group", group, level
    name = entry.get("user_name") or entry.get("service_principal_name")
    if not name:
        raise InvalidArgument(f"{loc}: give user_name or group_name")
    if user_queries.find_user(session, str(name)) is None:
        raise InvalidArgument(f"{loc}.user_name: no user {name!r}; users are made with "
                              "`podium token create --user NAME`")
    return "user", str(name), level


def _acl(session: Session, job_id: int) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {("user_name" if row.principal_kind == "user" else "group_name"): row.principal,
         "all_permissions": [{"permission_level": row.level, "inherited": False}]}
        for row in q.get_permissions(session, job_id)
    ]
    entries.append({"group_name": ADMINS, "all_permissions": [
        {"permission_level": MANAGE, "inherited": True, "inherited_from_object": ["/jobs/"]}
    ]})
    return {"object_id": f"/jobs/{job_id}", "object_type": "job",
            "access_control_list": entries}


# ---- jobs -------------------------------------------------------------------------------
def validate_settings(settings: object, source: str = "settings") -> tuple[JobSpec, str]:
    """The validated spec and its stored JSON.

    Raises:
        InvalidJobSpec: every problem, each with its location.
    """
    spec, _warnings = parse_job(settings, source)
    return spec, spec.model_dump_json(exclude_defaults=True)


def create_job(podium: Podium, settings: dict[str, Any], actor: Principal,
               access_control_list: list[dict[str, Any]] | None = None) -> int:
    """Store a new job owned by ``actor``; its job_id."""
    spec, spec_json = validate_settings(settings)
    now = utcnow()
    with podium.sessions.begin() as session:
        row = q.create_job(session, spec.name, spec_json, actor.user_name, now,
                           str(podium.settings.workspace))
        q.set_permission(session, row.job_id, "user", actor.user_name, OWNER)
        user_queries.ensure_user(session, actor.user_name, now)
        audit.record(session, actor.user_name, "create", "job", row.job_id, now, name=spec.name)
        job_id = row.job_id
    if access_control_list:
        change_permissions(podium, job_id, access_control_list, actor, replace=False)
    return job_id


def store_by_name(session: Session, spec: JobSpec, source_dir: str, actor: Principal,
                  now: datetime) -> JobRow:
    """The job named like ``spec`` (as ``podium run`` and ``podium jobs create`` keep
    jobs), created and owned by ``actor`` if new, else updated to a new version."""
    spec_json = spec.model_dump_json(exclude_defaults=True)
    row = q.find_job_by_name(session, spec.name)
    if row is None:
        row = q.create_job(session, spec.name, spec_json, actor.user_name, now, source_dir)
        q.set_permission(session, row.job_id, "user", actor.user_name, OWNER)
        audit.record(session, actor.user_name, "create", "job", row.job_id, now,
                     name=spec.name)
        return row
    require(session, actor, row.job_id, MANAGE if row.spec_json != spec_json else MANAGE_RUN)
    row.source_dir = source_dir
    if q.change_job(session, row, spec_json, "update", actor.user_name, now):
        audit.record(session, actor.user_name, "update", "job", row.job_id, now,
                     version=row.version)
    return row


def save_job(podium: Podium, loaded: LoadedJob, actor: Principal | None = None) -> int:
    """Store the job of ``loaded`` (created, or updated if one has its name); its job_id."""
    with podium.sessions.begin() as session:
        return store_by_name(session, loaded.spec, str(loaded.source_dir),
                             actor or local_principal(), utcnow()).job_id


def get_job(podium: Podium, job_id: int, actor: Principal) -> dict[str, Any]:
    with podium.sessions() as session:
        return job_dict(require(session, actor, job_id, VIEW), expand_tasks=True)


def list_jobs(
    podium: Podium, actor: Principal, *, name: str | None = None, limit: int = 20,
    page_token: str | None = None, expand_tasks: bool = False,
) -> dict[str, Any]:
    """Jobs the actor may see, by job_id, in pages (``jobs/list``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument(f"limit: must be between 1 and {MAX_PAGE}, got {limit}")
    after = _page_after(page_token)
    with podium.sessions() as session:
        visible = visible_jobs(session, actor)
        found: list[JobRow] = []
        while len(found) <= limit:
            batch = q.list_jobs(session, name=name, after_id=after, limit=limit + 1)
            found += [r for r in batch if visible is None or r.job_id in visible]
            if len(batch) <= limit:
                break
            after = batch[-1].job_id
        page = found[:limit]
        out: dict[str, Any] = {"jobs": [job_dict(r, expand_tasks) for r in page],
                               "has_more": len(found) > limit}
        if out["has_more"]:
            out["next_page_token"] = str(page[-1].job_id)
        return out


def _page_after(page_token: str | None) -> int:
    if not page_token:
        return 0
    if not page_token.isdigit():
        raise InvalidArgument(f"page_token: {page_token!r} is not a token this server gave")
    return int(page_token)


def job_dict(row: JobRow, expand_tasks: bool = True) -> dict[str, Any]:
    settings = json.loads(row.spec_json)  # stored as the spec's JSON without defaults
    if not expand_tasks:
        settings.pop("tasks", None)
    return {"job_id": row.job_id, "creator_user_name": row.creator or "",
            "run_as_user_name": row.creator or "", "created_time": millis(row.created_at),
            "settings": settings, "podium_version": row.version}


def update_job(podium: Podium, job_id: int, new_settings: dict[str, Any] | None,
               fields_to_remove: list[str] | None, actor: Principal) -> None:
    """Change some top-level settings (``jobs/update``): arrays of keyed entries (tasks,
    job_clusters, environments, parameters) are merged entry by entry."""
    with podium.sessions() as session:
        current = json.loads(require(session, actor, job_id, MANAGE).spec_json)
    merged = _merge(current, new_settings or {}, fields_to_remove or [])
    _store_change(podium, job_id, merged, "update", actor)


def reset_job(podium: Podium, job_id: int, new_settings: dict[str, Any],
              actor: Principal) -> None:
    """Replace all of a job's settings (``jobs/reset``)."""
    with podium.sessions() as session:
        require(session, actor, job_id, MANAGE)
    _store_change(podium, job_id, new_settings, "reset", actor)


def _store_change(podium: Podium, job_id: int, settings: dict[str, Any], change: str,
                  actor: Principal) -> None:
    _spec, spec_json = validate_settings(settings, "new_settings")
    now = utcnow()
    with podium.sessions.begin() as session:
        row = require(session, actor, job_id, MANAGE)
        if q.change_job(session, row, spec_json, change, actor.user_name, now):
            audit.record(session, actor.user_name, change, "job", job_id, now,
                         version=row.version)


_KEYED_ARRAYS = {"tasks": "task_key", "job_clusters": "job_cluster_key",
                 "environments": "environment_key", "parameters": "name"}


def _merge(current: dict[str, Any], new: dict[str, Any], remove: list[str]) -> dict[str, Any]:
    merged = dict(current)
    for field, value in new.items():
        key = _KEYED_ARRAYS.get(field)
        if key and isinstance(value, list) and isinstance(merged.get(field), list):
            by_key = {str(e.get(key)): e for e in merged[field] if isinstance(e, dict)}
            for entry in value:
                if isinstance(entry, dict):
                    by_key[str(entry.get(key))] = entry
            merged[field] = list(by_key.values())
        else:
            merged[field] = value
    for path in remove:
        field, _, item = path.partition("/")
        if field not in merged:
            raise InvalidArgument(f"fields_to_remove: the job has no {field!r} to remove")
        if not item:
            del merged[field]
            continue
        key = _KEYED_ARRAYS.get(field)
        entries = merged[field] if key and isinstance(merged[field], list) else []
        kept = [e for e in entries if not (isinstance(e, dict) and str(e.get(key)) == item)]
        if len(kept) == len(entries):
            raise InvalidArgument(f"fields_to_remove: {field} has no entry {item!r}")
        merged[field] = kept
    return merged


def delete_job(podium: Podium, job_id: int, actor: Principal) -> None:
    """Delete a job; its past runs are kept (admins still see them)."""
    now = utcnow()
    with podium.sessions.begin() as session:
        row = require(session, actor, job_id, MANAGE)
        q.delete_job(session, row, now)
        audit.record(session, actor.user_name, "delete", "job", job_id, now, name=row.name)


def find_job_id(podium: Podium, job: str, actor: Principal) -> int:
    """A job named by id or by name (the CLI's JOB argument)."""
    with podium.sessions() as session:
        row = q.find_job(session, int(job)) if job.isdigit() else q.find_job_by_name(session, job)
        if row is None:
            raise NotFound(f"no job {job!r}; `podium jobs list` shows the jobs")
        return require(session, actor, row.job_id, VIEW).job_id


# ---- versions ---------------------------------------------------------------------------
def job_versions(podium: Podium, job_id: int, actor: Principal) -> list[dict[str, Any]]:
    """Every version of the job's settings, oldest first."""
    with podium.sessions() as session:
        require(session, actor, job_id, VIEW)
        return [
            {"version": v.version, "change": v.change, "created_by": v.created_by or "",
             "created_time": millis(v.created_at),
             "settings": json.loads(v.spec_json)}
            for v in q.get_versions(session, job_id)
        ]


def diff_versions(podium: Podium, job_id: int, old: int, new: int,
                  actor: Principal) -> str:
    """A unified diff of two versions' settings as YAML."""
    versions = {v["version"]: v for v in job_versions(podium, job_id, actor)}
    for number in (old, new):
        if number not in versions:
            raise NotFound(f"job {job_id} has no version {number}; versions: "
                           f"{', '.join(map(str, versions))}")

    def lines(number: int) -> list[str]:
        text = yaml.safe_dump(versions[number]["settings"], sort_keys=False)
        return text.splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(old), lines(new), f"version {old}",
                                        f"version {new}"))


def set_pause_status(podium: Podium, job_id: int, status: str,
                     actor: Principal) -> list[str]:
    """Pause or unpause (``status``: PAUSED or UNPAUSED) every one of the job's
    ``schedule``, ``trigger`` and ``continuous``, as a new version of its settings (a
    server's scheduler follows within seconds); the fields changed.

    Raises:
        InvalidArgument: the job has none of them.
    """
    with podium.sessions() as session:
        row = require(session, actor, job_id, MANAGE)
        current = json.loads(row.spec_json)
    changes = pause_settings(current, status)
    if not changes:
        raise InvalidArgument(
            f"job {job_id} has no schedule, trigger or continuous setting to "
            f"{'pause' if status == 'PAUSED' else 'unpause'}"
        )
    update_job(podium, job_id, changes, None, actor)
    return sorted(changes)
