"""Isolated Python environments (``environment_key``): ``wrap`` makes a task's process
``python -m podium.runners.environment REQUEST -- COMMAND``, which builds the environment
once (cached under PODIUM_HOME, one builder at a time), then execs COMMAND in it."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from podium import __version__
from podium.runners.base import ProcessSpec, write_output

if TYPE_CHECKING:
    from podium.spec.task_types import Environment

MODULE = "podium.runners.environment"
BUILD_TIMEOUT_SECONDS = 600
LINK_DIR = "podium-link"  # in an environment: holds only the symlink ``podium``
METADATA_FILE = "podium-environment.json"
# A plain requirement: a name, extras, then nothing or a version, marker or URL part.
_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~;@(].*)?", re.DOTALL)
_ERROR_LINE = re.compile("^(error\\b|\u00d7)", re.IGNORECASE)  # \u00d7: uv's cross


class BuildError(Exception):
    """The environment could not be created or its dependencies installed."""


def wrap(process: ProcessSpec, environment: Environment, home: Path) -> ProcessSpec:
    """Make ``process`` run in ``environment`` rather than in the job's environment.

    Args:
        process: what a Python runner built; ``argv[0]`` is the job's interpreter.
        environment: the job's environment the task names with ``environment_key``.
        home: PODIUM_HOME; environments are cached in its ``environments`` folder.

    Returns:
        A ProcessSpec that ensures the environment, then execs ``process.argv`` with the
        environment's interpreter. It is never forked from a warm interpreter
        (``function_call`` is None): that one runs in the job's environment.
    """
    request = {
        "key": environment.environment_key,
        "dependencies": list(environment.spec.dependencies),
        "cache": str(Path(home).absolute() / "environments"),
    }
    argv = [process.argv[0], "-m", MODULE, json.dumps(request), "--", *process.argv]
    return ProcessSpec(argv=argv, cwd=process.cwd, env=dict(process.env), function_call=None)


def normalize(requirement: str) -> str:
    """``requirement`` in a canonical spelling, for the identity only (never installed).

    ``Tomli_W >= 1.0`` and ``tomli-w>=1.0`` are the same requirement: the project name is
    normalised as in PEP 503 and whitespace dropped. Options (``-r file``) and anything
    that is not a plain requirement keep their spelling, whitespace aside.
    """
    text = requirement.strip()
    match = _NAME.fullmatch(text)
    if match is None:
        return " ".join(text.split())
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    extras = "".join((match.group(2) or "").lower().split())
    return name + extras + "".join((match.group(3) or "").split())


def python_tag() -> str:
    """The running interpreter as ``cpython-3.11``: environments are built from it."""
    return f"{sys.implementation.name}-{sys.version_info.major}.{sys.version_info.minor}"


def identity(dependencies: list[str], cwd: Path | None = None) -> str:
    """The cache name of an environment with ``dependencies`` built from this interpreter.

    The first 16 hex digits of a ``sha256`` of the sorted, normalised dependencies, the
    interpreter (``main`` runs on the job's, the one the environment is built from) and
    Podium's version.

    Args:
        dependencies: pip requirement strings, as in the job spec.
        cwd: where relative paths resolve; local files the dependencies name (a wheel,
            ``-r requirements.txt``) count by their content, so changing one rebuilds.
    """
    canonical = sorted({normalize(d) for d in dependencies if d.strip()})
    data = {
        "dependencies": canonical,
        "files": _file_digests([d.strip() for d in dependencies], cwd) if cwd else {},
        "python": python_tag(),
        "podium": __version__,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _file_digests(dependencies: list[str], cwd: Path) -> dict[str, str]:
    """``sha256`` of each local file the dependencies name (directories are not read)."""
    digests: dict[str, str] = {}
    for dependency in dependencies:
        for word in _arguments(dependency):
            path = cwd / Path(word).expanduser()
            if not word.startswith("-") and path.is_file():
                digests[word] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _arguments(dependency: str) -> list[str]:
    """An option line (``-r requirements.txt``, ``--index-url URL``) holds several."""
    if not dependency.startswith("-"):
        return [dependency]
    try:
        return shlex.split(dependency)
    except ValueError:  # an unbalanced quote: let the installer report it
        return dependency.split()


def ensure(request: dict[str, Any], cwd: Path, uv: str | None) -> Path:
    """The folder of the environment ``request`` describes, built first if need be.

    The environment is ``<cache>/<identity>``, a symlink to the folder it was built in.
    Building holds an ``fcntl`` lock on ``<identity>.lock``, so concurrent attempts wait
    for the first builder and then find the environment built. A build goes into a fresh
    folder ``<identity>-<random>``, published by atomically replacing the symlink: the
    folder never moves, so the absolute paths a venv holds (console-script shebangs) stay
    valid, and a builder that died leaves only an unpublished folder, removed by the next.

    Args:
        request: ``{"key", "dependencies", "cache"}`` as made by ``wrap``.
        cwd: where relative paths in the dependencies resolve (the job spec's folder).
        uv: the ``uv`` binary, or None to build with ``venv`` and ``pip``.

    Raises:
        BuildError: creating the environment or installing a dependency failed.
    """
    root = Path(request["cache"])
    ident = identity(request["dependencies"], cwd)
    final = root / ident
    if not _ready(final):
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / f"{ident}.lock", request["key"]):
            if not _ready(final):
                _build(request, final, cwd, uv)
                return final
    print(f"using cached environment {ident}", flush=True)
    _link_podium(final.resolve())  # in case Podium moved since the build
    return final


def _ready(final: Path) -> bool:
    return (final / "bin" / "python").exists()


@contextlib.contextmanager
def _locked(path: Path, key: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; say so when another attempt holds it."""
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for environment {key}: another attempt is building it…", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(request: dict[str, Any], final: Path, cwd: Path, uv: str | None) -> None:
    """Build the environment in a fresh folder, then publish it as ``final`` (a symlink)."""
    key, dependencies = request["key"], [d.strip() for d in request["dependencies"]]
    dependencies = [d for d in dependencies if d]
    for stale in final.parent.glob(f"{final.name}-*"):  # left by a builder that died
        shutil.rmtree(stale, ignore_errors=True)
    count = f"{len(dependencies)} dependenc{'y' if len(dependencies) == 1 else 'ies'}"
    print(f"building environment {key} ({count})…", flush=True)
    started = time.monotonic()
    folder = final.parent / f"{final.name}-{secrets.token_hex(4)}"
    try:
        _create(folder, cwd, uv)
        if dependencies:
            _install(folder, dependencies, cwd, uv)
        metadata = {
            "environment_key": key,
            "dependencies": dependencies,
            "python": python_tag(),
            "podium": __version__,
        }
        (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        _link_podium(folder)
        for site_packages in (folder / "lib").glob("*/site-packages"):
            (site_packages / "_podium.pth").write_text(f"{folder / LINK_DIR}\n")
        link = final.parent / f".{final.name}.{os.getpid()}.link"
        link.unlink(missing_ok=True)
        link.symlink_to(folder.name)
        os.replace(link, final)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    print(
        f"building environment {key}: done in {time.monotonic() - started:.1f} s ({final.name})",
        flush=True,
    )


def _create(folder: Path, cwd: Path, uv: str | None) -> None:
    if uv is not None:
        argv = [uv, "venv", "--no-project", "--python", sys.executable, str(folder)]
    else:
        argv = [sys.executable, "-m", "venv", str(folder)]
    _run(argv, cwd, "creating the virtual environment")


def _install(folder: Path, dependencies: list[str], cwd: Path, uv: str | None) -> None:
    args = [word for dependency in dependencies for word in _arguments(dependency)]
    python = str(folder / "bin" / "python")
    if uv is not None:
        argv = [uv, "pip", "install", "--python", python, *args]
    else:
        argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args]
    _run(argv, cwd, "installing the dependencies")


def _run(argv: list[str], cwd: Path, what: str) -> None:
    """Run one build step, echo its output to the log; BuildError when it fails."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["NO_COLOR"] = "1"
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} timed out after {BUILD_TIMEOUT_SECONDS} s") from None
    except OSError as exc:
        raise BuildError(f"{what}: cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    print(done.stdout, end="" if done.stdout.endswith("\n") else "\n", flush=True)
    if done.returncode != 0:
        raise BuildError(last_meaningful_lines(done.stdout) or f"{what} failed")


def last_meaningful_lines(output: str, limit: int = 6) -> str:
    """The part of a uv or pip failure worth a state message, on one line.

    From the first ``error:`` / ``ERROR:`` / uv cross line on (at most ``limit`` lines),
    or the last three non-blank lines when there is none.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if _ERROR_LINE.match(line)), None)
    chosen = lines[first : first + limit] if first is not None else lines[-3:]
    return " ".join(chosen)[:2000]


