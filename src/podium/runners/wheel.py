"""python_wheel_task: install the task's wheels once into a cache under PODIUM_HOME,
then call entry point ``entry_point`` of ``package_name`` as Databricks does."""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.runners.base import (
    LIBRARY_URI,
    LaunchError,
    ProcessSpec,
    RunnerContext,
    fail,
    library_paths,
)

if TYPE_CHECKING:
    from podium.spec.models import Task

DONE = ".podium-installed"  # written last: a cache folder without it is incomplete
_UV_FLAGS = ("--quiet", "--no-deps", "--offline", "--no-cache")
_PIP_FLAGS = (
    "--quiet",
    "--no-deps",
    "--no-index",
    "--disable-pip-version-check",
    "--no-warn-script-location",
)



def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    """The launcher process of a ``python_wheel_task``.

    Installing happens in the launcher, not here: the engine must not wait for pip,
    and the install's output then lands in the attempt's log.
    """
    spec = task.python_wheel_task
    assert spec is not None
    wheels, ignored = library_paths(task, "whl", ctx)
    call = {
        "package_name": spec.package_name,
        "entry_point": spec.entry_point,
        "args": [*spec.parameters, *(f"--{k}={v}" for k, v in spec.named_parameters.items())],
        "wheels": wheels,
        "ignored": ignored,
        "cache": str(ctx.home.absolute() / "wheels"),
    }
    return ProcessSpec(
        argv=[ctx.python, "-m", "podium.runners.wheel", json.dumps(call)], cwd=ctx.source_dir
    )


def check_wheels(wheels: list[str]) -> list[Path]:
    """The wheel files, checked.

    Raises:
        LaunchError: a wheel is a URI (``dbfs:/``, ``s3://``, ...) or does not exist.
    """
    for whl in wheels:
        if LIBRARY_URI.match(whl):
            raise LaunchError(
                f"whl library {whl!r} is not supported: Podium installs local "
                "wheel files (a path relative to the job spec, or absolute)"
            )
        if not Path(whl).is_file():
            raise LaunchError(f"whl library {whl} does not exist")
    return [Path(whl) for whl in wheels]


def cache_key(wheels: list[Path]) -> str:
    """SHA-256 of the wheels' names and contents, in order, and of the Python version
    (a wheel installed for one Python may not suit another)."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for whl in wheels:
        digest.update(whl.name.encode() + b"\0")
        with open(whl, "rb") as src:
            digest.update(hashlib.file_digest(src, "sha256").digest())
    return digest.hexdigest()


def install(wheels: list[Path], cache: Path) -> Path:
    """Install ``wheels`` (without dependencies) into their cache folder, unless an
    earlier run did; concurrent runs wait on a file lock for the one that installs.

    Returns:
        The folder to put on the import path.

    Raises:
        LaunchError: the installer failed (its output is in the log).
    """
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / cache_key(wheels)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / DONE).exists():
            print(f"podium: using the wheels cached in {target}", flush=True)
            return target
        shutil.rmtree(target, ignore_errors=True)  # a crashed install's leftovers
        print(f"podium: installing {', '.join(w.name for w in wheels)} into {target}", flush=True)
        argv = [*installer(), "--target", str(target), *map(str, wheels)]
        if subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode != 0:
            raise LaunchError(
                f"installing {', '.join(w.name for w in wheels)} failed (see the log)"
            )
        (target / DONE).touch()
    return target


def installer() -> list[str]:
    """uv when it is next to the interpreter or on PATH (10x faster), else pip; both
    install a local wheel offline and without its dependencies."""
    uv = Path(sys.executable).parent / "uv"
    found = str(uv) if uv.is_file() else shutil.which("uv")
    if found:
        return [found, "pip", "install", *_UV_FLAGS, "--python", sys.executable]
    return [sys.executable, "-m", "pip", "install", *_PIP_FLAGS]


def put_on_path(folder: Path) -> None:
    """Import from ``folder`` first, here and in the processes the entry point starts."""
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(folder), os.environ.get("PYTHONPATH")) if p
    )
    importlib.invalidate_caches()


def find_entry_point(package: str, name: str) -> Callable[[], Any]:
    """Entry point ``name`` of distribution ``package`` (``console_scripts`` first, then
    any group), else function ``name`` of module ``package`` (Databricks' fallback).

    Raises:
        LaunchError: neither exists; the message lists the entry points there are.
    """
    try:
        dist: metadata.Distribution | None = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        points = sorted(dist.entry_points, key=lambda ep: ep.group != "console_scripts")
        for point in points:
            if point.name == name:
                loaded: Callable[[], Any] = point.load()
                return loaded
    module_name = package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:  # the user's module failed to import something
            raise
        if dist is None:
            raise LaunchError(
                f"package {package!r} is not installed: add its wheel to the "
                f"task's libraries, or install it into {sys.executable}"
            ) from None
        module = None
    function = getattr(module, name, None)
    if callable(function):
        return function  # type: ignore[no-any-return]
    raise LaunchError(_no_entry_point(package, name, dist))


def _no_entry_point(package: str, name: str, dist: metadata.Distribution | None) -> str:
    points = sorted({f"{ep.name} ({ep.group})" for ep in dist.entry_points} if dist else ())
    available = ", ".join(points) if points else "none"
    return (
        f"package {package!r} has no entry point {name!r} and no function "
        f"{package.replace('-', '_')}.{name}; its entry points: {available}"
    )




def main(argv: list[str]) -> int:
    """The launcher: ``argv[1]`` is the JSON call made by :func:`build`.

    A user exception prints its traceback (the log) and exits 1; SystemExit works as in
    a console script, and so does an int the entry point returns (the exit code).
    """
    call = json.loads(argv[1])
    for kind in call["ignored"]:
        print(f"podium: {kind} libraries are ignored by python_wheel_task", file=sys.stderr)
    try:
        wheels = check_wheels(call["wheels"])
        if wheels:
            put_on_path(install(wheels, Path(call["cache"])))
        function = find_entry_point(call["package_name"], call["entry_point"])
    except LaunchError as exc:
        return fail(str(exc))
    sys.argv[:] = [call["entry_point"], *call["args"]]
    try:
        returned = function()
    except Exception as exc:  # the traceback from the entry point down, without ours
        traceback.print_exception(type(exc), exc, exc.__traceback__ and exc.__traceback__.tb_next)
        return 1
    return returned if isinstance(returned, int) and not isinstance(returned, bool) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
