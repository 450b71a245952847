"""Load a job spec from a YAML, JSON or Python file into a validated JobSpec.

Python files define a ``podium.sdk.Job``; YAML and JSON hold the Jobs API 2.2 shape.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import yaml

from podium.errors import InvalidJobSpec, Problem
from podium.spec.models import JobSpec
from podium.spec.validate import parse_job

FORMATS = (".yaml", ".yml", ".json", ".py")


@dataclass(frozen=True)
class LoadedJob:
    """A validated job spec and where it came from.

    Attributes:
        spec: the validated job.
        warnings: fields that were ignored, with their locations.
        source: the path as given, for messages.
        source_dir: the absolute folder of the file; relative paths in tasks start here.
    """

    spec: JobSpec
    warnings: list[str]
    source: str
    source_dir: Path


def load_job(path: str | Path) -> LoadedJob:
    """Read and validate the job spec in ``path`` (``.yaml``, ``.yml``, ``.json`` or ``.py``).

    A ``.py`` file is imported as a module named after its stem, with its folder put first
    on ``sys.path`` (and left there, so the functions its tasks name can be imported).

    Args:
        path: the spec file.

    Returns:
        The LoadedJob.

    Raises:
        InvalidJobSpec: the file is missing, unreadable, not valid YAML/JSON, its Python
            import failed or defines no single Job, or the spec has problems.
    """
    source = str(path)
    file = Path(path)
    if not file.is_file():
        _fail("no-such-file", "", f"no such file: {source}", source)
    suffix = file.suffix.lower()
    if suffix not in FORMATS:
        hint = "use one of: " + ", ".join(FORMATS)
        _fail("unknown-format", "", f"unknown job spec format {suffix or '(none)'!r}", source, hint)
    data = _load_python(file, source) if suffix == ".py" else _load_text(file, suffix, source)
    spec, warnings = parse_job(data, source)
    return LoadedJob(spec=spec, warnings=warnings, source=source, source_dir=file.resolve().parent)


def _fail(code: str, loc: str, msg: str, source: str, hint: str = "") -> NoReturn:
    raise InvalidJobSpec([Problem(code, loc, msg, hint)], source)


def _load_text(file: Path, suffix: str, source: str) -> object:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        _fail("bad-syntax", "", f"not UTF-8 text ({exc.reason} at byte {exc.start})", source)
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            _fail("bad-syntax", f"line {exc.lineno}, column {exc.colno}", exc.msg, source)
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        _fail("bad-syntax", _at(exc.problem_mark), exc.problem or str(exc), source, _context(exc))
    except yaml.YAMLError as exc:
        _fail("bad-syntax", "", str(exc), source)


def _at(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _context(exc: yaml.MarkedYAMLError) -> str:
    """E.g. "while parsing a flow sequence that starts at line 3, column 15"."""
    if not exc.context:
        return ""
    where = _at(exc.context_mark)
    return f"{exc.context} that starts at {where}" if where else exc.context


def _load_python(file: Path, source: str) -> dict[str, object]:
    """Import the module and return its Job as spec data (validated by the caller)."""
    from podium.sdk import Job  # the sdk sits above spec: import it only when needed

    module = _import_file(file, source)
    named = getattr(module, "job", None)
    if isinstance(named, Job):
        return named.to_dict()
    found = {id(v): (k, v) for k, v in vars(module).items() if isinstance(v, Job)}
    if len(found) == 1:
        return next(iter(found.values()))[1].to_dict()
    names = ", ".join(sorted(k for k, _ in found.values()))
    msg = f"several Job objects ({names})" if found else "the module defines no podium.sdk.Job"
    _fail("no-job", "", msg, source, "name the job to load 'job'")


def _import_file(file: Path, source: str) -> ModuleType:
    name = file.stem
    taken = sys.modules.get(name)
    if taken is not None and Path(getattr(taken, "__file__", "") or "").resolve() != file.resolve():
        hint = "rename the file"
        _fail(
            "import-error", "", f"module name {name!r} is already taken by {taken!r}", source, hint
        )
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        _fail("import-error", "", f"cannot import {source} as a module", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        _fail("import-error", _line_in(file, exc), f"{type(exc).__name__}: {exc}", source)
    return module


def _line_in(file: Path, exc: Exception) -> str:
    """``line N`` of the deepest frame in ``file`` that the exception passed through."""
    here = file.resolve()
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == here:
        return f"line {exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [f.lineno for f in frames if Path(f.filename).resolve() == here]
    return f"line {lines[-1]}" if lines else ""
