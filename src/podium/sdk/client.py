"""``PodiumClient``: a Podium server's API (Jobs API 2.2 paths plus Podium's own) over HTTP.

Each method is one call and returns the JSON the server answered; an error answer is
raised as the Podium error it stands for (``NotFound`` for 404, ...), so a caller
handles a remote failure exactly as a local one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2

from podium.errors import (
    Conflict,
    InternalError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PodiumError,
    SpecError,
    TooLarge,
    Unauthenticated,
)

JOBS = "/api/2.2/jobs"
PODIUM = "/api/podium"

# HTTP status -> the error it stands for; 400 is InvalidArgument or, for a bad job spec
# (the message lists its problems), SpecError.
_ERRORS: dict[int, type[PodiumError]] = {
    400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound,
    409: Conflict, 413: TooLarge,
}


class ServerUnreachable(PodiumError):
    """No answer from the server: it is down, or the host is wrong."""


@dataclass(frozen=True, slots=True)
class LogChunk:
    """A piece of an attempt's log.

    Attributes:
        data: the bytes from the offset asked for to the end of the log so far.
        next_offset: where the next read starts.
        running: whether the attempt (or its task's next retry) still runs.
        name: the log's file name, ``<task_key>.<attempt>.log``.
    """

    data: bytes
    next_offset: int
    running: bool
    name: str

    @property
    def attempt_number(self) -> int:
        return int(self.name.rsplit(".", 2)[-2])


class PodiumClient:
    """A client of one Podium server.

    Args:
        host: the server's URL, e.g. ``http://127.0.0.1:8080``.
        token: an API token (``podium token create``), sent as a bearer token.
        timeout: seconds to wait for each answer.
    """

    def __init__(self, host: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.host = host.rstrip("/")
        if "://" not in self.host:
            self.host = f"http://{self.host}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx2.Client(base_url=self.host, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PodiumClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport ------------------------------------------------------------------
    def _send(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> httpx2.Response:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=body, params=query)
        except httpx2.TimeoutException as exc:
            raise ServerUnreachable(f"the Podium server at {self.host} did not answer in "
                                    f"time ({type(exc).__name__})") from exc
        except httpx2.TransportError as exc:
            raise ServerUnreachable(f"cannot reach the Podium server at {self.host}: "
                                    f"{exc or type(exc).__name__}") from exc
        if response.is_error:
            raise self._error(response)
        return response

    def _error(self, response: httpx2.Response) -> PodiumError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "message" in body:
            message = str(body["message"])
        else:
            message = response.text.strip()[:500] or response.reason_phrase
        status = response.status_code
        if status == 400 and "nothing was recorded" in message:
            return SpecError(message)
        kind = _ERRORS.get(status)
        if kind is not None:
            return kind(message)
        return InternalError(f"the Podium server at {self.host} answered {status} to "
                             f"{response.request.method} {response.request.url.path}: {message}")

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return _json(self._send("GET", path, params=params))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _json(self._send("POST", path, body={k: v for k, v in body.items()
                                                     if v is not None}))

    # ---- jobs -----------------------------------------------------------------------
    def create_job(self, settings: dict[str, Any]) -> int:
        """A new job with these settings (``jobs/create``); its job_id."""
        return int(self._post(f"{JOBS}/create", settings)["job_id"])

    def save_job(self, settings: dict[str, Any]) -> int:
        """Create the job of that name, or update it to these settings; its job_id."""
        return int(self._post(f"{PODIUM}/jobs/save", settings)["job_id"])

    def get_job(self, job_id: int) -> dict[str, Any]:
        return self._get(f"{JOBS}/get", job_id=job_id)

    def list_jobs(self, *, name: str | None = None, limit: int = 20,
                  page_token: str | None = None, expand_tasks: bool = False) -> dict[str, Any]:
        """One page of jobs: ``{jobs, has_more, next_page_token}``."""
        return self._get(f"{JOBS}/list", name=name, limit=limit, page_token=page_token,
                         expand_tasks=expand_tasks)

    def find_job_id(self, job: str) -> int:
        """The id of a job named by id or by name (the CLI's JOB argument)."""
        if job.isdigit():
            return int(self.get_job(int(job))["job_id"])
        found = [j for j in self.list_jobs(name=job, limit=100)["jobs"]
                 if j["settings"]["name"] == job]
        if not found:
            raise NotFound(f"no job {job!r} on {self.host}; `podium jobs list` shows the jobs")
        return int(found[0]["job_id"])

    def update_job(self, job_id: int, new_settings: dict[str, Any],
                   fields_to_remove: list[str] | None = None) -> None:
        self._post(f"{JOBS}/update", {"job_id": job_id, "new_settings": new_settings,
                                      "fields_to_remove": fields_to_remove})

    def reset_job(self, job_id: int, new_settings: dict[str, Any]) -> None:
        self._post(f"{JOBS}/reset", {"job_id": job_id, "new_settings": new_settings})

    def delete_job(self, job_id: int) -> None:
        self._post(f"{JOBS}/delete", {"job_id": job_id})

    def job_versions(self, job_id: int) -> list[dict[str, Any]]:
        """Every version of the job's settings, oldest first."""
        versions: list[dict[str, Any]] = self._get(f"{PODIUM}/jobs/{job_id}/versions")[
            "versions"]
        return versions

    def diff_versions(self, job_id: int, old: int, new: int) -> str:
        """A unified diff of two versions' settings, as YAML."""
        return str(self._get(f"{PODIUM}/jobs/{job_id}/versions/diff", old=old, new=new)["diff"])

    # ---- runs -----------------------------------------------------------------------
    def run_now(self, job_id: int, job_parameters: dict[str, str] | None = None,
                idempotency_token: str | None = None, only: list[str] | None = None) -> int:
        """Start a run of a stored job; its run_id."""
        return int(self._post(f"{JOBS}/run-now", {
            "job_id": job_id, "job_parameters": job_parameters or None,
            "idempotency_token": idempotency_token, "only": only,
        })["run_id"])

    def submit_run(self, settings: dict[str, Any]) -> int:
        """A one-time run of an inline spec (``runs/submit``); its run_id."""
        return int(self._post(f"{JOBS}/runs/submit", settings)["run_id"])

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self._get(f"{JOBS}/runs/get", run_id=run_id)

    def list_runs(self, *, job_id: int | None = None, active_only: bool = False,
                  completed_only: bool = False, offset: int = 0, limit: int = 25,
                  start_time_from: int | None = None, start_time_to: int | None = None,
                  expand_tasks: bool = False) -> dict[str, Any]:
        """Runs newest first: ``{runs, has_more}``."""
        return self._get(f"{JOBS}/runs/list", job_id=job_id, active_only=active_only or None,
                         completed_only=completed_only or None, offset=offset, limit=limit,
                         start_time_from=start_time_from, start_time_to=start_time_to,
                         expand_tasks=expand_tasks or None)

    def cancel_run(self, run_id: int) -> None:
        self._post(f"{JOBS}/runs/cancel", {"run_id": run_id})

    def cancel_all(self, job_id: int) -> None:
        self._post(f"{JOBS}/runs/cancel-all", {"job_id": job_id})

    def delete_run(self, run_id: int) -> None:
        self._post(f"{JOBS}/runs/delete", {"run_id": run_id})

    def repair_run(self, run_id: int, rerun_tasks: list[str] | None = None, *,
                   latest_repair_id: int | None = None,
                   job_parameters: dict[str, str] | None = None) -> int:
        """Re-run the named tasks (default: the failed and canceled ones) and everything
        downstream of them; the repair_id."""
        return int(self._post(f"{JOBS}/runs/repair", {
            "run_id": run_id, "rerun_tasks": rerun_tasks or None,
            "rerun_all_failed_tasks": None if rerun_tasks else True,
            "latest_repair_id": latest_repair_id, "job_parameters": job_parameters or None,
        })["repair_id"])

    def get_run_output(self, task_run_id: int) -> dict[str, Any]:
        """``runs/get-output`` by the run_id of a task run."""
        return self._get(f"{JOBS}/runs/get-output", run_id=task_run_id)

    def get_output(self, run_id: int, task_key: str,
                   attempt: int | None = None) -> dict[str, Any]:
        """An attempt's (default: the latest) output, as ``runs/get-output`` shows it."""
        return self._get(f"{_task(run_id, task_key)}/output", attempt=attempt)

    def read_log(self, run_id: int, task_key: str, attempt: int | None = None,
                 offset: int = 0) -> LogChunk:
        """An attempt's (default: the latest) log from byte ``offset``."""
        response = self._send("GET", f"{_task(run_id, task_key)}/logs",
                              params={"attempt": attempt, "offset": offset})
        data = response.content
        headers = response.headers
        return LogChunk(
            data=data,
            next_offset=int(headers.get("X-Podium-Log-Offset", offset + len(data))),
            running=headers.get("X-Podium-Running", "false").lower() == "true",
            name=headers.get("X-Podium-Log-Name", f"{task_key}.{attempt or 0}.log"),
        )

    # ---- tokens, secrets, audit -----------------------------------------------------
    def create_token(self, comment: str = "",
                     lifetime_seconds: int | None = None) -> dict[str, Any]:
        """A new token for the caller: ``{token_value, token_info}``."""
        return self._post("/api/2.0/token/create", {"comment": comment,
                                                     "lifetime_seconds": lifetime_seconds})

    def list_tokens(self) -> list[dict[str, Any]]:
        infos: list[dict[str, Any]] = self._get("/api/2.0/token/list").get("token_infos", [])
        return infos

    def revoke_token(self, token_id: str) -> None:
        self._post("/api/2.0/token/delete", {"token_id": token_id})

    def create_scope(self, scope: str) -> None:
        self._post("/api/2.0/secrets/scopes/create", {"scope": scope})

    def list_scopes(self) -> list[dict[str, Any]]:
        scopes: list[dict[str, Any]] = self._get("/api/2.0/secrets/scopes/list").get(
            "scopes", [])
        return scopes

    def delete_scope(self, scope: str) -> None:
        self._post("/api/2.0/secrets/scopes/delete", {"scope": scope})

    def put_secret(self, scope: str, key: str, value: str) -> None:
        self._post("/api/2.0/secrets/put", {"scope": scope, "key": key, "string_value": value})

    def list_secrets(self, scope: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._get("/api/2.0/secrets/list", scope=scope).get(
            "secrets", [])
        return found

    def delete_secret(self, scope: str, key: str) -> None:
        self._post("/api/2.0/secrets/delete", {"scope": scope, "key": key})

    def audit_events(self, limit: int = 100,
                     before_id: int | None = None) -> list[dict[str, Any]]:
        """Audit events newest first (admins only)."""
        events: list[dict[str, Any]] = self._get(f"{PODIUM}/audit", limit=limit,
                                                 before_id=before_id)["events"]
        return events

    # ---- insights ---------------------------------------------------------------------

    def job_insights(self, job: str | int) -> dict[str, Any]:
        """What the history of a job (its id or name) says (``podium insights job``)."""
        return self._get(f"{PODIUM}/insights/jobs/{quote(str(job), safe='')}")

    def run_insights(self, run_id: int) -> dict[str, Any]:
        return self._get(f"{PODIUM}/insights/runs/{run_id}")

    def apply_suggestion(self, job: str | int, suggestion_id: str) -> dict[str, Any]:
        """Apply one of the job's suggestions; the suggestion applied."""
        applied: dict[str, Any] = self._post(
            f"{PODIUM}/insights/jobs/{quote(str(job), safe='')}/apply",
            {"suggestion_id": suggestion_id})["applied"]
        return applied


def _task(run_id: int, task_key: str) -> str:
    return f"{PODIUM}/runs/{run_id}/tasks/{quote(task_key, safe='')}"


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json(response: httpx2.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {"value": body}
