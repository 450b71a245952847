"""The first minute: `podium server --demo` (what `make run` starts) stores the seed
pipeline, runs it, and prints where to sign in with a new token."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import Browser, expect

from podium.services import Podium, Principal, authenticate
from podium.services.demo import start_demo
from podium.services.jobs import find_job_id, get_job, list_jobs, set_pause_status
from tests.integration import browser as chromium
from tests.integration.browser import TIMEOUT_MS, shoot
from tests.integration.helpers import PODIUM, wait_for
from tests.integration.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SIGN_IN = re.compile(r"open (http://\S+) and sign in with (pod[0-9a-f]+)")


browser = chromium.browser  # the fixture


class Demo:
    """A demo server whose output is read as it comes."""

    def __init__(self, home: Path) -> None:
        port = free_port()
        self.process = subprocess.Popen(
            [*PODIUM, "server", "--demo", "--port", str(port)], cwd=ROOT,
            env={**os.environ, "PODIUM_HOME": str(home)}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def sign_in(self) -> tuple[str, str]:
        """The address and token it printed."""
        wait_for(lambda: SIGN_IN.search(self.text()) is not None
                 or self.process.poll() is not None, 60, "the sign-in line")
        found = SIGN_IN.search(self.text())
        assert found, self.text()
        return found[1], found[2]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self.reader.join(timeout=10)  # the output's end: the process has exited
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


def signed_in(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    deadline = time.monotonic() + 60
    while True:  # the address is printed just before the server listens
        try:
            response = client.post("/sign-in", data={"token": token, "next": "/jobs"})
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert response.status_code == 303, response.text
    assert client.cookies, "no session cookie"
    return client


def bearer(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def test_demo_runs_the_seed_pipeline_and_signs_in(tmp_path: Path) -> None:
    home = tmp_path / "home"
    demo = Demo(home)
    try:
        url, token = demo.sign_in()
        client = signed_in(url, token)
        assert client.get("/jobs").status_code == 200
        api = bearer(url, token)

        def seed_state() -> str | None:
            runs = api.get("/api/2.2/jobs/runs/list").json().get("runs", [])
            seed = [r for r in runs if r["run_name"] == "seed_pipeline"]
            assert len(seed) == 1, runs
            state = seed[0]["state"]
            assert state.get("result_state") in (None, "SUCCESS"), seed[0]
            return state.get("result_state")

        wait_for(lambda: seed_state() == "SUCCESS", 600, "the seed run to succeed")
        page = client.get("/runs")
        assert page.status_code == 200 and "seed_pipeline" in page.text
        client.close()
        api.close()
    finally:
        code = demo.stop()
    assert code == 0, demo.text()

    again = Demo(home)
    try:
        url, second = again.sign_in()
        assert second != token
        # The first token stays valid.
        signed_in(url, token).close()
        api = bearer(url, second)
        names = [j["settings"]["name"] for j in api.get("/api/2.2/jobs/list").json()["jobs"]]
        assert names.count("seed_pipeline") == 1, names
        assert len(names) == len(set(names)), names
        # The second start ran the pipeline again.
        runs = api.get("/api/2.2/jobs/runs/list").json()["runs"]
        assert len([r for r in runs if r["run_name"] == "seed_pipeline"]) == 2
        api.close()
    finally:
        code = again.stop()
    assert code == 0, again.text()


def test_a_newcomer_sees_the_finished_seed_run_in_the_browser(tmp_path: Path,
                                                             browser: Browser) -> None:
    demo = Demo(tmp_path / "home")
    try:
        url, token = demo.sign_in()
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        wait_for(lambda: _answers(url), 60, "the demo server to listen")
        page.goto("/")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/jobs$"))
        seed = page.locator("tr", has=page.get_by_role("link", name="seed_pipeline"))
        expect(seed).to_be_visible()
        # The squares refresh by themselves: the seed run turns green without a reload.
        square = seed.locator("a.sq").first
        expect(square).to_have_attribute("title", re.compile("SUCCESS"), timeout=300_000)
        square.click()
        page.wait_for_url(re.compile(r"/runs/\d+$"))
        expect(page.locator("#run-state")).to_contain_text("SUCCESS")
        page.locator("#run-graph canvas").first.wait_for()
        expect(page.locator('tr[data-task="train"]')).to_have_attribute("data-state", "SUCCESS")
        shoot(page, "demo-run")
        context.close()
    finally:
        code = demo.stop()
    assert code == 0, demo.text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/sign-in", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_demo_stores_templates_paused_once_and_skips_bad_ones(podium: Podium,
                                                              tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "nightly.yaml").write_text(
        "name: nightly\nschedule: {quartz_cron_expression: '0 0 1 * * ?', timezone_id: UTC}\n"
        "tasks:\n  - task_key: a\n    condition_task: {op: EQUAL_TO, left: '1', right: '1'}\n")
    (templates / "broken.yaml").write_text("name: broken\ntasks: []\nbogus: 1\n")
    (templates / "seed.yaml").write_text((ROOT / "examples" / "seed_pipeline.yaml").read_text())
    (templates / "notes.txt").write_text("not a template")
    first = start_demo(podium, ROOT / "examples" / "seed_pipeline.yaml", templates)
    assert first.templates == ["nightly"]
    assert [s.split(":")[0] for s in first.skipped] == ["broken.yaml"]
    admin = Principal("admin", is_admin=True)
    nightly = find_job_id(podium, "nightly", admin)
    assert get_job(podium, nightly, admin)["settings"]["schedule"]["pause_status"] == "PAUSED"
    set_pause_status(podium, nightly, "UNPAUSED", admin)  # a user's change stays

    second = start_demo(podium, ROOT / "examples" / "seed_pipeline.yaml", templates)
    assert second.job_id == first.job_id and second.run_id != first.run_id
    assert second.token != first.token
    schedule = get_job(podium, nightly, admin)["settings"]["schedule"]
    assert schedule.get("pause_status", "UNPAUSED") == "UNPAUSED"
    names = [j["settings"]["name"] for j in list_jobs(podium, admin)["jobs"]]
    assert sorted(names) == ["nightly", "seed_pipeline"]
    assert authenticate(podium, first.token) == admin  # an earlier token stays valid
