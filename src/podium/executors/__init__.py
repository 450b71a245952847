"""Executors run attempts and report outcomes; they never write the database."""

from __future__ import annotations

from collections.abc import Callable

from podium.errors import InvalidArgument
from podium.executors.base import AttemptRequest, Executor, Outcome, attempt_file
from podium.executors.local import LocalExecutor, kill_leftover
from podium.settings import Settings

__all__ = [
    "AttemptRequest",
    "Executor",
    "LocalExecutor",
    "Outcome",
    "attempt_file",
    "executor_for",
    "kill_leftover",
]


def executor_for(
    settings: Settings, on_note: Callable[[int, str], None] | None = None
) -> Executor:
    """The executor the settings choose (``executor``: ``local`` or ``dask``).

    Args:
        on_note: called with (attempt_id, text) when the executor has something to say
            about a running attempt (why it waits for a worker); "" takes it back.

    Raises:
        InvalidArgument: the dask executor is chosen but distributed is not installed.
    """
    if settings.executor == "dask":
        # Imported here: the dask executor (and dask itself) is needed only when chosen.
        from podium.executors.dask import DaskExecutor, dask_missing

        if dask_missing():
            raise InvalidArgument("executor = dask needs distributed, which is not "
                                  "installed: pip install 'podium[dask]'")
        assert settings.dask_scheduler is not None  # load_settings requires it
        return DaskExecutor(settings.dask_scheduler, settings.cancel_grace_seconds, on_note,
                            home=settings.home)
    return LocalExecutor(settings.cancel_grace_seconds, warm_python=settings.warm_python)
