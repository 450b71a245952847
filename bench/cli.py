"""Cold start of the ``podium`` command: median wall time of fresh processes."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "help": ["--help"],
    "validate": ["validate", "examples/seed_pipeline.yaml"],
}


def podium_exe() -> str:
    """The venv's ``podium`` script, next to this interpreter."""
    exe = Path(sys.executable).parent / "podium"
    return str(exe) if exe.exists() else "podium"


def time_command(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times


def measure_cli(repeat: int = 5) -> dict[str, Any]:
    exe = podium_exe()
    time_command([exe, "--help"], 1)  # warm the page cache once, as a second call would
    out: dict[str, Any] = {"name": "cli", "repeat": repeat}
    for label, args in COMMANDS.items():
        times = time_command([exe, *args], repeat)
        out[f"{label}_s"] = statistics.median(times)
        out[f"{label}_min_s"] = min(times)
    bare = time_command([sys.executable, "-c", "pass"], repeat)
    out["python_startup_s"] = statistics.median(bare)
    return out
