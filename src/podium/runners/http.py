"""http_task: call an HTTP API in a process of its own, retrying transient failures;
the response becomes the task's output and its JSON becomes task values."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from podium.runners.base import ProcessSpec, RunnerContext, write_output
from podium.spec.models import Task
from podium.spec.task_types import HttpTask
from podium.task_values import MAX_VALUE_BYTES, VALUES_OUT_ENV

if TYPE_CHECKING:
    import httpx2
    from jmespath.parser import ParsedResult

# Answers worth asking again: rate limited (429), or a server or the gateway in front of
# it in trouble (500, 502, 503, 504). 500 is included because it is mostly transient in
# practice; a status listed in expected_status is never retried.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0  # seconds: a server asking for longer gets this
FIRST_BACKOFF = 0.5  # seconds, doubled after each failed attempt...
MAX_BACKOFF = 30.0  # ...up to this
MAX_BODY_CHARS = 64 * 1024  # of the response body kept in the task's output
# Response headers copied to the output; the others (Set-Cookie!) are left out.
SAFE_HEADERS = (
    "content-type", "content-length", "content-encoding", "etag", "last-modified",
    "location", "retry-after",
)
# Request headers whose values are redacted wherever they might show (echoed bodies).
_SECRET_NAME_PARTS = (
    "auth", "cookie", "key", "token", "secret", "password", "session", "signature",
    "credential",
)
REDACTED = "***"


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    """The process calling the resolved task's API: ``python -m podium.runners.http``.

    The request travels in the environment, not in argv, which any local user can read
    (``ps``) and which would show header values such as tokens.
    """
    spec = task.http_task
    assert spec is not None
    return ProcessSpec(
        argv=[ctx.python, "-m", "podium.runners.http"],
        cwd=ctx.source_dir,
        env={TASK_ENV: spec.model_dump_json()},
    )


TASK_ENV = "PODIUM_HTTP_TASK"


class HttpTaskError(Exception):
    """Why an http_task failed, with what is known of the exchange.

    Attributes:
        message: the attempt's state message.
        output: the ``http_output`` so far (empty when no response came).
        trace: the start of the response body, shown as ``error_trace``.
    """

    def __init__(self, message: str, output: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.output = output or {}
        self.trace = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """The final response, read once.

    Attributes:
        status_code: the HTTP status.
        content_type: the Content-Type header ('' when absent).
        text: the body as text, secrets redacted.
        data: the body parsed as JSON (secrets redacted), when ``is_json``.
        is_json: the body is JSON (a ``json`` content type that parses).
        output: the ``http_output`` of the task.
    """

    status_code: int
    content_type: str
    text: str
    data: Any
    is_json: bool
    output: dict[str, Any]


class Redactor:
    """Replaces the values of secret-looking request headers (and a URL's password).

    Header values are never printed at all; this catches a server echoing them back.
    """

    def __init__(self, headers: Mapping[str, str], extra: tuple[str, ...] = ()) -> None:
        found: set[str] = set(extra)
        for name, value in headers.items():
            if any(part in name.lower() for part in _SECRET_NAME_PARTS):
                found.add(value.strip())
                found.add(value.partition(" ")[2].strip())  # "Bearer <token>"
        # Very short values would mangle everything and protect nothing.
        self.secrets = sorted((s for s in found if len(s) >= 4), key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def data(self, data: Any) -> Any:
        """JSON ``data`` with every secret in its strings replaced."""
        if not self.secrets:
            return data
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self.data(v) for v in data]
        if isinstance(data, dict):
            return {self.text(k): self.data(v) for k, v in data.items()}
        return data


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for (delta-seconds or an HTTP-date),
    capped at MAX_RETRY_AFTER; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP-date is always GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_seconds(failed_attempts: int) -> float:
    """The exponential back-off after ``failed_attempts`` (1, 2, ...): 0.5 s, 1 s, 2 s..."""
    return float(min(FIRST_BACKOFF * 2 ** (failed_attempts - 1), MAX_BACKOFF))


def expected(spec: HttpTask, status: int) -> bool:
    """Whether ``status`` is a success: listed in expected_status, or else any 2xx."""
    return status in spec.expected_status if spec.expected_status else 200 <= status < 300


def _plural(n: int) -> str:
    return f"{n} attempt" + ("" if n == 1 else "s")


class HttpCall:
    """One http_task execution: the request, its retries and the reading of the answer.

    Raises:
        HttpTaskError: the URL is invalid.
    """

    def __init__(self, spec: HttpTask) -> None:
        import httpx2

        self.spec = spec
        try:
            url = httpx2.URL(spec.url)
        except httpx2.InvalidURL as exc:
            raise HttpTaskError(f"invalid URL: {exc}") from None
        self.redactor = Redactor(spec.headers, (url.password,) if url.password else ())
        # Query parameters of the URL and of ``params`` both count (httpx would drop
        # the URL's own); the URL shown never includes user info.
        self.url = url.copy_merge_params(spec.params) if spec.params else url
        self.shown = self.show(self.url)
        self.started = time.monotonic()

    def show(self, url: httpx2.URL) -> str:
        """``url`` fit for a log line: query string kept, user info dropped, redacted."""
        return self.redactor.text(str(url.copy_with(username=None, password=None)))

    def say(self, line: str) -> None:
        """Print one log line, secrets redacted (header values are never put in one)."""
        print(self.redactor.text(line), flush=True)

    def describe(self) -> str:
        """The request in one line: method, URL, header names (never values), body size."""
        spec = self.spec
        parts = [f"{spec.method} {self.shown}"]
        if spec.headers:
            parts.append("headers: " + ", ".join(sorted(spec.headers)))
        if spec.body is not None:
            parts.append(f"JSON body of {len(json.dumps(spec.body).encode())} bytes")
        parts.append(f"timeout {spec.timeout_seconds:g} s, at most {_plural(spec.max_attempts)}")
        return "http_task: " + "; ".join(parts)

    def exchange(self) -> tuple[httpx2.Response, int]:
        """Send the request until an answer is final; returns it and the attempts made.

        Raises:
            HttpTaskError: no answer came (connection refused, timeout...).
        """
        import httpx2

        spec = self.spec
        with httpx2.Client(timeout=spec.timeout_seconds, follow_redirects=True) as client:
            for attempt in range(1, spec.max_attempts + 1):
                response = self._send(client, attempt)
                if response is None:
                    delay, why = backoff_seconds(attempt), "back-off"
                elif attempt == spec.max_attempts or not self._retry(response.status_code):
                    return response, attempt
                else:
                    delay, why = self._delay(response, attempt)
                self.say(f"  retrying in {delay:g} s ({why})")
                time.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _retry(self, status: int) -> bool:
        return status in RETRY_STATUSES and status not in self.spec.expected_status

    def _delay(self, response: httpx2.Response, attempt: int) -> tuple[float, str]:
        header = response.headers.get("retry-after")
        asked = retry_after_seconds(header)
        if asked is not None:
            return asked, f"Retry-After: {header}"
        return backoff_seconds(attempt), "back-off"

    def _send(self, client: httpx2.Client, attempt: int) -> httpx2.Response | None:
        """One request, logged; None when it failed in a way worth another attempt."""
        import httpx2

        spec, started = self.spec, time.monotonic()
        head = f"attempt {attempt}/{spec.max_attempts}: {spec.method} {self.shown}"
        try:
            response = client.request(
                spec.method, self.url, headers=spec.headers, json=spec.body
            )
        except httpx2.HTTPError as exc:
            reason = self._reason(exc)
            self.say(f"{head} -> {reason} ({time.monotonic() - started:.3f} s)")
            if _transient(exc) and attempt < spec.max_attempts:
                return None
            suffix = f" after {_plural(attempt)}" if _transient(exc) else ""
            raise HttpTaskError(
                f"{reason}{suffix}: {self.shown}", self._partial_output(attempt)
            ) from None
        moved = "" if response.url == self.url else f" (redirected to {self.show(response.url)})"
        self.say(f"{head} -> {response.status_code}{moved} ({time.monotonic() - started:.3f} s)")
        return response

    def _reason(self, exc: Exception) -> str:
        import httpx2

        if isinstance(exc, httpx2.TimeoutException):
            kind = "connecting" if isinstance(exc, httpx2.ConnectTimeout) else "request"
            return f"{kind} timed out (timeout_seconds {self.spec.timeout_seconds:g})"
        if isinstance(exc, httpx2.ConnectError):
            text = str(exc)
            return "connection refused" if "refused" in text.lower() else f"cannot connect: {text}"
        if isinstance(exc, httpx2.LocalProtocolError):  # its text may quote a header value
            return "the request cannot be sent (invalid header or body)"
        if isinstance(exc, httpx2.TooManyRedirects):
            return "too many redirects"
        return self.redactor.text(f"{type(exc).__name__}: {exc}")

    def _partial_output(self, attempts: int) -> dict[str, Any]:
        return {
            "method": self.spec.method, "url": self.shown, "status_code": None,
            "elapsed_seconds": round(time.monotonic() - self.started, 3), "attempts": attempts,
        }

    def answer(self, response: httpx2.Response, attempts: int) -> Answer:
        """Read the final response into the task's output (body redacted, truncated)."""
        content_type = response.headers.get("content-type", "")
        text = self.redactor.text(response.text)
        data, is_json = None, False
        if "json" in content_type.lower() and text.strip():
            try:
                data, is_json = self.redactor.data(json.loads(text)), True
            except ValueError:
                self.say(f"warning: the {content_type} response is not valid JSON")
        truncated = len(text) > MAX_BODY_CHARS
        output = {
            **self._partial_output(attempts),
            "status_code": response.status_code,
            "headers": {k: response.headers[k] for k in SAFE_HEADERS if k in response.headers},
            "body": text[:MAX_BODY_CHARS] if truncated or not is_json else data,
            "truncated": truncated,
        }
        if response.url != self.url:
            output["final_url"] = self.show(response.url)
        return Answer(response.status_code, content_type, text, data, is_json, output)


def _transient(exc: Exception) -> bool:
    """Whether a failed request is worth another attempt (no answer came at all)."""
    import httpx2

    return isinstance(
        exc, httpx2.TimeoutException | httpx2.NetworkError | httpx2.RemoteProtocolError
    )


def compile_expressions(response_values: Mapping[str, str]) -> dict[str, ParsedResult]:
    """Compile the JMESPath expressions before anything is sent.

    Raises:
        HttpTaskError: an expression is invalid (the message names it).
    """
    import jmespath
    from jmespath.exceptions import JMESPathError

    compiled: dict[str, ParsedResult] = {}
    for name, expression in response_values.items():
        try:
            compiled[name] = jmespath.compile(expression)
        except JMESPathError as exc:
            raise HttpTaskError(
                f"response_values.{name}: invalid JMESPath expression {expression!r}: "
                + _jmespath_problem(exc)
            ) from None
    return compiled


def _jmespath_problem(exc: Exception) -> str:
    """The first line of a JMESPath parse error, without the echoed expression."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    first = first.removesuffix(", for expression:").rstrip(":")
    column = getattr(exc, "lex_position", None)
    if isinstance(column, int) and "column" not in first:
        first += f" at column {column}"
    return first


def check_status(spec: HttpTask, answer: Answer, attempts: int) -> None:
    """Raises HttpTaskError unless the status is expected."""
    status = answer.status_code
    if expected(spec, status):
        return
    if attempts > 1 and status in RETRY_STATUSES:
        message = f"HTTP {status} after {_plural(attempts)}"
    else:
        wanted = ", ".join(str(s) for s in spec.expected_status) or "2xx"
        message = f"HTTP {status} (expected {wanted})"
    error = HttpTaskError(message, answer.output)
    error.trace = answer.text[:2000]
    raise error


def task_values_of(
    answer: Answer, compiled: Mapping[str, ParsedResult], say: Callable[[str], None]
) -> dict[str, Any]:
    """The task values: ``status_code``, then the JMESPath selections, or else the
    whole JSON response as ``response`` when it fits in a task value.

    Raises:
        HttpTaskError: a selection needs JSON that is not there, fails or is too large.
    """
    from jmespath.exceptions import JMESPathError

    values: dict[str, Any] = {"status_code": answer.status_code}
    if compiled and not answer.is_json:
        raise HttpTaskError(
            "response_values need a JSON response, got "
            + (f"content type {answer.content_type!r}" if answer.content_type else "no content")
        )
    for name, expression in compiled.items():
        where = f"response_values.{name} ({expression.expression!r})"
        try:
            values[name] = expression.search(answer.data)
        except JMESPathError as exc:
            raise HttpTaskError(f"{where} failed: {exc}") from None
        if values[name] is None:
            say(f"warning: {where} matched nothing; task value {name!r} is null")
        if _size(values[name]) > MAX_VALUE_BYTES:
            raise HttpTaskError(f"{where} is larger than the 48 KiB a task value may hold")
    if not compiled and answer.is_json:
        if _size(answer.data) <= MAX_VALUE_BYTES:
            values["response"] = answer.data
        else:
            say("warning: the JSON response is larger than 48 KiB: "
                "task value 'response' not set (select parts with response_values)")
    return values


def _size(value: Any) -> int:
    return len(json.dumps(value).encode())


def _store_values(values: Mapping[str, Any]) -> None:
    """Set the task values (printed instead when not run by Podium)."""
    from podium import task_values

    for name, value in values.items():
        if os.environ.get(VALUES_OUT_ENV):
            task_values.set(name, value)
        else:
            print(f"task value {name} = {json.dumps(value)[:200]}")


def run(spec: HttpTask) -> tuple[dict[str, Any], dict[str, Any]]:
    """Call the API; returns the ``http_output`` and the task values.

    Raises:
        HttpTaskError: the call or the reading of its answer failed.
    """
    compiled = compile_expressions(spec.response_values)
    call = HttpCall(spec)
    call.say(call.describe())
    response, attempts = call.exchange()
    answer = call.answer(response, attempts)
    try:
        check_status(spec, answer, attempts)
        values = task_values_of(answer, compiled, call.say)
    except HttpTaskError as exc:
        exc.output = exc.output or answer.output
        raise
    return answer.output, values


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``PODIUM_HTTP_TASK='<http_task as JSON>' python -m podium.runners.http``
    (or the JSON as the first argument, for trying it by hand)."""
    args = sys.argv if argv is None else argv
    spec = HttpTask.model_validate_json(args[1] if len(args) > 1 else os.environ[TASK_ENV])
    try:
        output, values = run(spec)
    except HttpTaskError as exc:
        redactor = Redactor(spec.headers)
        message = redactor.text(exc.message)
        failure: dict[str, Any] = {"error": message, "http_output": exc.output}
        if exc.trace:
            failure["error_trace"] = exc.trace
        write_output(failure)
        print(f"http_task failed: {message}", flush=True)
        return 1
    _store_values(values)
    write_output({"http_output": output})
    print(f"http_task: done, HTTP {output['status_code']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
