"""Podium: a job orchestrator for multi-task jobs in the Databricks Jobs API shape.

The top-level package stays import-light because every task subprocess imports
``podium.task_values``; heavy parts load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
