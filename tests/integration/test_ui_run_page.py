"""The run page of a real ``podium server``: in Chromium, a run's tasks turn SUCCESS on
screen without a reload, a running task's log shows a line printed after the page opened,
a failure is shown on top and repaired from the page, a sleeping run is canceled, and a
user without permission sees only "not found"; over plain HTTP, the partials the page
polls, the downloads, and a write without its CSRF token.

One server serves the whole module; each test makes jobs of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import pytest

from podium.ui.run_page import duration, repair_preselected
from tests.integration import browser as chromium
from tests.integration.browser import SignIn, shoot
from tests.integration.helpers import wait_for
from tests.integration.server import Server, running_cleanly

if TYPE_CHECKING:
    from playwright.sync_api import Page

browser, signed_in = chromium.browser, chromium.signed_in  # the fixtures

JOBS = "/api/2.2/jobs"
FINISHED = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")


# ---- fixtures and helpers -----------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workspace = tmp_path_factory.mktemp("workspace")
    with running_cleanly(tmp_path_factory.mktemp("podium-home"), workspace) as server:
        yield server


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def sh(key: str, script: str, *after: str) -> dict[str, Any]:
    return {"task_key": key, "shell_task": {"command": ["bash", "-c", script]},
            "depends_on": [{"task_key": k} for k in after]}


def start(c: httpx.Client, name: str, *tasks: dict[str, Any], **fields: Any) -> int:
    """Create a job and start a run of it; the run's id."""
    created = c.post(f"{JOBS}/create", json={"name": name, "tasks": list(tasks), **fields})
    assert created.status_code == 200, created.text
    started = c.post(f"{JOBS}/run-now", json={"job_id": created.json()["job_id"]})
    assert started.status_code == 200, started.text
    run_id: int = started.json()["run_id"]
    return run_id


def get_run(c: httpx.Client, run_id: int) -> dict[str, Any]:
    response = c.get(f"{JOBS}/runs/get", params={"run_id": run_id})
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def finished(c: httpx.Client, run_id: int) -> dict[str, Any]:
    wait_for(lambda: get_run(c, run_id)["state"]["life_cycle_state"] in FINISHED,
             what=f"run {run_id} to end")
    return get_run(c, run_id)


def task_running(c: httpx.Client, run_id: int, key: str) -> None:
    def started() -> bool:
        tasks = {t["task_key"]: t for t in get_run(c, run_id)["tasks"]}
        return bool(tasks[key]["state"]["life_cycle_state"] == "RUNNING")

    wait_for(started, what=f"task {key} of run {run_id} to run")


def wait_file(path: Path) -> str:
    """A bash loop that waits for ``path`` to exist."""
    return f"while [ ! -e {path} ]; do sleep 0.05; done"


