"""Insights in the UI, in Chromium against a real server: a job whose task fails once
per run and passes on its retry shows up as flaky with its error, each task has its
expected duration and trend, a suggestion is applied with one click (a new version of
the job), and a run's page marks its critical path and compares it with earlier runs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.integration import browser as chromium
from tests.integration import ui_fixtures
from tests.integration.browser import SignIn, shoot
from tests.integration.server import Server
from tests.integration.test_ui_run_page import finished, sh
from tests.integration.ui_fixtures import session

server = ui_fixtures.server  # the fixture

browser, signed_in = chromium.browser, chromium.signed_in  # the fixtures

JOBS = "/api/2.2/jobs"
# Fails with "connection reset" on each run's first attempt, passes on the retry.
FLAKY = ('test -f "$PODIUM_RUN_ID.tried" || { touch "$PODIUM_RUN_ID.tried"; '
         'echo "connection reset by peer (attempt 1)" >&2; exit 1; }; sleep 0.3')



@pytest.fixture(scope="module")
def job(server: Server) -> tuple[int, list[int]]:
    """A job of three tasks run four times; its id and its run ids."""
    fetch = {**sh("fetch", FLAKY), "max_retries": 2, "min_retry_interval_millis": 0}
    with server.client() as api:
        created = api.post(f"{JOBS}/create", json={"name": "insights_demo", "tasks": [
            sh("prepare", "sleep 0.2"), {**fetch, "depends_on": [{"task_key": "prepare"}]},
            sh("index", "sleep 0.1", "prepare"), sh("report", "sleep 0.1", "fetch", "index")]})
        assert created.status_code == 200, created.text
        job_id = int(created.json()["job_id"])
        runs = []
        for _ in range(4):
            run_id = int(api.post(f"{JOBS}/run-now", json={"job_id": job_id}).json()["run_id"])
            assert finished(api, run_id)["state"]["result_state"] == "SUCCESS"
            runs.append(run_id)
    return job_id, runs


def test_the_job_page_shows_flaky_tasks_trends_and_applies_a_suggestion(
        server: Server, job: tuple[int, list[int]], signed_in: SignIn) -> None:
    job_id, _ = job
    page = signed_in(server, None)
    page.goto(f"/jobs/{job_id}")
    panel = page.locator("#insights")
    expect(panel.get_by_role("heading", name=re.compile("Insights"))).to_contain_text(
        "last 4 run")
    flaky = panel.locator('table.flaky tr[data-task="fetch"]')
    expect(flaky).to_contain_text("4 of 4 runs")
    expect(flaky).to_contain_text("connection reset by peer")
    expect(panel.locator('table.estimates tr[data-task="report"] svg.spark circle')
           ).to_have_count(4)
    expect(panel).to_contain_text("Expected critical path: prepare → fetch → report")
    shoot(page, "insights", publish=True)

    panel.get_by_role("button", name="Apply timeout_seconds:fetch").click()
    page.wait_for_url(re.compile(rf"/jobs/{job_id}#insights$"))
    expect(page.locator("pre.spec")).to_contain_text("timeout_seconds: 60")
    with server.client() as api:
        versions = api.get(f"/api/podium/jobs/{job_id}/versions")
        assert versions.status_code == 200, versions.text
        assert "timeout_seconds" in str(versions.json())
    expect(page.locator('#insights li[data-suggestion="timeout_seconds:fetch"]')).to_have_count(0)


def test_the_run_page_marks_the_critical_path(server: Server, job: tuple[int, list[int]],
                                              signed_in: SignIn) -> None:
    _, runs = job
    page = signed_in(server, None)
    page.goto(f"/runs/{runs[-1]}")
    expect(page.locator("#critical-path")).to_contain_text("prepare")
    expect(page.locator("#critical-path")).to_contain_text("→ report")
    expect(page.locator('svg.gantt g.row.critical[data-task="fetch"]')).to_have_count(1)
    expect(page.locator('svg.gantt g.row.critical[data-task="index"]')).to_have_count(0)
    page.locator("#run-graph canvas").first.wait_for()
    on_path = page.evaluate("""() => document.getElementById("run-graph")._podiumCy
        .nodes("[?critical]").map(n => n.id()).sort()""")
    assert on_path == ["fetch", "prepare", "report"]
    insights = page.locator("#run-insights")
    expect(insights).to_contain_text("Usually takes")
    expect(insights).to_contain_text("successful run")
    shoot(page, "run-insights")


def test_a_viewer_sees_the_suggestions_without_apply(server: Server,
                                                    job: tuple[int, list[int]]) -> None:
    job_id, _ = job
    token = server.token_for("vic")
    with server.client() as api:
        api.patch(f"/api/2.0/permissions/jobs/{job_id}", json={
            "access_control_list": [{"user_name": "vic", "permission_level": "CAN_VIEW"}]})
    with session(server, token) as client:
        panel = client.get(f"/jobs/{job_id}/insights")
        assert panel.status_code == 200 and "Flaky tasks" in panel.text
        assert "podium insights apply" in panel.text and ">Apply<" not in panel.text
        token_value = re.search(r'name="csrf-token" content="([0-9a-f]+)"',
                                client.get("/jobs").text)
        assert token_value
        refused = client.post(f"/jobs/{job_id}/insights/apply", data={
            "csrf_token": token_value.group(1), "suggestion_id": "health:job"})
        assert refused.status_code == 403
    with session(server, server.token_for("nobody")) as client:
        assert client.get(f"/jobs/{job_id}/insights").status_code == 404
        assert client.get(f"/runs/{job_id + 1}/insights").status_code == 404
