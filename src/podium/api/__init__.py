"""The HTTP API: the Databricks Jobs API 2.2 on the wire (``/api/2.2/jobs``, alias 2.1),
the Permissions, Secrets and Token APIs' shapes under ``/api/2.0``, and Podium's own
additions under ``/api/podium``. Routes parse and render; the services do the work."""

from __future__ import annotations

from podium.api.app import create_app

__all__ = ["create_app"]