def _link_podium(folder: Path) -> None:
    """Point ``folder/podium-link/podium`` at the running ``podium`` package (atomically).

    Tasks import ``podium.task_values`` and ``podium.function_worker`` (standard library
    only), so an environment needs Podium's package but not its dependencies. A ``.pth``
    naming podium's parent folder would do for an editable install (``src/``), but for a
    regular one that parent is the job venv's site-packages, which would then leak in
    whole. So ``podium-link`` holds only this symlink, and a ``.pth`` file in the
    environment's site-packages names ``podium-link``. Called on each use: a moved Podium
    gets the link re-pointed.
    """
    package = str(Path(__file__).resolve().parent.parent)
    links = folder / LINK_DIR
    target = links / "podium"
    with contextlib.suppress(OSError):
        if os.readlink(target) == package:
            return
    links.mkdir(exist_ok=True)
    staged = links / f".podium.{os.getpid()}.{secrets.token_hex(4)}"
    staged.symlink_to(package, target_is_directory=True)
    os.replace(staged, target)


def find_uv() -> str | None:
    """The ``uv`` binary: the one of the ``uv`` package, else on PATH; None if neither."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def run_in(folder: Path, command: list[str]) -> NoReturn:
    """Replace this process by ``command`` run with the environment's interpreter."""
    python = str(folder / "bin" / "python")
    os.environ["VIRTUAL_ENV"] = str(folder)
    os.environ["PATH"] = os.pathsep.join(
        p for p in (str(folder / "bin"), os.environ.get("PATH", "")) if p
    )
    os.environ.pop("PYTHONHOME", None)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, *command[1:]])


def main(argv: list[str] | None = None) -> int:
    """``python -m podium.runners.environment REQUEST -- COMMAND...``: ensure, then exec.

    Returns:
        1 when the environment cannot be built (its error is the attempt's output);
        otherwise it does not return: the process becomes ``COMMAND``.
    """
    args = sys.argv if argv is None else argv
    if len(args) < 4 or args[2] != "--":
        print(f"usage: python -m {MODULE} REQUEST -- COMMAND...", file=sys.stderr)
        return 2
    request = json.loads(args[1])
    try:
        folder = ensure(request, Path.cwd(), find_uv())
    except (BuildError, OSError) as exc:
        message = f"environment {request['key']}: {exc}"
        print(message, flush=True)
        write_output({"error": message})
        return 1
    run_in(folder, args[3:])


if __name__ == "__main__":
    sys.exit(main())
