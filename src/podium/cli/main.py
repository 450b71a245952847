"""The ``podium`` command. Commands import what they need when they run, so that
``podium --help`` starts fast; errors map to exit codes in one place (``main``)."""

from __future__ import annotations

import sys

import click

from podium import __version__

# Exit codes: the run succeeded / the run failed / bad spec, argument or request.
EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported only when used."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            import importlib

            module, attr = self.lazy[name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    lazy={
        "run": ("podium.cli.run", "run"),
        "validate": ("podium.cli.run", "validate"),
        "runs": ("podium.cli.runs", "runs"),
        "config": ("podium.cli.config", "config"),
        "jobs": ("podium.cli.jobs", "jobs"),
        "server": ("podium.cli.server", "server"),
        "token": ("podium.cli.tokens", "token_group"),
        "secrets": ("podium.cli.secrets", "secrets"),
        "audit": ("podium.cli.audit", "audit"),
        "destinations": ("podium.cli.destinations", "destinations"),
        "insights": ("podium.cli.insights", "insights"),
        "db": ("podium.cli.db", "db"),
        "worker": ("podium.cli.worker", "worker"),
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="podium")
def cli() -> None:
    """Podium: run multi-task jobs (Databricks Jobs API shape) locally and durably.

    State lives in $PODIUM_HOME (default ~/.podium): the metadata database, one log
    file per task attempt, and each run's artifacts.
    """


def main() -> None:
    """Entry point: run the CLI and map Podium errors to exit codes and clear messages."""
    from podium.errors import PodiumError, SpecError

    try:
        # Without standalone mode Click returns the code of a raised Exit as a value.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_RUN_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    except PodiumError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
