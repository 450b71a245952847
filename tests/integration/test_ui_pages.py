"""The UI in a real browser: Debian's Chromium, driven by Playwright, against a real
server on loopback. Each main page is saved as a screenshot under tests/artifacts/ (and
docs/screenshots/ for the README)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.integration import browser as chromium
from tests.integration import ui_fixtures
from tests.integration.browser import SignIn, shoot
from tests.integration.helpers import wait_for
from tests.integration.server import Server
from tests.integration.ui_fixtures import Jobs, create_jobs, csrf, session

server = ui_fixtures.server  # the fixture

browser, signed_in = chromium.browser, chromium.signed_in  # the fixtures



@pytest.fixture(scope="module")
def jobs(server: Server) -> Jobs:
    return create_jobs(server)


def test_a_bad_token_shows_the_error(server: Server, browser: Browser) -> None:
    other = browser.new_context(base_url=server.url)
    try:
        page = other.new_page()
        page.goto("/jobs")
        expect(page).to_have_url(re.compile(r"/sign-in\?next=/jobs"))
        page.get_by_label("API token").fill("not-a-token")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/sign-in"))
        shoot(page, "sign-in")
    finally:
        other.close()


def test_jobs_list_search_and_run_now(server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    demo, other = page.locator(f'tr[data-job="{jobs.demo}"]'), page.locator(
        f'tr[data-job="{jobs.other}"]')
    expect(demo.get_by_role("link", name="ui_demo")).to_be_visible()
    expect(other).to_be_visible()
    page.get_by_label("Search jobs by name or tag").fill("ui_de")
    page.get_by_role("button", name="Search").click()
    expect(other).to_have_count(0)
    expect(demo).to_be_visible()

    demo.get_by_text("Run now…").click()
    expect(demo.get_by_label("day")).to_have_value("2026-01-01")
    demo.get_by_label("day").fill("2026-03-03")
    demo.get_by_role("button", name="Run ui_demo now").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    with server.client() as api:
        def finished() -> bool:
            run = api.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
            return bool(run["state"].get("result_state"))
        wait_for(finished, what=f"run {run_id} to finish")

    page.goto("/jobs")
    expect(page.locator(f'a.sq[href="/runs/{run_id}"]')).to_have_attribute(
        "title", re.compile("SUCCESS"))
    shoot(page, "jobs", publish=True)


def test_pause_and_unpause(server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    row = page.locator(f'tr[data-job="{jobs.demo}"]')
    expect(row.get_by_text("● Active")).to_be_visible()
    row.get_by_role("button", name="Pause ui_demo").click()
    expect(row.get_by_text("⏸ Paused")).to_be_visible()
    row.get_by_role("button", name="Unpause ui_demo").click()
    expect(row.get_by_text("● Active")).to_be_visible()


def test_the_job_page(server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.get_by_role("link", name="ui_demo").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{jobs.demo}$"))
    expect(page.get_by_role("heading", name="ui_demo")).to_be_visible()
    tasks = page.locator("ol.tasks > li")
    expect(tasks).to_have_count(2)
    expect(page.locator("#task-load")).to_contain_text("after extract")
    page.locator("#task-load").get_by_role("link", name="extract").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#task-extract$"))
    expect(page.get_by_role("heading", name="Permissions")).to_be_visible()
    expect(page.locator("pre.spec")).to_contain_text("quartz_cron_expression")
    shoot(page, "job", publish=True)


def test_the_runs_page(server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    page.get_by_label("Job").select_option(str(jobs.other))
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"job={jobs.other}"))
    page.get_by_label("Job").select_option("")
    page.get_by_label("State").select_option("completed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.runs tbody tr").first).to_be_visible()
    shoot(page, "runs", publish=True)


def test_another_user_sees_nothing(server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    page = signed_in(server, server.token_for("dave"))
    expect(page.get_by_role("heading", name="No jobs yet")).to_be_visible()
    expect(page.get_by_text("ui_demo")).to_have_count(0)
    shoot(page, "jobs-empty")
    page.goto(f"/jobs/{jobs.demo}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("ui_demo")).to_have_count(0)


def test_a_write_without_the_csrf_token_is_refused(server: Server, jobs: Jobs) -> None:
    with session(server) as client:
        assert csrf(client)
        refused = client.post(f"/jobs/{jobs.demo}/run", data={})
        assert refused.status_code == 403 and "Refused" in refused.text


def test_sign_out(server: Server, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.goto("/jobs")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))


def _run_and_wait(server: Server, job_id: int) -> int:
    with server.client() as api:
        run_id = int(api.post("/api/2.2/jobs/run-now", json={"job_id": job_id}).json()["run_id"])

        def finished() -> bool:
            run = api.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
            return bool(run["state"].get("result_state"))
        wait_for(finished, what=f"run {run_id} to finish")
    return run_id


def test_a_viewer_sees_the_job_but_not_the_buttons_they_may_not_use(
        server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    run_id = _run_and_wait(server, jobs.other)
    token = server.token_for("erin")
    with server.client() as api:
        granted = api.patch(f"/api/2.0/permissions/jobs/{jobs.other}", json={
            "access_control_list": [{"user_name": "erin", "permission_level": "CAN_VIEW"}]})
        assert granted.status_code == 200, granted.text
    page = signed_in(server, token)
    row = page.locator(f'tr[data-job="{jobs.other}"]')
    expect(row.get_by_role("link", name="nightly_report")).to_be_visible()
    expect(row.get_by_text("view only")).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    expect(page.locator(f'tr[data-job="{jobs.demo}"]')).to_have_count(0)

    page.goto(f"/jobs/{jobs.other}")
    expect(page.get_by_text("You may view this job")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#run-state")).to_contain_text("SUCCESS")
    for name in ("Run again", "Cancel run", "Repair"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)


def test_new_runs_show_up_without_a_reload(server: Server, jobs: Jobs,
                                           signed_in: SignIn) -> None:
    page = signed_in(server, None)
    job_page = page.context.new_page()
    job_page.goto(f"/jobs/{jobs.other}")
    expect(job_page.get_by_role("heading", name="Runs")).to_be_visible()
    run_id = _run_and_wait(server, jobs.other)
    page.bring_to_front()
    # Neither page was reloaded: their polls bring the new run, finished.
    expect(page.locator(f'#last-runs-{jobs.other} a.sq[href="/runs/{run_id}"]')
           ).to_have_attribute("title", re.compile("SUCCESS"), timeout=20_000)
    job_page.bring_to_front()  # a tab in the background may have its timers slowed
    expect(job_page.locator(f'#job-runs a.sq[href="/runs/{run_id}"]')).to_have_attribute(
        "title", re.compile("SUCCESS"), timeout=20_000)
    expect(job_page.locator("#job-runs span.cell.SUCCESS").first).to_be_visible()


def test_the_dark_theme(server: Server, jobs: Jobs, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.emulate_media(color_scheme="dark")
    page.goto(f"/jobs/{jobs.demo}")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
    assert red + green + blue < 200, f"the dark theme's background is {background}"
    shoot(page, "job-dark", publish=True)
