"""The UI's pages over plain HTTP (no browser): sign-in, permissions, CSRF, filters. These
run wherever the server runs; test_ui_pages.py drives the same pages in Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.integration import ui_fixtures
from tests.integration.server import Server
from tests.integration.ui_fixtures import Jobs, create_jobs, csrf, session

server = ui_fixtures.server  # the fixture


@pytest.fixture(scope="module")
def jobs(server: Server) -> Jobs:
    return create_jobs(server)


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with session(server) as client:
        yield client


def test_pages_need_a_session(server: Server) -> None:
    for path in ("/", "/jobs", "/jobs/1", "/runs?state=active"):
        response = httpx.get(server.url + path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/sign-in?next=")


def test_a_bad_token_is_refused_with_a_message(server: Server) -> None:
    response = httpx.post(server.url + "/sign-in", data={"token": "not-a-token"})
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert "podium_session" not in response.cookies


def test_the_session_cookie_is_httponly_and_samesite(server: Server) -> None:
    response = httpx.post(server.url + "/sign-in", data={"token": server.token})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_the_jobs_page_lists_searches_and_sorts(admin: httpx.Client, jobs: Jobs) -> None:
    page = admin.get("/jobs").text
    assert f'href="/jobs/{jobs.demo}"' in page and f'href="/jobs/{jobs.other}"' in page
    assert "cron 0 0 5 * * ? (UTC)" in page and "team: data" in page
    found = admin.get("/jobs", params={"q": "DEMO"}).text
    assert f'href="/jobs/{jobs.demo}"' in found and f'href="/jobs/{jobs.other}"' not in found
    assert "No job matches" in admin.get("/jobs", params={"q": "zzz"}).text
    by_name = admin.get("/jobs", params={"sort": "name", "desc": "true"}).text
    assert by_name.index(f'href="/jobs/{jobs.demo}"') < by_name.index(
        f'href="/jobs/{jobs.other}"')
    by_name = admin.get("/jobs", params={"q": "", "sort": "name", "desc": ""}).text  # a link
    assert by_name.index(f'href="/jobs/{jobs.other}"') < by_name.index(
        f'href="/jobs/{jobs.demo}"')
    assert 'aria-sort="ascending"' in by_name
    assert admin.get("/jobs", params={"sort": "nonsense"}).status_code == 200


def test_the_job_page_shows_tasks_settings_permissions_and_spec(
    admin: httpx.Client, jobs: Jobs,
) -> None:
    page = admin.get(f"/jobs/{jobs.demo}").text
    assert 'id="task-extract"' in page and 'href="#task-extract"' in page  # load's dependency
    assert "0 0 5 * * ?" in page and "<code>day</code>" in page
    assert "IS_OWNER" in page and "admins" in page
    assert "quartz_cron_expression: 0 0 5 * * ?" in page  # the YAML spec
    missing = admin.get("/jobs/999999")
    assert missing.status_code == 404 and "Not found" in missing.text


def test_writes_need_the_csrf_token(admin: httpx.Client, jobs: Jobs) -> None:
    for path, data in ((f"/jobs/{jobs.demo}/pause", {"status": "PAUSED"}),
                       (f"/jobs/{jobs.demo}/run", {}), ("/sign-out", {})):
        refused = admin.post(path, data=data)
        assert refused.status_code == 403, path
        wrong = admin.post(path, data={**data, "csrf_token": "0" * 40})
        assert wrong.status_code == 403, path
    assert "⏸ Paused" not in admin.get(f"/jobs/{jobs.demo}").text
    assert "run-now" in admin.get("/jobs").text  # still signed in


def test_pause_and_unpause(admin: httpx.Client, jobs: Jobs) -> None:
    token = csrf(admin)
    url = f"/jobs/{jobs.demo}/pause"
    done = admin.post(url, data={"status": "PAUSED", "csrf_token": token, "next": "/jobs"})
    assert done.status_code == 303 and done.headers["location"] == "/jobs"
    assert "⏸ Paused" in admin.get(f"/jobs/{jobs.demo}").text
    done = admin.post(url, headers={"X-CSRF-Token": token}, data={"status": "UNPAUSED"})
    assert done.headers["location"] == f"/jobs/{jobs.demo}"
    assert "● Active" in admin.get(f"/jobs/{jobs.demo}").text
    nothing = admin.post(f"/jobs/{jobs.other}/pause",
                         data={"status": "PAUSED", "csrf_token": token})
    assert nothing.status_code == 400 and "no schedule" in nothing.text


def test_run_now_redirects_to_the_run(admin: httpx.Client, server: Server,
                                      jobs: Jobs) -> None:
    done = admin.post(f"/jobs/{jobs.demo}/run",
                      data={"csrf_token": csrf(admin), "param.day": "2026-02-02"})
    assert done.status_code == 303 and done.headers["location"].startswith("/runs/")
    run_id = int(done.headers["location"].rsplit("/", 1)[1])
    with server.client() as api:
        run = api.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
    assert run["job_id"] == jobs.demo
    assert {"name": "day", "value": "2026-02-02"} in run["job_parameters"]
    runs = admin.get("/runs", params={"job": jobs.demo}).text
    assert f'href="/runs/{run_id}"' in runs
    assert f'href="/runs/{run_id}"' in admin.get("/jobs").text  # a square of the last runs
    assert f'href="/runs/{run_id}"' in admin.get(f"/jobs/{jobs.demo}").text  # the matrix


def test_the_runs_page_filters_and_pages(admin: httpx.Client, jobs: Jobs) -> None:
    token = csrf(admin)
    for _ in range(3):
        admin.post(f"/jobs/{jobs.other}/run", data={"csrf_token": token})
    first = admin.get("/runs", params={"job": jobs.other, "limit": 2}).text
    assert first.count('href="/runs/') == 2 and 'rel="next"' in first
    assert 'rel="prev"' not in first
    second = admin.get("/runs", params={"job": jobs.other, "limit": 2, "offset": 2}).text
    assert second.count('href="/runs/') == 1 and 'rel="prev"' in second
    assert 'rel="next"' not in second
    triggered = admin.get("/runs", params={"trigger": "PERIODIC"}).text
    assert "No run matches these filters" in triggered
    later = admin.get("/runs", params={"start": "2999-01-01"}).text
    assert "No run matches these filters" in later
    today = admin.get("/runs", params={"job": jobs.other, "end": "2999-01-01",
                                       "state": "completed"})
    assert today.status_code == 200
    bad = admin.get("/runs", params={"start": "yesterday"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_another_user_sees_nothing_of_the_jobs(server: Server, jobs: Jobs) -> None:
    with session(server, server.token_for("carol")) as carol:
        page = carol.get("/jobs").text
        assert "No jobs yet" in page and "podium jobs create" in page
        assert "ui_demo" not in page
        hidden = carol.get(f"/jobs/{jobs.demo}")
        assert hidden.status_code == 404 and "ui_demo" not in hidden.text
        assert "ui_demo" not in carol.get("/runs").text
        token = csrf(carol)
        run = carol.post(f"/jobs/{jobs.demo}/run", data={"csrf_token": token})
        assert run.status_code == 404
        pause = carol.post(f"/jobs/{jobs.demo}/pause",
                           data={"status": "PAUSED", "csrf_token": token})
        assert pause.status_code == 404


def test_a_viewer_sees_the_job_but_may_not_change_it(server: Server, jobs: Jobs) -> None:
    erin_token = server.token_for("erin")
    with server.client() as api:
        granted = api.patch(f"/api/2.0/permissions/jobs/{jobs.demo}", json={
            "access_control_list": [{"user_name": "erin", "permission_level": "CAN_VIEW"}]})
        assert granted.status_code == 200, granted.text
    with session(server, erin_token) as erin:
        page = erin.get("/jobs").text
        assert f'href="/jobs/{jobs.demo}"' in page and "nightly_report" not in page
        assert erin.get(f"/jobs/{jobs.demo}").status_code == 200
        token = csrf(erin)
        pause = erin.post(f"/jobs/{jobs.demo}/pause",
                          data={"status": "PAUSED", "csrf_token": token})
        assert pause.status_code == 403 and "CAN_MANAGE" in pause.text
        run = erin.post(f"/jobs/{jobs.demo}/run", data={"csrf_token": token})
        assert run.status_code == 403 and "CAN_MANAGE_RUN" in run.text


def test_sign_out_ends_the_session(server: Server) -> None:
    with session(server) as client:
        done = client.post("/sign-out", data={"csrf_token": csrf(client)})
        assert done.status_code == 303 and done.headers["location"] == "/sign-in"
        assert client.get("/jobs").status_code == 303
