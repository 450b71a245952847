"""Whether the engine holding a run is still alive: engines identify themselves as
``host:pid`` and refresh a heartbeat on the run while they drive it.

The heartbeat is a lease. An engine takes a run only from a holder it judged dead, by a
compare-and-set on the holder and heartbeat it read (``store.runs.claim_run``), so of
several servers on one database exactly one drives a run; each step it records first
checks that it still holds the run (``store.runs.hold_run``), so an engine that was
stalled past ``STALE_AFTER`` and lost the run writes nothing more to it.

Takeover takes up to ``STALE_AFTER`` after the holder's last heartbeat when the holder
ran on another host; on this host a killed holder is noticed by its pid at once. The
hosts' clocks must agree to well within ``STALE_AFTER`` (NTP), and hostnames must be
unique among the servers sharing a database (a pid is only checked on its own host).
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from podium.errors import Conflict

# A run whose heartbeat is older than this has no live engine and may be resumed or
# canceled directly (an engine refreshes it every poll, twice a second by default).
STALE_AFTER = timedelta(seconds=10)


class LeaseLost(Conflict):
    """Another engine took over the run this one was driving (this one was stalled past
    ``STALE_AFTER``): stop driving it, record nothing more."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def this_engine_id() -> str:
    """The id this process's engines record on the runs they drive."""
    return f"{socket.gethostname()}:{os.getpid()}"


# The runs an engine of this process is driving right now (a server drives many, from
# its event loop and, to cancel a run nobody drives, from request threads).
_DRIVEN_HERE: set[int] = set()
_DRIVEN_LOCK = threading.Lock()


def take_here(run_id: int) -> bool:
    """Note that an engine of this process takes up ``run_id``; False if one already has."""
    with _DRIVEN_LOCK:
        if run_id in _DRIVEN_HERE:
            return False
        _DRIVEN_HERE.add(run_id)
        return True


def on_this_host(engine_id: str | None) -> bool:
    """Whether ``engine_id`` ran on this host (None, unknown: taken as this host), so
    that the pids it recorded are this host's: leftover processes are killed only then."""
    return engine_id is None or engine_id.rpartition(":")[0] == socket.gethostname()


def let_go_here(run_id: int) -> None:
    with _DRIVEN_LOCK:
        _DRIVEN_HERE.discard(run_id)


def engine_alive(
    engine_id: str | None, heartbeat_at: datetime | None, now: datetime, run_id: int = 0
) -> bool:
    """Whether the engine that holds run ``run_id`` may still be running it.

    An engine on this host is checked by its pid, so a killed one is noticed at once;
    one elsewhere counts as alive while its heartbeat is fresh.
    """
    if engine_id is None or heartbeat_at is None or now - heartbeat_at >= STALE_AFTER:
        return False
    host, _, pid = engine_id.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return run_id in _DRIVEN_HERE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
