"""http_task through the real engine against a real HTTP server on loopback: task values,
retries honouring Retry-After, failures with clear messages, header secrets kept out."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from podium.core.values import REDACTED
from podium.runners.http import MAX_RETRY_AFTER, retry_after_seconds
from podium.services import Podium, get_output, get_run
from podium.services.auth import local_principal
from podium.services.secrets import create_scope, put_secret
from tests.integration.helpers import job, results, run_job, tasks_by_key

TOKEN = "s3cr3t-t0ken-XYZ"
SECRET = f"Bearer {TOKEN}"
API_TOKEN = "k3y-from-the-vault-7781"  # what /guarded accepts, stored as secret api/token
OLD_TOKEN = "expired-t0ken-1234"  # stored as secret api/old
ITEMS = {"items": [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}], "total": 2}


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival


class Api(ThreadingHTTPServer):
    """A small JSON API on 127.0.0.1 and a free port, recording every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends the slow endpoint's wait

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests_to(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out hangs up before the slow answer is written."""


class Handler(BaseHTTPRequestHandler):
    server: Api

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        seen = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers),
                    json.loads(raw) if raw else None, time.monotonic())
        with self.server.lock:
            self.server.seen.append(seen)
            count = self.server.counts[url.path] = self.server.counts.get(url.path, 0) + 1
        getattr(self, "route_" + url.path.strip("/"))(seen, count)

    do_POST = do_PUT = do_DELETE = do_GET

    def reply(self, status: int, payload: Any = None, text: str | None = None,
              headers: dict[str, str] | None = None) -> None:
        data = (text if text is not None else json.dumps(payload)).encode()
        self.send_response(status)
        kind = "text/plain; charset=utf-8" if text is not None else "application/json"
        for name, value in {"Content-Type": kind, **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route_items(self, seen: Seen, count: int) -> None:
        self.reply(200, ITEMS)

    def route_redirect(self, seen: Seen, count: int) -> None:
        self.reply(302, {}, headers={"Location": "/items"})

    def route_echo(self, seen: Seen, count: int) -> None:  # like httpbin: echoes headers
        self.reply(201, {"method": seen.method, "query": seen.query, "headers": seen.headers,
                         "body": seen.body})

    def route_flaky(self, seen: Seen, count: int) -> None:
        if count <= 2:
            self.reply(503, {"error": "busy"}, headers={"Retry-After": "1"})
        else:
            self.reply(200, {"ok": True, "after": count})

    def route_limited(self, seen: Seen, count: int) -> None:
        if count == 1:  # an HTTP-date 1 to 2 s ahead (the format has whole seconds)
            self.reply(429, {}, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        else:
            self.reply(200, {"ok": True})

    def route_down(self, seen: Seen, count: int) -> None:
        self.reply(503, {"error": "down"}, headers={"Retry-After": "0"})

    def route_guarded(self, seen: Seen, count: int) -> None:
        """Wants ``Authorization: Bearer API_TOKEN`` or ``?api_key=API_TOKEN``; echoes
        the token it was given (as careless APIs do)."""
        presented = seen.headers.get("Authorization", "").removeprefix("Bearer ")
        presented = presented or seen.query.get("api_key", [""])[0]
        if presented != API_TOKEN:
            self.reply(401, {"error": f"token {presented!r} is not valid"})
        else:
            self.reply(200, {"user": "ada", "token": presented})

    def route_missing(self, seen: Seen, count: int) -> None:
        self.reply(404, {"error": "no such thing"})

    def route_slow(self, seen: Seen, count: int) -> None:
        self.server.release.wait(10)
        self.reply(200, {"slow": True})

    def route_text(self, seen: Seen, count: int) -> None:
        self.reply(200, text="hello, not JSON")

    def route_big(self, seen: Seen, count: int) -> None:
        self.reply(200, [{"row": i, "pad": "x" * 90} for i in range(1000)])


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def http(key: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"task_key": key, "http_task": {"url": url, **fields}}


def log_of(run: dict[str, Any], key: str) -> str:
    return Path(tasks_by_key(run)[key]["attempts"][-1]["log_path"]).read_text()


def message(run: dict[str, Any], key: str) -> str:
    text: str = tasks_by_key(run)[key]["state"]["state_message"]
    return text


def test_json_response_becomes_task_values_used_downstream(
    podium: Podium, api: Api, tmp_path: Path
) -> None:
    selections = {"names": "items[].name", "first_id": "items[0].id", "total": "total"}
    body = {"names": "{{tasks.pick.values.names}}", "total": "{{tasks.pick.values.total}}",
            "whole": "{{tasks.whole.values.response}}"}
    spec = job([
        http("whole", f"{api.base}/items"),
        http("pick", f"{api.base}/redirect", response_values=selections),
        {**http("post", f"{api.base}/echo", method="POST", body=body),
         "depends_on": [{"task_key": "whole"}, {"task_key": "pick"}]},
    ], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"whole": "SUCCESS", "pick": "SUCCESS", "post": "SUCCESS"}
    tasks = tasks_by_key(run)
    assert tasks["whole"]["task_values"] == {"response": ITEMS, "status_code": 200}
    assert tasks["pick"]["task_values"] == {
        "names": ["ada", "grace"], "first_id": 1, "total": 2, "status_code": 200,
    }
    [posted] = api.requests_to("/echo")
    assert posted.body == {"names": '["ada", "grace"]', "total": "2", "whole": json.dumps(ITEMS)}
    output = get_output(podium, run["run_id"], "pick")["http_output"]
    assert output["status_code"] == 200 and output["attempts"] == 1
    assert output["body"] == ITEMS and output["truncated"] is False
    assert output["headers"]["content-type"] == "application/json"
    assert output["final_url"] == f"{api.base}/items"  # the redirect was followed
    assert "attempt 1/3: GET " + f"{api.base}/redirect -> 200" in log_of(run, "pick")


def test_post_with_parameter_body_params_and_headers_keeps_the_secret_out(
    podium: Podium, api: Api, tmp_path: Path
) -> None:
    spec = job(
        [http("post", f"{api.base}/echo?x=1", method="POST", params={"page": "2"},
              headers={"Authorization": SECRET, "X-Trace": "t-1"},
              body={"who": "{{job.parameters.who}}", "n": 3}, expected_status=[200, 201])],
        tmp_path, parameters=[{"name": "who", "default": "nobody"}],
    )

    run = run_job(podium, spec, who="ada")

    assert results(run) == {"post": "SUCCESS"}
    [seen] = api.requests_to("/echo")
    assert (seen.method, seen.query) == ("POST", {"x": ["1"], "page": ["2"]})
    assert seen.headers["Authorization"] == SECRET and seen.headers["X-Trace"] == "t-1"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.body == {"who": "ada", "n": 3}
    values = tasks_by_key(run)["post"]["task_values"]
    assert values["status_code"] == 201 and values["response"]["body"] == seen.body
    # The server echoed the header back: it is redacted in the values and the output.
    assert values["response"]["headers"]["Authorization"] == "***"
    log = log_of(run, "post")
    assert f"attempt 1/3: POST {api.base}/echo?x=1&page=2 -> 201" in log
    assert "headers: Authorization, X-Trace" in log
    output = json.dumps(get_output(podium, run["run_id"], "post"))
    for where in (log, output, json.dumps(values)):
        assert TOKEN not in where


def test_retries_wait_for_retry_after(podium: Podium, api: Api, tmp_path: Path) -> None:
    spec = job([http("flaky", f"{api.base}/flaky"), http("limited", f"{api.base}/limited")],
               tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"flaky": "SUCCESS", "limited": "SUCCESS"}
    for path, count in (("/flaky", 3), ("/limited", 2)):
        times = [s.at for s in api.requests_to(path)]
        assert len(times) == count
        assert all(b - a >= 0.9 for a, b in pairwise(times)), times
    assert get_output(podium, run["run_id"], "flaky")["http_output"]["attempts"] == 3
    assert tasks_by_key(run)["flaky"]["task_values"]["response"] == {"ok": True, "after": 3}
    log = log_of(run, "flaky")
    assert "attempt 1/3: GET " + f"{api.base}/flaky -> 503" in log
    assert "retrying in 1 s (Retry-After: 1)" in log
    assert "attempt 3/3: GET " + f"{api.base}/flaky -> 200" in log


def test_unexpected_statuses_fail_with_clear_messages(
    podium: Podium, api: Api, tmp_path: Path
) -> None:
    spec = job([
        http("down", f"{api.base}/down", max_attempts=2),
        http("missing", f"{api.base}/missing"),
        http("missing_ok", f"{api.base}/missing", expected_status=[404]),
    ], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"down": "FAILED", "missing": "FAILED", "missing_ok": "SUCCESS"}
    assert message(run, "down") == "HTTP 503 after 2 attempts"
    assert len(api.requests_to("/down")) == 2
    assert message(run, "missing") == "HTTP 404 (expected 2xx)"
    assert len(api.requests_to("/missing")) == 2  # one per task: a 404 is not retried
    output = get_output(podium, run["run_id"], "missing")
    assert output["error"] == "HTTP 404 (expected 2xx)"
    assert "no such thing" in output["error_trace"]
    assert output["http_output"]["status_code"] == 404
    assert tasks_by_key(run)["missing_ok"]["task_values"] == {
        "response": {"error": "no such thing"}, "status_code": 404,
    }


def test_expected_status_lists_what_it_wanted(podium: Podium, api: Api, tmp_path: Path) -> None:
    spec = job([http("strict", f"{api.base}/echo", expected_status=[200, 204])], tmp_path)
    run = run_job(podium, spec)
    assert message(run, "strict") == "HTTP 201 (expected 200, 204)"


def test_timeout_and_connection_refused(podium: Podium, api: Api, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    spec = job([
        http("slow", f"{api.base}/slow", timeout_seconds=0.5, max_attempts=2),
        http("refused", f"http://127.0.0.1:{closed}/", max_attempts=2),
    ], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"slow": "FAILED", "refused": "FAILED"}
    assert message(run, "slow") == (
        f"request timed out (timeout_seconds 0.5) after 2 attempts: {api.base}/slow"
    )
    assert len(api.requests_to("/slow")) == 2
    assert message(run, "refused") == (
        f"connection refused after 2 attempts: http://127.0.0.1:{closed}/"
    )
    assert "retrying in 0.5 s (back-off)" in log_of(run, "refused")


def test_response_value_problems(podium: Podium, api: Api, tmp_path: Path) -> None:
    spec = job([
        http("text", f"{api.base}/text", response_values={"x": "x"}),
        http("bad", f"{api.base}/items?bad=1", response_values={"total": "items["}),
        http("big", f"{api.base}/big"),
    ], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"text": "FAILED", "bad": "FAILED", "big": "SUCCESS"}
    assert message(run, "text") == (
        "response_values need a JSON response, got content type 'text/plain; charset=utf-8'"
    )
    assert message(run, "bad").startswith(
        "response_values.total: invalid JMESPath expression 'items[': "
    )
    assert not [s for s in api.requests_to("/items") if "bad" in s.query]  # nothing sent
    big = tasks_by_key(run)["big"]
    assert big["task_values"] == {"status_code": 200}
    assert "larger than 48 KiB: task value 'response' not set" in log_of(run, "big")
    output = get_output(podium, run["run_id"], "big")["http_output"]
    assert output["truncated"] is True and len(output["body"]) == 64 * 1024


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = formatdate((now + timedelta(seconds=10)).timestamp(), usegmt=True)
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds(" 2.5 ") == 2.5
    assert retry_after_seconds(later, now) == 10.0
    assert retry_after_seconds(formatdate(0, usegmt=True), now) == 0.0  # in the past
    assert retry_after_seconds("86400") == MAX_RETRY_AFTER
    assert retry_after_seconds("-3") == 0.0
    for unreadable in (None, "", "soon", "nan"):
        assert retry_after_seconds(unreadable) is None


def test_auth_from_a_secret_reference_never_shows_the_secret(
    podium: Podium, api: Api, tmp_path: Path
) -> None:
    actor = local_principal()
    create_scope(podium, "api", actor)
    put_secret(podium, "api", "token", API_TOKEN, actor)
    put_secret(podium, "api", "old", OLD_TOKEN, actor)
    spec = job([
        http("header", f"{api.base}/guarded",
             headers={"Authorization": "Bearer {{secrets/api/token}}"},
             response_values={"user": "user", "token": "token"}),
        # A query parameter is not a header the runner knows to hide: the engine masks it.
        http("query", f"{api.base}/guarded", params={"api_key": "{{secrets/api/token}}"}),
        http("expired", f"{api.base}/guarded", params={"api_key": "{{secrets/api/old}}"}),
    ], tmp_path)

    run = run_job(podium, spec)

    assert results(run) == {"header": "SUCCESS", "query": "SUCCESS", "expired": "FAILED"}
    seen = api.requests_to("/guarded")  # the server got the real values
    assert f"Bearer {API_TOKEN}" in [s.headers.get("Authorization") for s in seen]
    assert [API_TOKEN] in [s.query.get("api_key") for s in seen]
    assert [OLD_TOKEN] in [s.query.get("api_key") for s in seen]
    tasks = tasks_by_key(run)
    assert tasks["header"]["task_values"]["user"] == "ada"
    assert tasks["header"]["task_values"]["token"] in ("***", REDACTED)
    assert f"api_key={REDACTED}" in log_of(run, "query")
    assert OLD_TOKEN not in message(run, "expired") and "401" in message(run, "expired")
    shown = [json.dumps(get_run(podium, run["run_id"]))]
    for key in ("header", "query", "expired"):
        shown += [log_of(run, key), json.dumps(get_output(podium, run["run_id"], key))]
    for where in shown:
        assert API_TOKEN not in where and OLD_TOKEN not in where
