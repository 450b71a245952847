"""Effective settings: defaults < $PODIUM_HOME/podium.toml < PODIUM_* environment variables.

This is the only module that reads ``os.environ`` for configuration. Keys are flat
(``database_url``) or sectioned (``[connections] warehouse = ...`` which the environment
spells ``PODIUM_CONNECTIONS__WAREHOUSE``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.errors import InvalidArgument

ENV_PREFIX = "PODIUM_"
_SECRET_WORDS = ("password", "token", "secret", "key")
EXECUTORS = ("local", "dask")
DISPATCH_ORDERS = ("critical_path", "spec")


@dataclass(frozen=True, slots=True)
class Settings:
    """Podium's effective settings.

    Attributes:
        home: folder holding the metadata database, logs and artifacts.
        database_url: SQLAlchemy URL of the metadata database.
        max_parallel_tasks: how many task attempts one engine runs at once.
        cancel_grace_seconds: how long a canceled or timed-out process gets after
            SIGTERM before SIGKILL.
        warm_python: start python_function_task attempts by forking a warm
            interpreter (milliseconds) rather than starting a fresh one.
        executor: where attempts run: ``local`` (processes of this machine) or ``dask``
            (the workers of the Dask cluster at ``dask_scheduler``; docs/cluster.md).
        dask_scheduler: the Dask scheduler's address (``tcp://host:8786``).
        dispatch_order: which ready task takes a free slot first: ``critical_path`` (the
            longest expected path ahead, from the job's history) or ``spec`` (the order
            of the job spec's tasks).
        extra: every other key read from podium.toml or the environment, by section.
    """

    home: Path
    database_url: str
    max_parallel_tasks: int
    cancel_grace_seconds: float = 5.0
    warm_python: bool = True
    executor: str = "local"
    dask_scheduler: str | None = None
    dispatch_order: str = "critical_path"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def connections(self) -> dict[str, str]:
        """Named SQL connections (SQLAlchemy URLs) from ``[connections]`` /
        ``PODIUM_CONNECTIONS__<NAME>``; ``default`` is the embedded DuckDB warehouse."""
        configured = self.extra.get("connections", {})
        named = (
            {str(k): str(v) for k, v in configured.items()} if isinstance(configured, dict)
            else {}
        )
        return {"default": f"duckdb:///{self.home / 'warehouse.duckdb'}", **named}

    @property
    def workspace(self) -> Path:
        """Where relative task paths of jobs made through the API start (``workspace``;
        default: the folder the server was started in)."""
        return Path(str(self.extra.get("workspace") or Path.cwd())).expanduser().resolve()

    def section(self, name: str) -> dict[str, Any]:
        """The ``[name]`` table of podium.toml with its ``PODIUM_<NAME>__<KEY>`` overrides
        (e.g. ``smtp``, ``server``, ``destinations``); empty when not configured."""
        found = self.extra.get(name, {})
        return dict(found) if isinstance(found, dict) else {}

    @property
    def public_url(self) -> str | None:
        """The server's address as users reach it (``server.public_url``), for links."""
        url = self.section("server").get("public_url")
        return str(url).rstrip("/") if url else None

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with secret-looking values masked, for display."""
        out: dict[str, Any] = {
            "home": str(self.home),
            "database_url": _mask_url(self.database_url),
            "max_parallel_tasks": self.max_parallel_tasks,
            "cancel_grace_seconds": self.cancel_grace_seconds,
            "warm_python": self.warm_python,
            "executor": self.executor,
            "dask_scheduler": self.dask_scheduler,
            "dispatch_order": self.dispatch_order,
        }
        for key, value in self.extra.items():
            # A webhook URL's path or query is often its key (Slack's is): show the host.
            out[key] = _mask(key, _hide_paths(value) if key == "destinations" else value)
        return out


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the effective settings.

    Args:
        environ: the environment to read (default ``os.environ``).

    Raises:
        InvalidArgument: a value has the wrong type or podium.toml is not valid TOML.
    """
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("PODIUM_HOME") or Path.home() / ".podium").expanduser()
    values: dict[str, Any] = {}
    toml_path = home / "podium.toml"
    if toml_path.exists():
        try:
            values = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgument(f"{toml_path}: not valid TOML: {exc}") from exc
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == "PODIUM_HOME":
            continue
        key = name[len(ENV_PREFIX):].lower()
        if "__" in key:
            section, sub = key.split("__", 1)
            values.setdefault(section, {})[sub] = raw
        else:
            values[key] = raw
    database_url = str(values.pop("database_url", "") or f"sqlite:///{home / 'podium.db'}")
    parallel = _int(values.pop("max_parallel_tasks", os.cpu_count() or 2), "max_parallel_tasks")
    grace = _float(values.pop("cancel_grace_seconds", 5.0), "cancel_grace_seconds")
    warm = _bool(values.pop("warm_python", True), "warm_python")
    if parallel < 1:
        raise InvalidArgument("max_parallel_tasks: must be at least 1")
    executor = str(values.pop("executor", "local") or "local").strip().lower()
    scheduler = str(values.pop("dask_scheduler", "") or "").strip() or None
    if executor not in EXECUTORS:
        raise InvalidArgument(f"executor: expected one of {', '.join(EXECUTORS)}, "
                              f"got {executor!r}")
    order = str(values.pop("dispatch_order", "critical_path")).strip().lower()
    if order not in DISPATCH_ORDERS:
        raise InvalidArgument(f"dispatch_order: expected one of {', '.join(DISPATCH_ORDERS)}, "
                              f"got {order!r}")
    if executor == "dask" and scheduler is None:
        raise InvalidArgument("dask_scheduler: the dask executor needs the scheduler's "
                              "address, e.g. tcp://127.0.0.1:8786")
    return Settings(
        home=home,
        database_url=database_url,
        max_parallel_tasks=parallel,
        cancel_grace_seconds=grace,
        warm_python=warm,
        executor=executor,
        dask_scheduler=scheduler,
        dispatch_order=order,
        extra=values,
    )


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: expected a whole number, got {value!r}") from None


def _float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: expected a number, got {value!r}") from None


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidArgument(f"{name}: expected true or false, got {value!r}")


def _mask(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(k, v) for k, v in value.items()}
    if any(word in key.lower() for word in _SECRET_WORDS):
        return "****"
    if isinstance(value, str) and "://" in value:
        return _mask_url(value)
    return value


def _hide_paths(value: Any) -> Any:
    """``value`` with every URL cut to its scheme and host (``podium destinations`` shows
    more, as much as is safe)."""
    if isinstance(value, dict):
        return {k: _hide_paths(v) for k, v in value.items()}
    if isinstance(value, str) and "://" in value:
        scheme, _, rest = value.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
        return f"{scheme}://{host}/****" if rest != host else value
    return value


def _mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/...``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:****@{host}" if ":" in creds else url
