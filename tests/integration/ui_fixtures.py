"""What the UI tests share: one server per module (``server``, a fixture to import) with
a job to look at, and a plain-HTTP session (no browser) signed in through the sign-in
form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2 as httpx
import pytest

from tests.integration.server import Server, running_cleanly


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server for the module's tests; its log must hold no traceback at the end."""
    with running_cleanly(tmp_path_factory.mktemp("podium-home"),
                         tmp_path_factory.mktemp("workspace")) as server:
        yield server


JOB = {
    "name": "ui_demo",
    "tags": {"team": "data"},
    "schedule": {"quartz_cron_expression": "0 0 5 * * ?", "timezone_id": "UTC"},
    "parameters": [{"name": "day", "default": "2026-01-01"}],
    "tasks": [
        {"task_key": "extract", "shell_task": {"command": ["true"]}},
        {"task_key": "load", "depends_on": [{"task_key": "extract"}],
         "shell_task": {"command": ["true"]}},
    ],
}
OTHER = {"name": "nightly_report", "tasks": [
    {"task_key": "report", "shell_task": {"command": ["true"]}}]}


@dataclass
class Jobs:
    demo: int
    other: int


def create_jobs(server: Server) -> Jobs:
    with server.client() as admin:
        ids = []
        for settings in (JOB, OTHER):
            response = admin.post("/api/2.2/jobs/create", json=settings)
            assert response.status_code == 200, response.text
            ids.append(int(response.json()["job_id"]))
    return Jobs(*ids)


@contextmanager
def session(server: Server, token: str | None = None) -> Iterator[httpx.Client]:
    """A client holding a UI session cookie for ``token`` (the admin's when None)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/sign-in", data={"token": token or server.token,
                                                 "next": "/jobs"})
        assert response.status_code == 303, response.text
        assert "podium_session" in client.cookies
        yield client


def csrf(client: httpx.Client, path: str = "/jobs") -> str:
    """The CSRF token a page of the session carries."""
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get(path).text)
    assert found, "no CSRF token in the page"
    return found.group(1)
