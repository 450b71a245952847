"""Define jobs in Python: ``Job`` builds the same JobSpec a YAML job spec does."""

from __future__ import annotations

from podium.sdk.job import Job

__all__ = ["Job"]
