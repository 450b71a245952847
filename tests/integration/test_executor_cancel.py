"""A LocalExecutor attempt canceled at any await of its start (a server shutting down)
leaves no process behind, even one started but not yet in the run's pid registry."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest

from podium.executors import AttemptRequest, LocalExecutor
from podium.runners.base import ProcessSpec
from tests.integration.helpers import pid_alive

# Cancel after 0, 1, 2, ... turns of the event loop: some land while the log pipes are
# being attached, just after the process started; the last, while it is waited for.
TURNS = range(12)


def processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``marker``.

    Right after a process starts its command line can still read empty, so a process
    is seen for sure only a moment later.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("timeout_seconds", [0, 60], ids=["no-timeout", "timeout"])
def test_canceling_a_starting_attempt_leaves_no_process(
    tmp_path: Path, timeout_seconds: float
) -> None:
    # `sleep 30.<digits>` sleeps as long as `sleep 30` and is unique to this test.
    marker = f"30.{uuid.uuid4().int % 10**12:012d}"
    executor = LocalExecutor(grace_seconds=1, warm_python=False)
    logs, work = tmp_path / "logs", tmp_path / "work"

    async def cancel_after(turns: int) -> None:
        request = AttemptRequest(
            attempt_id=turns,
            process=ProcessSpec(argv=["sleep", marker], cwd=tmp_path),
            log_path=logs / f"a{turns}.log",
            work_prefix=work / f"a{turns}",
            timeout_seconds=timeout_seconds,
        )
        attempt = asyncio.ensure_future(executor.run(request))
        for _ in range(turns):
            await asyncio.sleep(0)
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        assert processes_with(marker) == [], f"canceled after {turns} turns"

    async def scenario() -> None:
        try:
            for turns in TURNS:
                await cancel_after(turns)
        finally:
            await executor.close()

    asyncio.run(scenario())
    assert processes_with(marker) == []  # by now, any survivor's command line is readable
    # The log is opened just before the process starts, the pid recorded once it has.
    started = sorted(int(name[1:-4]) for name in os.listdir(logs))
    recorded = [int(name[1:]) for name in (work / "pids").read_text().split()[::2]]
    assert [t for t in started if t not in recorded], "no cancel hit the start's window"
    assert recorded[-1] == TURNS[-1]  # the last cancel came while the process ran
