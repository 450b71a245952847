"""``podium server``: serve the Jobs API and run the engine on this PODIUM_HOME."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from podium.settings import Settings


@click.command()
@click.option("--host", default=None, help="Address to listen on  [default: 127.0.0.1, or "
              "server.host in the settings]")
@click.option("--port", type=int, default=None, help="Port to listen on  [default: 8080, or "
              "server.port]")
@click.option("--public-url", default=None,
              help="The server's address as users reach it, for links  [default: "
              "server.public_url, else http://HOST:PORT]")
@click.option("--demo", is_flag=True,
              help="The first minute (`make run`): run from the repository root, with the "
              "workspace examples/; stores the seed pipeline (and the UI's job templates) "
              "as jobs, runs it once, and prints a sign-in token for the local admin "
              "'admin' (a new one each start)")
@click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
              help="Where task attempts run: processes of this machine, or the workers of "
              "a Dask cluster  [default: the executor setting, else local]")
@click.option("--dask-scheduler", default=None, metavar="ADDRESS",
              help="The Dask scheduler for --executor dask, e.g. tcp://10.0.0.5:8786  "
              "[default: the dask_scheduler setting]")
def server(host: str | None, port: int | None, public_url: str | None, demo: bool,
           executor: str | None, dask_scheduler: str | None) -> None:
    """Serve the Jobs API 2.2 (and Podium's own API) and run the jobs it starts.

    Runs started through the API are executed here and recorded in the same database
    the CLI reads. Ctrl-C or SIGTERM stops cleanly; unfinished runs resume on the next
    start. Every API call needs a token: make one with `podium token create`.

    With --demo, the UI at the printed address shows the seed pipeline's run within a
    minute: what `make run` starts.

    With --executor dask, attempts run on the workers of a Dask cluster (start them
    with `podium worker`); see docs/cluster.md.
    """
    import os

    from podium.api.server import check_port, serve
    from podium.settings import load_settings

    # The options are the settings PODIUM_EXECUTOR / PODIUM_DASK_SCHEDULER: one place
    # (load_settings) reads and checks them.
    chosen = {"PODIUM_EXECUTOR": executor, "PODIUM_DASK_SCHEDULER": dask_scheduler}
    settings = load_settings({**os.environ, **{k: v for k, v in chosen.items() if v}})
    configured = settings.extra.get("server", {})
    configured = configured if isinstance(configured, dict) else {}
    host = host or str(configured.get("host", "127.0.0.1"))
    try:
        port = port or int(configured.get("port", 8080))
    except ValueError:
        raise click.BadParameter(f"server.port: expected a number, got "
                                 f"{configured.get('port')!r}") from None
    public_url = public_url or configured.get("public_url")
    demo_text = ""
    if demo:
        check_port(host, port)  # before storing anything: a second server would fail later
        settings, demo_text = _start_demo(settings, public_url or _address(host, port))

    def announce(text: str) -> None:
        click.echo(text, err=True)
        if demo_text:
            click.echo(demo_text)

    serve(settings, host, port, public_url, announce=announce)


def _address(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"


def _start_demo(settings: Settings, address: str) -> tuple[Settings, str]:
    """The demo's settings (workspace: examples/, unless one is configured) and what to
    print once the server is up."""
    from dataclasses import replace
    from pathlib import Path

    import podium
    from podium.services import open_podium
    from podium.services.demo import start_demo

    examples = Path("examples").resolve()
    pipeline = examples / "seed_pipeline.yaml"
    if not pipeline.is_file():
        raise click.UsageError(f"--demo: no {pipeline}; start it from the root of the "
                               "Podium repository (`make run` does)")
    if not settings.extra.get("workspace"):
        settings = replace(settings, extra={**settings.extra, "workspace": str(examples)})
    templates = Path(podium.__file__).parent / "ui" / "job_templates"
    handle = open_podium(settings)
    try:
        started = start_demo(handle, pipeline, templates)
    finally:
        handle.close()
    lines = [
        f"demo: job seed_pipeline (job {started.job_id}) stored"
        + (f", with the templates {', '.join(started.templates)}" if started.templates else "")
        + f"; run {started.run_id} of it started",
        *(f"demo: template skipped: {why}" for why in started.skipped),
        f"open {address} and sign in with {started.token}",
        f"  (a new token for the local admin '{started.user_name}' on each start: tokens are "
        "stored hashed, so an earlier one cannot be shown again; it stays valid)",
    ]
    return settings, "\n".join(lines)
