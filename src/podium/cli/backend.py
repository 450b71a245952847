"""Where a command's work happens: the local home (the services, as the local user, an
admin) or a Podium server (``--host``/``PODIUM_HOST``, through ``PodiumClient``).

Both backends have the same methods, so each command has one code path. Heavy imports
happen inside the methods: ``podium --help`` imports only this module's top.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from podium.sdk.client import LogChunk, PodiumClient
    from podium.services import Podium, Principal
    from podium.spec import LoadedJob

F = TypeVar("F", bound=Callable[..., Any])


def remote_options(group: F) -> F:
    """``--host`` and ``--token`` on a command group: with a host, its commands go to
    that server."""
    group = click.option(
        "--token", envvar="PODIUM_TOKEN", default=None, metavar="TOKEN",
        help="API token for --host (env PODIUM_TOKEN); make one with `podium token create`.",
    )(group)
    group = click.option(
        "--host", envvar="PODIUM_HOST", default=None, metavar="URL",
        help="Work against the Podium server at URL (env PODIUM_HOST) instead of the "
             "local $PODIUM_HOME.",
    )(group)
    return cast(F, click.pass_context(group))


def remember_target(ctx: click.Context, host: str | None, token: str | None) -> None:
    """Keep the group's --host/--token for its commands (see ``backend()``)."""
    ctx.obj = _Target(host or None, token or None)


class _Target:
    def __init__(self, host: str | None, token: str | None) -> None:
        self.host, self.token = host, token


def backend() -> Backend:
    """The backend the current command works against."""
    ctx = click.get_current_context()
    target = ctx.find_object(_Target)
    if target is not None and target.host:
        from podium.sdk.client import PodiumClient

        if not target.token:
            raise click.UsageError(
                f"a token is needed for {target.host}: give --token or set PODIUM_TOKEN "
                "(make one with `podium token create` on the server's home)"
            )
        client = PodiumClient(target.host, target.token)
        ctx.call_on_close(client.close)
        return RemoteBackend(client)
    return LocalBackend()


def local_only(what: str) -> None:
    """Refuse a command that needs the home's files when a host is given."""
    target = click.get_current_context().find_object(_Target)
    if target is not None and target.host:
        raise click.UsageError(
            f"{what} works on the local $PODIUM_HOME only, not against a server "
            f"(--host/PODIUM_HOST is {target.host}); run it on the server's machine"
        )


def finished_ok(result: str) -> bool:
    return result in ("SUCCESS", "SUCCESS_WITH_FAILURES")


