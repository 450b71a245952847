"""``podium server``: serve the Jobs API and run the engine on this PODIUM_HOME."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="Address to listen on  [default: 127.0.0.1, or "
              "server.host in the settings]")
@click.option("--port", type=int, default=None, help="Port to listen on  [default: 8080, or "
              "server.port]")
@click.option("--public-url", default=None,
              help="The server's address as users reach it, for links  [default: "
              "server.public_url, else http://HOST:PORT]")
def server(host: str | None, port: int | None, public_url: str | None) -> None:
    """Serve the Jobs API 2.2 (and Podium's own API) and run the jobs it starts.

    Runs started through the API are executed here and recorded in the same database
    the CLI reads. Ctrl-C or SIGTERM stops cleanly; unfinished runs resume on the next
    start. Every API call needs a token: make one with `podium token create`.
    """
    from podium.api.server import serve
    from podium.settings import load_settings

    settings = load_settings()
    configured = settings.extra.get("server", {})
    configured = configured if isinstance(configured, dict) else {}
    host = host or str(configured.get("host", "127.0.0.1"))
    try:
        port = port or int(configured.get("port", 8080))
    except ValueError:
        raise click.BadParameter(f"server.port: expected a number, got "
                                 f"{configured.get('port')!r}") from None
    serve(settings, host, port, public_url or configured.get("public_url"),
          announce=lambda text: click.echo(text, err=True))
