"""``python -m bench [--quick] [--only NAME] [--json]``: run each workload in a fresh
child process (so peak RSS is per workload) and print the figures."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.report import HEADER, line, table
from bench.workload import ROOT, WORKLOADS

NAMES = [*WORKLOADS, "cli"]


def run_child(name: str, extra: list[str]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.workload", name, *extra]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"name": name, "error": f"exit {proc.returncode}: {tail}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=NAMES, action="append", help="run only NAME")
    parser.add_argument("--quick", action="store_true", help="skip fanout-10000")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--parallel", type=int, default=2, help="max_parallel_tasks")
    args = parser.parse_args(argv)
    names = args.only or [n for n in NAMES if not (args.quick and n == "fanout-10000")]
    extra = ["--parallel", str(args.parallel)]
    results = []
    for name in names:
        if not args.json:
            print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_child(name, [] if name == "cli" else extra))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        from rich.console import Console

        console = Console(width=140)
        when = time.strftime("%Y-%m-%d %H:%M")
        console.print(HEADER.format(when=when, cores=os.cpu_count(), parallel=args.parallel),
                      markup=False, highlight=False)
        console.print(table(results))
        for r in results:
            console.print(line(r), markup=False, highlight=False, soft_wrap=True)
    return 1 if any("error" in r or r.get("result", "SUCCESS") != "SUCCESS" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
