"""Inside a notebook task: ``exit(value)`` ends the notebook successfully with a result,
as ``dbutils.notebook.exit`` does. This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import os
from typing import NoReturn

# The notebook runner names, through this variable, the file exit() writes its value to:
# the notebook's code runs in a kernel, another process than the runner's.
EXIT_FILE_ENV = "PODIUM_NOTEBOOK_EXIT_FILE"


class NotebookExit(BaseException):
    """Raised by :func:`exit` to stop the notebook; the notebook runner treats it as success.

    It derives from BaseException, not Exception, so that an ``except Exception:`` in the
    notebook does not swallow it and let the next cells run.

    Attributes:
        value: the notebook's exit value.
    """

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value

    def _render_traceback_(self) -> list[str]:
        """What IPython shows in the cell's output instead of a traceback."""
        shown = self.value if len(self.value) <= 200 else self.value[:200] + "..."
        return [f"Notebook exited: {shown}"]


def exit(value: str) -> NoReturn:  # shadows the builtin: the name dbutils.notebook uses
    """End the running notebook successfully, with ``value`` as its result.

    The cells after the current one do not run; the task ends SUCCESS and its output's
    ``notebook_output.result`` is ``value`` (``podium runs output``, ``runs/get-output``).
    To return several values, pass ``json.dumps(...)`` of them.

    Args:
        value: the notebook's result, a string.

    Raises:
        TypeError: value is not a string.
        NotebookExit: always, to stop the notebook (outside Podium it just stops the cell).
    """
    if not isinstance(value, str):
        raise TypeError(
            f"podium.notebook.exit takes a string, not {type(value).__name__}; "
            "use json.dumps(...) to return other values"
        )
    path = os.environ.get(EXIT_FILE_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            out.write(value)
    raise NotebookExit(value)
