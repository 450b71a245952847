"""Define jobs in Python: ``Job`` builds the same JobSpec a YAML job spec does.
``PodiumClient`` calls a Podium server (imported on first use: it brings in httpx2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.sdk.job import Job

if TYPE_CHECKING:
    from podium.sdk.client import PodiumClient

__all__ = ["Job", "PodiumClient"]


def __getattr__(name: str) -> Any:
    if name == "PodiumClient":
        from podium.sdk.client import PodiumClient

        return PodiumClient
    raise AttributeError(f"module 'podium.sdk' has no attribute {name!r}")