@contextmanager
def session(server: Server, token: str | None = None) -> Iterator[httpx.Client]:
    """A plain-HTTP client signed in to the UI (session cookie, no bearer token)."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        signed = c.post("/sign-in", data={"token": token or server.token, "next": "/jobs"})
        assert signed.status_code == 303, signed.text
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, html
    return found.group(1)


def row_state(page: Page, key: str) -> str:
    return page.locator(f'#run-tasks tr[data-task="{key}"]').get_attribute("data-state") or ""


# ---- pure pieces --------------------------------------------------------------------------
def test_repair_preselects_the_failed_tasks_and_their_downstream() -> None:
    def task(key: str, result: str | None, *after: str) -> dict[str, Any]:
        state = {"life_cycle_state": "TERMINATED" if result else "BLOCKED"}
        if result:
            state["result_state"] = result
        return {"task_key": key, "state": state,
                "depends_on": [{"task_key": k} for k in after]}

    tasks = [task("a", "SUCCESS"), task("b", "FAILED", "a"), task("c", "UPSTREAM_FAILED", "b"),
             task("d", "SUCCESS", "a"), task("e", "CANCELED"), task("f", "SUCCESS", "e", "d")]
    assert repair_preselected(tasks) == {"b", "c", "e", "f"}
    assert repair_preselected([task("a", "SUCCESS")]) == set()


def test_durations_read_like_words() -> None:
    assert [duration(m) for m in (0, 850, 4200, 187_000, 7_500_000)] == [
        "", "850 ms", "4.2 s", "3 min 07 s", "2 h 05 min"]


# ---- in the browser -----------------------------------------------------------------------
def test_a_run_turns_green_live_and_its_log_streams(
    server: Server, admin: httpx.Client, signed_in: SignIn, tmp_path: Path
) -> None:
    say, gate = tmp_path / "say", tmp_path / "gate"
    run_id = start(admin, "ui_live", sh("first", (
        f"echo started; {wait_file(say)}; echo printed after the page opened; "
        f"{wait_file(gate)}; echo finished")), sh("second", "echo second", "first"))
    page = signed_in(server, None)
    page.goto(f"/runs/{run_id}")
    page.wait_for_function("document.querySelector('#run-tasks tr[data-task=first]')"
                           ".dataset.state === 'RUNNING'")
    assert page.locator("#run-head").get_attribute("hx-trigger") == "every 1s"
    assert "ui_live" in page.locator("h1").inner_text()
    page.locator("#run-graph canvas").first.wait_for()  # cytoscape drew the graph
    page.evaluate("window.podiumNoReload = true")

    # The task's log, in a second tab, while it runs: a new line appears without a reload.
    logs = page.context.new_page()
    logs.goto(f"/runs/{run_id}")
    logs.get_by_role("link", name="first", exact=True).first.click()
    logs.wait_for_url(re.compile(rf"/runs/{run_id}/tasks/first$"))
    logs.locator("#log .line", has_text="started").wait_for()
    logs.evaluate("window.podiumNoReload = true")
    say.touch()
    logs.locator("#log .line", has_text="printed after the page opened").wait_for()
    assert logs.evaluate("window.podiumNoReload") is True
    assert re.match(r"\d{4}-\d\d-\d\dT", logs.locator("#log .stamp").first.inner_text())
    logs.get_by_label("Search the log").fill("after the page")
    assert logs.locator("#log .line", has_text="started").is_hidden()
    assert logs.locator("#log .line", has_text="after the page").is_visible()
    assert "1 of 2 lines match" in logs.locator("#log-count").inner_text()
    shoot(logs, "run-task-log")

    gate.touch()
    page.wait_for_function("document.querySelector('#run-head').dataset.state === 'SUCCESS'")
    assert row_state(page, "first") == row_state(page, "second") == "SUCCESS"
    assert page.evaluate("window.podiumNoReload") is True  # the poll did it, not a reload
    assert page.locator("#run-head").get_attribute("hx-trigger") is None  # polling stopped
    page.get_by_role("button", name="Run again").wait_for()
    shoot(page, "run", publish=True)

    # The log page, once the task ended, shows the whole log and offers it for download.
    logs.locator("#log-poll[data-ended=yes]").wait_for()
    logs.locator("#log .line", has_text="finished").wait_for()
    with logs.expect_download() as download:
        logs.get_by_role("link", name="Download the log").click()
    saved = Path(download.value.path()).read_text()
    assert "printed after the page opened" in saved and "finished" in saved

    # Run again: a new run of the job with the same parameters, and its page.
    page.get_by_role("button", name="Run again").click()
    page.wait_for_url(re.compile(r"/runs/(\d+)$"))
    again = int(page.url.rsplit("/", 1)[1])
    assert again != run_id
    assert get_run(admin, again)["job_id"] == get_run(admin, run_id)["job_id"]
    admin.post(f"{JOBS}/runs/cancel", json={"run_id": again})


def test_a_failure_is_on_top_and_repair_fixes_it(
    server: Server, admin: httpx.Client, signed_in: SignIn, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    run_id = start(admin, "ui_repair", sh("other", "echo other"),
                   sh("check", f"echo checking; test -f {flag}"),
                   sh("after", "echo after", "check"))
    finished(admin, run_id)
    page = signed_in(server, None)
    page.goto(f"/runs/{run_id}")
    assert page.locator("#run-head").get_attribute("data-state") == "FAILED"
    failures = page.locator(".failures")
    assert failures.is_visible()
    assert failures.get_by_role("link", name="check").is_visible()
    # the failures come before the graph and the task table
    assert page.evaluate("""() => {
        const f = document.querySelector('.failures'), t = document.querySelector('#run-tasks');
        return !!(f.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    assert page.get_by_label(re.compile(r"^check")).is_checked()
    assert page.get_by_label(re.compile(r"^after")).is_checked()
    assert not page.get_by_label(re.compile(r"^other")).is_checked()
    shoot(page, "run-failed")

    flag.touch()
    page.get_by_role("button", name="Repair", exact=True).click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    page.wait_for_function("document.querySelector('#run-head').dataset.state === 'SUCCESS'")
    assert row_state(page, "check") == row_state(page, "after") == "SUCCESS"
    assert page.locator(".failures").count() == 0
    run = get_run(admin, run_id)
    assert run["repair_count"] == 1
    other = next(t for t in run["tasks"] if t["task_key"] == "other")
    assert len(other["attempts"]) == 1  # it kept its result


def test_cancel_a_sleeping_run(
    server: Server, admin: httpx.Client, signed_in: SignIn
) -> None:
    run_id = start(admin, "ui_cancel", sh("nap", "sleep 600"))
    task_running(admin, run_id, "nap")
    page = signed_in(server, None)
    page.goto(f"/runs/{run_id}")
    page.get_by_role("button", name="Cancel run").click()
    page.wait_for_function("document.querySelector('#run-head').dataset.state === 'CANCELED'")
    assert row_state(page, "nap") == "CANCELED"
    assert get_run(admin, run_id)["state"]["result_state"] == "CANCELED"


def test_a_user_without_permission_sees_not_found(
    server: Server, admin: httpx.Client, signed_in: SignIn
) -> None:
    run_id = start(admin, "ui_secret_job", sh("hidden", "echo hidden"))
    finished(admin, run_id)
    page = signed_in(server, server.token_for("carol"))
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/tasks/hidden"):
        response = page.goto(path)
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", name="Not found").is_visible()
        assert "ui_secret_job" not in page.content()
    shoot(page, "run-not-found")


# ---- over plain HTTP ----------------------------------------------------------------------
def test_the_live_partial_polls_until_the_run_ends(server: Server, admin: httpx.Client,
                                                   tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = start(admin, "ui_partial", sh("wait", f"echo one; {wait_file(gate)}; echo two"))
    task_running(admin, run_id, "wait")
    with session(server) as ui:
        live = ui.get(f"/runs/{run_id}/live", headers={"HX-Request": "true"})
        assert live.status_code == 200
        assert 'hx-trigger="every 1s"' in live.text
        assert 'id="run-tasks"' in live.text and 'hx-swap-oob="true"' in live.text
        assert "<html" not in live.text  # a fragment, not a page

        wait_for(lambda: "one" in ui.get(f"/runs/{run_id}/tasks/wait/log").text,
                 what="the first line")
        first = ui.get(f"/runs/{run_id}/tasks/wait/log", params={"offset": 0})
        assert "one" in first.text and 'hx-trigger="every 1s"' in first.text
        offset = int(re.search(r"offset=(\d+)", first.text).group(1))  # type: ignore[union-attr]
        assert offset > 0
        nothing_new = ui.get(f"/runs/{run_id}/tasks/wait/log", params={"offset": offset})
        assert "one" not in nothing_new.text and f"offset={offset}" in nothing_new.text

        gate.touch()
        finished(admin, run_id)
        ended = ui.get(f"/runs/{run_id}/live")
        assert "hx-trigger" not in ended.text and 'data-state="SUCCESS"' in ended.text
        done = ui.get(f"/runs/{run_id}/tasks/wait/log", params={"offset": offset})
        assert done.headers.get("hx-refresh") == "true"  # the page shows the ended task
        whole = ui.get(f"/runs/{run_id}/tasks/wait/log/download")
        assert whole.status_code == 200 and "attachment" in whole.headers["content-disposition"]
        assert " out | one" in whole.text and " out | two" in whole.text


def test_writes_need_the_csrf_token(server: Server, admin: httpx.Client,
                                    tmp_path: Path) -> None:
    run_id = start(admin, "ui_csrf", sh("bad", f"test -f {tmp_path / 'never'}"))
    finished(admin, run_id)
    with session(server) as ui:
        token = csrf_of(ui.get(f"/runs/{run_id}").text)
        for action in ("repair", "cancel", "run-again"):
            refused = ui.post(f"/runs/{run_id}/{action}", data={"task": "bad"})
            assert refused.status_code == 403, action
            assert "Refused" in refused.text
        wrong = ui.post(f"/runs/{run_id}/repair", data={"task": "bad", "csrf_token": "x" * 40})
        assert wrong.status_code == 403
        assert get_run(admin, run_id)["repair_count"] == 0

        repaired = ui.post(f"/runs/{run_id}/repair", data={"task": "bad", "csrf_token": token})
        assert repaired.status_code == 303 and repaired.headers["location"] == f"/runs/{run_id}"
        assert finished(admin, run_id)["repair_count"] == 1
        unknown = ui.post(f"/runs/{run_id}/repair", data={"task": "nope", "csrf_token": token})
        assert unknown.status_code == 400 and "nope" in unknown.text


def test_pages_of_missing_runs_and_tasks_are_not_found(server: Server,
                                                       admin: httpx.Client) -> None:
    run_id = start(admin, "ui_missing", sh("only", "echo only"))
    finished(admin, run_id)
    with session(server) as ui:
        for path in ("/runs/999999", f"/runs/{run_id}/tasks/nope", "/runs/999999/live",
                     f"/runs/{run_id}/tasks/nope/log", f"/runs/{run_id}/tasks/only/notebook"):
            assert ui.get(path).status_code == 404, path
    with httpx.Client(base_url=server.url) as anonymous:
        to_sign_in = anonymous.get(f"/runs/{run_id}")
        assert to_sign_in.status_code == 303
        assert to_sign_in.headers["location"].startswith("/sign-in?next=")


def test_a_sql_task_shows_its_rows_and_values_and_runs_again_with_its_parameters(
    server: Server, admin: httpx.Client
) -> None:
    query = ("CREATE TABLE t (n INTEGER, word VARCHAR); "
             "INSERT INTO t VALUES (1, 'one'), (2, :word); SELECT n, word FROM t ORDER BY n")
    task = {"task_key": "rows", "sql_task": {"query": {"query_text": query},
                                             "parameters": {"word": "{{job.parameters.word}}"},
                                             "warehouse_id": "default"}}
    created = admin.post(f"{JOBS}/create", json={
        "name": "ui_sql", "tasks": [task], "parameters": [{"name": "word", "default": "x"}]})
    assert created.status_code == 200, created.text
    job_id = created.json()["job_id"]
    started = admin.post(f"{JOBS}/run-now", json={"job_id": job_id,
                                                  "job_parameters": {"word": "two<b>"}})
    run_id = started.json()["run_id"]
    assert finished(admin, run_id)["state"]["result_state"] == "SUCCESS"
    with session(server) as ui:
        run_page = ui.get(f"/runs/{run_id}").text
        assert "word=two&lt;b&gt;" in run_page  # the parameters, escaped
        detail = ui.get(f"/runs/{run_id}/tasks/rows").text
        assert "<th scope=\"col\">word</th>" in detail
        assert "<td>two&lt;b&gt;</td>" in detail  # the rows, escaped
        assert "row_count" in detail and "End of the log." in detail

        again = ui.post(f"/runs/{run_id}/run-again", data={"csrf_token": csrf_of(run_page)})
        assert again.status_code == 303
        new_id = int(again.headers["location"].rsplit("/", 1)[1])
        assert new_id != run_id
        new = finished(admin, new_id)
        assert new["job_id"] == job_id
        assert new["job_parameters"] == [{"name": "word", "value": "two<b>"}]


def test_a_long_log_shows_its_end_and_downloads_whole(server: Server,
                                                      admin: httpx.Client) -> None:
    script = "for i in $(seq 1 40000); do echo \"line number $i of the long log\"; done"
    run_id = start(admin, "ui_long_log", sh("talk", script))
    assert finished(admin, run_id)["state"]["result_state"] == "SUCCESS"
    with session(server) as ui:
        detail = ui.get(f"/runs/{run_id}/tasks/talk").text
        assert 'id="log-skipped"' in detail and 'data-ended="yes"' in detail
        assert "line number 40000 of the long log" in detail
        assert "line number 1 of the long log" not in detail
        whole = ui.get(f"/runs/{run_id}/tasks/talk/log/download").text
        assert "line number 1 of the long log" in whole
        assert whole.count("\n") == 40000


def test_a_viewer_sees_the_run_but_may_not_repair_or_cancel_it(server: Server,
                                                               admin: httpx.Client,
                                                               tmp_path: Path) -> None:
    dave = server.token_for("dave")
    run_id = start(admin, "ui_viewer", sh("bad", f"test -f {tmp_path / 'never'}"))
    job_id = finished(admin, run_id)["job_id"]
    granted = admin.patch(f"/api/2.0/permissions/jobs/{job_id}", json={
        "access_control_list": [{"user_name": "dave", "permission_level": "CAN_VIEW"}]})
    assert granted.status_code == 200, granted.text
    with session(server, dave) as ui:
        shown = ui.get(f"/runs/{run_id}")
        assert shown.status_code == 200 and "ui_viewer" in shown.text
        token = csrf_of(shown.text)
        for action in ("repair", "run-again"):
            refused = ui.post(f"/runs/{run_id}/{action}", data={"task": "bad",
                                                                "csrf_token": token})
            assert refused.status_code == 403, (action, refused.text)
            assert "CAN_VIEW" in refused.text
    assert get_run(admin, run_id)["repair_count"] == 0


def test_a_notebook_task_links_its_html_sandboxed(server: Server, admin: httpx.Client,
                                                  tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = tmp_path / "hello.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("print('hello from the notebook')")]),
                   str(notebook))
    run_id = start(admin, "ui_notebook", {"task_key": "nb", "notebook_task": {
        "notebook_path": str(notebook)}})
    assert finished(admin, run_id)["state"]["result_state"] == "SUCCESS"
    with session(server) as ui:
        detail = ui.get(f"/runs/{run_id}/tasks/nb").text
        assert f'href="/runs/{run_id}/tasks/nb/notebook?attempt=0"' in detail
        html = ui.get(f"/runs/{run_id}/tasks/nb/notebook", params={"attempt": 0})
        assert html.status_code == 200 and "hello from the notebook" in html.text
        assert html.headers["content-security-policy"].startswith("sandbox")


def test_an_http_task_shows_its_response(server: Server, admin: httpx.Client) -> None:
    run_id = start(admin, "ui_http", {"task_key": "call", "http_task": {
        "url": f"{server.url}/static/run.css"}})
    assert finished(admin, run_id)["state"]["result_state"] == "SUCCESS"
    with session(server) as ui:
        detail = ui.get(f"/runs/{run_id}/tasks/call").text
        assert f"GET {server.url}/static/run.css</code> → HTTP <strong>200</strong>" in detail
        assert "The run and task pages." in detail  # the body


def test_a_drift_check_shows_its_report_per_column(server: Server, admin: httpx.Client,
                                                   tmp_path: Path) -> None:
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    reference.write_text("amount,kind\n" + "".join(f"{i % 50},a\n" for i in range(500)))
    current.write_text("amount,kind\n" + "".join(f"{40 + i % 50},a\n" for i in range(500)))
    run_id = start(admin, "ui_drift", {"task_key": "drift", "drift_check_task": {
        "current": {"path": str(current)}, "reference": {"path": str(reference)}}})
    assert finished(admin, run_id)["state"]["result_state"] == "SUCCESS"
    with session(server) as ui:
        detail = ui.get(f"/runs/{run_id}/tasks/drift").text
    assert re.search(r'id="drift-summary"><strong>Drift</strong> in amount', detail), detail
    row = re.search(r'<tr data-column="amount">(.*?)</tr>', detail, re.S)
    assert row and "kolmogorov" not in row.group(1).lower() and ">yes<" in row.group(1)
    kind = re.search(r'<tr data-column="kind">(.*?)</tr>', detail, re.S)
    assert kind and "<td>no</td>" in kind.group(1)