class LocalBackend:
    """The local home, through the services, acting as the local user (an admin)."""

    remote = False
    where = "the local home"

    @cached_property
    def podium(self) -> Podium:
        from podium.services import open_podium

        return open_podium()

    @cached_property
    def actor(self) -> Principal:
        from podium.services import local_principal

        return local_principal()

    # ---- jobs -----------------------------------------------------------------------
    def save_job(self, loaded: LoadedJob) -> int:
        from podium.services import save_job

        return save_job(self.podium, loaded, self.actor)

    def list_jobs(self, limit: int) -> dict[str, Any]:
        from podium.services.jobs import list_jobs

        return list_jobs(self.podium, self.actor, limit=limit, expand_tasks=True)

    def find_job_id(self, job: str) -> int:
        from podium.services.jobs import find_job_id

        return find_job_id(self.podium, job, self.actor)

    def get_job(self, job_id: int) -> dict[str, Any]:
        from podium.services.jobs import get_job

        return get_job(self.podium, job_id, self.actor)

    def delete_job(self, job_id: int) -> None:
        from podium.services.jobs import delete_job

        delete_job(self.podium, job_id, self.actor)

    def set_pause_status(self, job_id: int, status: str) -> list[str]:
        from podium.services.jobs import set_pause_status

        return set_pause_status(self.podium, job_id, status, self.actor)

    def job_versions(self, job_id: int) -> list[dict[str, Any]]:
        from podium.services.jobs import job_versions

        return job_versions(self.podium, job_id, self.actor)

    def diff_versions(self, job_id: int, old: int, new: int) -> str:
        from podium.services.jobs import diff_versions

        return diff_versions(self.podium, job_id, old, new, self.actor)

    def run_now(self, job_id: int, params: dict[str, str]) -> int:
        from podium.services.runs import run_now

        return run_now(self.podium, job_id, self.actor, params)

    # ---- runs -----------------------------------------------------------------------
    def list_runs(self, limit: int, offset: int, active_only: bool) -> dict[str, Any]:
        from podium.services import list_runs

        return list_runs(self.podium, limit=limit, offset=offset, active_only=active_only,
                         actor=self.actor)

    def get_run(self, run_id: int) -> dict[str, Any]:
        from podium.services import get_run

        return get_run(self.podium, run_id, self.actor)

    def get_output(self, run_id: int, task_key: str, attempt: int | None) -> dict[str, Any]:
        from podium.services import get_output

        return get_output(self.podium, run_id, task_key, attempt, self.actor)

    def read_log(self, run_id: int, task_key: str, attempt: int | None,
                 offset: int) -> LogChunk:
        from podium.sdk.client import LogChunk
        from podium.services import attempt_running, log_path

        path = log_path(self.podium, run_id, task_key, attempt, self.actor)
        # Whether it runs is asked before reading: what a finished attempt wrote is all read.
        running = attempt is None and attempt_running(self.podium, run_id, task_key,
                                                      self.actor)
        try:
            with open(path, "rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            data = b""
        return LogChunk(data, offset + len(data), running, path.name)

    def cancel_run(self, run_id: int) -> str:
        from podium.services import cancel_run

        return cancel_run(self.podium, run_id, self.actor)

    def repair_run(self, run_id: int, tasks: list[str]) -> str:
        from podium.services import repair_run

        keys = repair_run(self.podium, run_id, tasks or None, self.actor)
        return f"repairing run {run_id}: re-running {', '.join(keys)}"

    def wait_run(self, run_id: int, output: str) -> str:
        """Execute the run in this process, showing progress; its result state.

        A server on the same home may have taken it up first: then follow it there.
        """
        from podium.cli.run import _execute_with_view
        from podium.errors import Conflict

        keys = [t["task_key"] for t in self.get_run(run_id)["tasks"]]
        try:
            return str(_execute_with_view(self.podium, run_id, keys, output).value)
        except Conflict:
            from podium.cli.follow import follow_run

            return follow_run(lambda: self.get_run(run_id), output, poll_seconds=0.5)

    # ---- tokens, secrets, audit -----------------------------------------------------
    def create_token(self, user: str | None, comment: str,
                     lifetime_seconds: int | None) -> tuple[str, str]:
        import getpass

        from podium.services.auth import create_token

        return create_token(self.podium, user or getpass.getuser(), comment, lifetime_seconds,
                            self.actor)

    def list_tokens(self) -> list[dict[str, Any]]:
        from podium.services.auth import list_tokens

        return list_tokens(self.podium, self.actor)

    def revoke_token(self, token_id: str) -> None:
        from podium.services.auth import revoke_token

        revoke_token(self.podium, token_id, self.actor)

    def create_scope(self, scope: str) -> None:
        from podium.services.secrets import create_scope

        create_scope(self.podium, scope, self.actor)

    def list_scopes(self) -> list[dict[str, Any]]:
        from podium.services.secrets import list_scopes

        return list_scopes(self.podium, self.actor)

    def delete_scope(self, scope: str) -> None:
        from podium.services.secrets import delete_scope

        delete_scope(self.podium, scope, self.actor)

    def put_secret(self, scope: str, key: str, value: str) -> None:
        from podium.services.secrets import put_secret

        put_secret(self.podium, scope, key, value, self.actor)

    def list_secrets(self, scope: str) -> list[dict[str, Any]]:
        from podium.services.secrets import list_secrets

        return list_secrets(self.podium, scope, self.actor)

    def delete_secret(self, scope: str, key: str) -> None:
        from podium.services.secrets import delete_secret

        delete_secret(self.podium, scope, key, self.actor)

    def audit_events(self, limit: int, before_id: int | None) -> list[dict[str, Any]]:
        from podium.services.audit import list_audit

        return list_audit(self.podium, self.actor, limit, before_id)


class RemoteBackend:
    """A Podium server, through its API, acting as the owner of the token."""

    remote = True

    def __init__(self, client: PodiumClient) -> None:
        self.client = client
        self.where = client.host

    # ---- jobs -----------------------------------------------------------------------
    def save_job(self, loaded: LoadedJob) -> int:
        return self.client.save_job(loaded.spec.model_dump(mode="json", exclude_defaults=True))

    def list_jobs(self, limit: int) -> dict[str, Any]:
        return self.client.list_jobs(limit=limit, expand_tasks=True)

    def find_job_id(self, job: str) -> int:
        return self.client.find_job_id(job)

    def get_job(self, job_id: int) -> dict[str, Any]:
        return self.client.get_job(job_id)

    def delete_job(self, job_id: int) -> None:
        self.client.delete_job(job_id)

    def set_pause_status(self, job_id: int, status: str) -> list[str]:
        from podium.core import pause_settings

        changes = pause_settings(self.client.get_job(job_id)["settings"], status)
        if not changes:
            raise click.UsageError(f"job {job_id} has no schedule, trigger or continuous "
                                   "setting to pause or unpause")
        self.client.update_job(job_id, changes)
        return sorted(changes)

    def job_versions(self, job_id: int) -> list[dict[str, Any]]:
        return self.client.job_versions(job_id)

    def diff_versions(self, job_id: int, old: int, new: int) -> str:
        return self.client.diff_versions(job_id, old, new)

    def run_now(self, job_id: int, params: dict[str, str]) -> int:
        return self.client.run_now(job_id, params)

    # ---- runs -----------------------------------------------------------------------
    def list_runs(self, limit: int, offset: int, active_only: bool) -> dict[str, Any]:
        return self.client.list_runs(limit=limit, offset=offset, active_only=active_only)

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self.client.get_run(run_id)

    def get_output(self, run_id: int, task_key: str, attempt: int | None) -> dict[str, Any]:
        return self.client.get_output(run_id, task_key, attempt)

    def read_log(self, run_id: int, task_key: str, attempt: int | None,
                 offset: int) -> LogChunk:
        return self.client.read_log(run_id, task_key, attempt, offset)

    def cancel_run(self, run_id: int) -> str:
        self.client.cancel_run(run_id)
        return f"cancel requested; the server is stopping run {run_id}"

    def repair_run(self, run_id: int, tasks: list[str]) -> str:
        repair_id = self.client.repair_run(run_id, tasks or None)
        what = ", ".join(tasks) if tasks else "its failed and canceled tasks"
        return f"repairing run {run_id} (repair {repair_id}): re-running {what}"

    def wait_run(self, run_id: int, output: str) -> str:
        """Follow the run on the server to its end, showing progress; its result state."""
        from podium.cli.follow import follow_run

        return follow_run(lambda: self.client.get_run(run_id), output)

    # ---- tokens, secrets, audit -----------------------------------------------------
    def create_token(self, user: str | None, comment: str,
                     lifetime_seconds: int | None) -> tuple[str, str]:
        if user:
            raise click.UsageError(
                "--user: a server makes tokens for the caller only; make one for another "
                "user with `podium token create --user NAME` on the server's home"
            )
        made = self.client.create_token(comment, lifetime_seconds)
        return str(made["token_info"]["token_id"]), str(made["token_value"])

    def list_tokens(self) -> list[dict[str, Any]]:
        return self.client.list_tokens()

    def revoke_token(self, token_id: str) -> None:
        self.client.revoke_token(token_id)

    def create_scope(self, scope: str) -> None:
        self.client.create_scope(scope)

    def list_scopes(self) -> list[dict[str, Any]]:
        return self.client.list_scopes()

    def delete_scope(self, scope: str) -> None:
        self.client.delete_scope(scope)

    def put_secret(self, scope: str, key: str, value: str) -> None:
        self.client.put_secret(scope, key, value)

    def list_secrets(self, scope: str) -> list[dict[str, Any]]:
        return self.client.list_secrets(scope)

    def delete_secret(self, scope: str, key: str) -> None:
        self.client.delete_secret(scope, key)

    def audit_events(self, limit: int, before_id: int | None) -> list[dict[str, Any]]:
        return self.client.audit_events(limit, before_id)


Backend = LocalBackend | RemoteBackend
