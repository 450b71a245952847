"""Entry point of the worker process of a python_function_task (kept outside
podium.runners so that a worker imports nothing but this module and the callable).

``python -m podium.function_worker '{"function": "mod:fn", "args": [], "kwargs": {}}'``
imports the function, calls it, and stores a JSON-serialisable return value as the task
value ``returned``. An exception prints its traceback (the attempt's log) and exits 1.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any


def main(argv: list[str]) -> int:
    call = json.loads(argv[1])
    module_name, _, attr = call["function"].partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        print(f"cannot load function {call['function']!r}: {exc}", file=sys.stderr)
        return 1
    try:
        returned = target(*call["args"], **call["kwargs"])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    if returned is not None:
        from podium import task_values

        try:
            task_values.set("returned", returned)
        except (TypeError, ValueError) as exc:
            print(f"return value not stored as a task value: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
