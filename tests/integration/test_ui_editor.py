"""The job editor (/build) and the template gallery (/templates): over plain HTTP (preview,
form to YAML, save, CSRF, permissions) and in Chromium (a template opened in the editor,
a task added in the visual pane, the YAML edited, the job saved)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import yaml
from playwright.sync_api import expect

from tests.integration import browser as chromium
from tests.integration import ui_fixtures
from tests.integration.browser import SignIn, shoot
from tests.integration.server import Server
from tests.integration.ui_fixtures import csrf, session

server = ui_fixtures.server  # the fixture

browser, signed_in = chromium.browser, chromium.signed_in  # the fixtures

VALID = """\
name: editor_demo
tasks:
  - task_key: extract
    shell_task: {command: [echo, hi]}
  - task_key: load
    depends_on: [{task_key: extract}]
    shell_task: {command: [echo, done]}
"""



@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with session(server) as client:
        client.headers["X-CSRF-Token"] = csrf(client, "/build")
        yield client


def test_preview_of_valid_yaml_lists_the_tasks(admin: httpx.Client) -> None:
    response = admin.post("/build/preview", data={"yaml": VALID})
    assert response.status_code == 200, response.text
    assert 'data-task="extract"' in response.text and 'data-task="load"' in response.text
    assert "✓ Valid: 2 tasks" in response.text
    assert '"source": "extract", "target": "load"' in response.text  # the graph's edge


def test_preview_shows_the_validators_problems_with_their_places(
        admin: httpx.Client) -> None:
    missing = VALID.replace("depends_on: [{task_key: extract}]",
                            "depends_on: [{task_key: extrakt}]")
    text = admin.post("/build/preview", data={"yaml": missing}).text
    assert "tasks[1].depends_on[0].task_key" in text and "extract" in text
    cycle = VALID.replace("  - task_key: extract\n",
                          "  - task_key: extract\n    depends_on: [{task_key: load}]\n")
    text = admin.post("/build/preview", data={"yaml": cycle}).text
    assert "problem" in text and "cycle" in text.lower()
    broken = admin.post("/build/preview", data={"yaml": "name: [unclosed"}).text
    assert "not valid YAML" in broken and re.search(r"line \d+, column \d+", broken)


def _form(text: str) -> dict[str, object]:
    """The visual form's fields as the page would post them for the YAML ``text``."""
    settings = yaml.safe_load(text)
    data: dict[str, object] = {"yaml": text, "name": settings["name"], "cron": "",
                               "timezone": "UTC", "parameters": "", "email_on_failure": "",
                               "count": str(len(settings["tasks"]))}
    for i, task in enumerate(settings["tasks"]):
        data |= {f"t{i}.old": task["task_key"], f"t{i}.key": task["task_key"],
                 f"t{i}.type": "shell_task",
                 f"t{i}.command": " ".join(task["shell_task"]["command"]),
                 f"t{i}.deps": [d["task_key"] for d in task.get("depends_on", [])]}
    return data


