"""Import hygiene: layers import only downwards, heavy libraries stay in their homes,
and every package's public API is what its ``__all__`` says."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

PACKAGES = [
    "podium",
    "podium.spec",
    "podium.core",
    "podium.insights",
    "podium.store",
    "podium.runners",
    "podium.executors",
    "podium.engine",
    "podium.notify",
    "podium.triggers",
    "podium.services",
    "podium.sdk",
]


def modules_after_import(module: str) -> set[str]:
    """The modules a fresh interpreter has loaded after importing ``module``."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("podium.core", {"sqlalchemy", "podium.store", "podium.engine", "asyncio", "subprocess"}),
        # Insights are pure like core: functions over history rows the store fills.
        ("podium.insights", {"sqlalchemy", "podium.store", "podium.engine", "asyncio",
                             "subprocess"}),
        ("podium.spec", {"sqlalchemy", "podium.core", "podium.store", "asyncio", "subprocess"}),
        ("podium.runners", {"sqlalchemy", "podium.store", "podium.engine", "podium.executors"}),
        ("podium.executors", {"sqlalchemy", "podium.store", "podium.engine"}),
        ("podium.store", {"podium.engine", "podium.executors", "podium.runners"}),
        ("podium.notify", {"podium.services", "podium.api", "fastapi", "click"}),
        ("podium.task_values", {"pydantic", "sqlalchemy", "podium.spec"}),
        # Runners' own processes (launchers, an environment's wrapper) start fast.
        ("podium.runners.base", {"pydantic", "podium.spec"}),
        ("podium.runners.environment", {"pydantic", "podium.spec"}),
        ("podium.runners.jar", {"pydantic", "podium.spec"}),
        ("podium.runners.wheel", {"pydantic", "podium.spec"}),
        ("podium.function_worker", {"pydantic", "sqlalchemy", "podium.spec"}),
        ("podium.cli.main", {"sqlalchemy", "pydantic", "rich", "podium.services"}),
    ],
)
def test_imports_point_down(module: str, forbidden: set[str]) -> None:
    loaded = modules_after_import(module)
    assert not forbidden & loaded, f"{module} imports {sorted(forbidden & loaded)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_is_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    # Sorted as ruff sorts __all__: CONSTANTS, then Classes, then functions.
    kind = lambda name: 0 if name.isupper() else 1 if name[0].isupper() else 2  # noqa: E731
    assert exported == sorted(exported, key=lambda name: (kind(name), name))
    for name in exported:
        assert hasattr(module, name), f"{package}.__all__ names missing {name}"