def _yaml_of(html: str) -> dict[str, object]:
    found = re.search(r'<textarea id="yaml"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert found, html
    text = found.group(1).replace("&#34;", '"').replace("&#39;", "'").replace(
        "&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    loaded: dict[str, object] = yaml.safe_load(text)
    return loaded


def test_the_form_round_trips_to_yaml(admin: httpx.Client) -> None:
    added = admin.post("/build/form", data={**_form(VALID), "action": "add"})  # type: ignore[arg-type]
    assert added.status_code == 200, added.text
    settings = _yaml_of(added.text)
    tasks = settings["tasks"]
    assert isinstance(tasks, list) and [t["task_key"] for t in tasks] == [
        "extract", "load", "task_3"]
    text = yaml.safe_dump(settings, sort_keys=False)
    form = _form(text) | {"t2.key": "report", "t2.deps": ["load"], "t2.command": "echo report",
                          "cron": "0 0 6 * * ?", "parameters": "day=2026-01-01",
                          "email_on_failure": "ops@example.com",
                          "email_on_success": "team@example.com",
                          "webhook_on_failure": "ops_hook"}
    connected = admin.post("/build/form", data=form)  # type: ignore[arg-type]
    settings = _yaml_of(connected.text)
    report = settings["tasks"][2]  # type: ignore[index]
    assert report == {"task_key": "report", "depends_on": [{"task_key": "load"}],
                      "shell_task": {"command": ["echo", "report"]}}
    assert settings["schedule"] == {"quartz_cron_expression": "0 0 6 * * ?",
                                    "timezone_id": "UTC"}
    assert settings["parameters"] == [{"name": "day", "default": "2026-01-01"}]
    assert settings["email_notifications"] == {"on_failure": ["ops@example.com"],
                                               "on_success": ["team@example.com"]}
    assert settings["webhook_notifications"] == {"on_failure": [{"id": "ops_hook"}]}
    assert "✓ Valid: 3 tasks" in connected.text
    removed = admin.post("/build/form", data={**_form(yaml.safe_dump(settings)),  # type: ignore[arg-type]
                                              "action": "remove:1"})
    assert [t["task_key"] for t in _yaml_of(removed.text)["tasks"]] == [  # type: ignore[attr-defined]
        "extract", "report"]
    assert "depends_on" not in _yaml_of(removed.text)["tasks"][1]  # type: ignore[index]


def test_save_creates_the_job_and_refuses_an_invalid_one(
        server: Server, admin: httpx.Client) -> None:
    bad = admin.post("/build/save", data={"yaml": VALID.replace("extract}", "nope}")})
    assert bad.status_code == 400 and "Not saved" in bad.text
    assert "tasks[1].depends_on[0].task_key" in bad.text
    saved = admin.post("/build/save", data={"yaml": VALID})
    assert saved.status_code == 303, saved.text
    job_id = int(saved.headers["location"].rsplit("/", 1)[1])
    with server.client() as api:
        job = api.get("/api/2.2/jobs/get", params={"job_id": job_id}).json()
    assert job["settings"]["name"] == "editor_demo"
    assert job["creator_user_name"] == "admin"
    edit = admin.get(f"/build/{job_id}")
    assert edit.status_code == 200 and "editor_demo" in edit.text
    again = admin.post(f"/build/{job_id}/save",
                       data={"yaml": VALID.replace("editor_demo", "editor_demo2")})
    assert again.status_code == 303
    with server.client() as api:
        job = api.get("/api/2.2/jobs/get", params={"job_id": job_id}).json()
    assert job["settings"]["name"] == "editor_demo2"


def test_the_editor_needs_a_session_and_hides_jobs_one_may_not_see(
        server: Server, admin: httpx.Client) -> None:
    for path in ("/build", "/build/1", "/templates"):
        response = httpx.get(server.url + path)
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/sign-in?next=")
    fresh = admin.get("/build")
    assert fresh.status_code == 200 and "New job" in fresh.text
    assert 'data-task="first"' in fresh.text
    with server.client() as api:
        job_id = api.post("/api/2.2/jobs/create", json=yaml.safe_load(VALID)).json()["job_id"]
    with session(server, server.token_for("nobody")) as nobody:
        hidden = nobody.get(f"/build/{job_id}")
        assert hidden.status_code == 404 and "editor_demo" not in hidden.text


def test_save_without_csrf_is_refused(server: Server) -> None:
    with session(server) as client:
        refused = client.post("/build/save", data={"yaml": VALID})
        assert refused.status_code == 403
        assert client.post("/build/preview", data={"yaml": VALID}).status_code == 403
        assert client.post("/templates/etl/use").status_code == 403


def test_a_viewer_cannot_save_over_a_job(server: Server) -> None:
    vera_token = server.token_for("vera")
    with server.client() as api:
        job_id = api.post("/api/2.2/jobs/create", json=yaml.safe_load(VALID)).json()["job_id"]
        granted = api.patch(f"/api/2.0/permissions/jobs/{job_id}", json={
            "access_control_list": [{"user_name": "vera", "permission_level": "CAN_VIEW"}]})
        assert granted.status_code == 200, granted.text
    with session(server, vera_token) as vera:
        token = csrf(vera, f"/build/{job_id}")
        refused = vera.post(f"/build/{job_id}/save",
                            data={"yaml": VALID.replace("echo, done", "echo, evil"),
                                  "csrf_token": token})
        assert refused.status_code == 403
        assert "Not saved" in refused.text and "CAN_MANAGE" in refused.text
    with server.client() as api:
        job = api.get("/api/2.2/jobs/get", params={"job_id": job_id}).json()
    assert job["settings"]["tasks"][1]["shell_task"]["command"] == ["echo", "done"]


def test_the_gallery_lists_templates_and_makes_jobs(server: Server,
                                                    admin: httpx.Client) -> None:
    gallery = admin.get("/templates").text
    for name in ("seed_pipeline", "etl_daily", "ml_retraining", "api_fan_out",
                 "file_arrival_ingest"):
        assert f">{name}</h2>" in gallery
    used = admin.post("/templates/ml_retraining/use")
    assert used.status_code == 303 and re.fullmatch(r"/build/\d+", used.headers["location"])
    assert "condition_task" in admin.get(used.headers["location"]).text
    assert admin.post("/templates/nope/use").status_code == 404


def test_template_to_editor_to_job_page_in_a_browser(server: Server,
                                                     signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.get_by_role("link", name="Templates").click()
    expect(page.locator(".template-card")).to_have_count(5)
    shoot(page, "templates", publish=True)
    page.get_by_role("button", name="Use the etl_daily template").click()
    page.wait_for_url(re.compile(r"/build/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    yaml_box = page.get_by_role("textbox", name="Job spec (YAML)")
    expect(page.locator("li.build-task")).to_have_count(3)
    expect(page.locator("#build-graph")).to_have_attribute("data-nodes", "3")

    page.get_by_role("button", name="Add task").click()  # the visual pane -> YAML
    expect(page.locator("li.build-task")).to_have_count(4)
    expect(yaml_box).to_have_value(re.compile(r"task_key: task_4"))
    new = page.locator('li.build-task[data-task="task_4"]')
    new.get_by_label("load").check()
    expect(yaml_box).to_have_value(
        re.compile(r"task_key: task_4\n  depends_on:\n  - task_key: load"))
    expect(page.locator("#build-graph")).to_have_attribute("data-nodes", "4")
    settled(page)
    key = page.locator('li.build-task[data-task="task_4"]').get_by_label("Key")
    key.fill("report")
    # Tab from the focused field (a change event: the server rewrites the YAML). Not
    # key.press(): the swap it causes detaches the field, which makes Playwright retry the
    # press on a locator that no longer matches once the task is renamed.
    page.keyboard.press("Tab")
    expect(yaml_box).to_have_value(re.compile(r"task_key: report\n"))
    report = page.locator('li.build-task[data-task="report"]')
    expect(report).to_be_visible()
    expect(report.get_by_label("Type")).to_be_focused()  # the keyboard focus survives

    text = yaml_box.input_value()  # the YAML -> the visual pane
    yaml_box.fill(text.replace("task_key: report", "task_key: publish"))
    expect(page.locator('li.build-task[data-task="publish"]')).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Valid: 4 tasks")
    yaml_box.fill(text.replace("- task_key: load\n", "- task_key: lode\n", 1))
    expect(page.get_by_role("status")).to_contain_text("tasks[3].depends_on[0].task_key")
    yaml_box.fill(text.replace("task_key: report", "task_key: publish"))
    expect(page.get_by_role("status")).to_contain_text("Valid: 4 tasks")
    expect(page.locator("#build-graph")).to_have_attribute("data-nodes", "4")
    yaml_box.evaluate("box => { box.blur(); box.scrollTop = 0; }")
    shoot(page, "build", publish=True)

    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(rf"/jobs/{job_id}$"))
    expect(page.locator("#task-publish")).to_be_visible()


TWO = """\
name: connect_demo
tasks:
  - task_key: fetch
    http_task: {url: "http://127.0.0.1:1/x", headers: {Accept: application/json}}
  - task_key: store
    shell_task: {command: [echo, stored]}
"""


def _node_at(page: object, key: str) -> tuple[float, float]:
    """Where task ``key``'s node is drawn, in page coordinates."""
    x, y = page.evaluate(  # type: ignore[attr-defined]
        """key => {
            const box = document.getElementById("build-graph");
            const at = box._podiumCy.getElementById(key).renderedPosition();
            const r = box.getBoundingClientRect();
            return [r.left + at.x, r.top + at.y];
        }""", key)
    return float(x), float(y)


def settled(page: object) -> None:
    """Wait until the visual pane's last swap has settled and focus was put back (a field
    filled before then could lose its text to the field the swap refocuses)."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "!document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
    page.evaluate(  # type: ignore[attr-defined]
        "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_connect_tasks_by_dragging_and_fill_a_types_form(server: Server,
                                                          signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.goto("/build")
    yaml_box = page.get_by_role("textbox", name="Job spec (YAML)")
    yaml_box.fill(TWO)
    expect(page.locator("#build-graph")).to_have_attribute("data-nodes", "2")
    fetch = page.locator('li.build-task[data-task="fetch"]')
    expect(fetch.get_by_label("Headers")).to_have_value("Accept=application/json")

    start, end = _node_at(page, "fetch"), _node_at(page, "store")
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 5, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    expect(yaml_box).to_have_value(
        re.compile(r"task_key: store\n  depends_on:\n  - task_key: fetch"))
    expect(page.get_by_role("status")).to_contain_text("Valid: 2 tasks")

    # The form of the task's type: a field the YAML did not have, and a common one.
    settled(page)
    fetch.get_by_label("Query parameters").fill("page=2")
    page.keyboard.press("Tab")
    expect(yaml_box).to_have_value(re.compile(r"params:\n      page: '2'"))
    settled(page)
    retries = page.locator('li.build-task[data-task="store"]').get_by_label("Retries")
    retries.fill("3")
    page.keyboard.press("Tab")
    expect(yaml_box).to_have_value(re.compile(r"max_retries: 3"))
    assert "response_values" not in yaml_box.input_value()

    # A click on the arrow offers to remove the dependency (once the graph is redrawn).
    settled(page)
    page.locator("#build-graph").scroll_into_view_if_needed()
    # The scroll event (the graph then notes where it is now) comes with the next frame.
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    start, end = _node_at(page, "fetch"), _node_at(page, "store")
    page.mouse.click((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    remove = page.get_by_role("button", name="Remove the dependency fetch → store")
    remove.click()
    expect(yaml_box).not_to_have_value(re.compile("depends_on"))
    expect(yaml_box).to_have_value(re.compile(r"max_retries: 3"))
