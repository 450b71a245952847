"""Render workload figures: a Rich table, one copyable line per workload, or JSON."""

from __future__ import annotations

from typing import Any

HEADER = """\
Podium benchmarks ({when}; {cores} cores, max_parallel_tasks={parallel}, SQLite in a temp home)
  wall        submit_run + execute_run, as a user sees it
  bare        the same argv run with subprocess.run in the same shape (sequential for the
              chain, a {parallel}-wide ThreadPoolExecutor for fan-outs), same invocation,
              once before and once after Podium's run: the faster of the two counts
  engine CPU  the engine process's own CPU time (RUSAGE_SELF utime+stime: the task
              subprocesses are not included) during submit+execute, / tasks
  gap         (wall - bare) / tasks: the scheduling delay Podium adds per task
  peak RSS    ru_maxrss of the fresh child process that ran the workload (engine only)
  cli         median wall of fresh `podium ...` processes; its "bare s" is `python -c pass`
  targets     overhead <= 0.5 ms/task (chain-100, fanout-1000), proc-100 <= 1.1x bare,
              fanout-10000 peak RSS < 300 MB, podium --help < 0.15 s (median cold start)"""

OVERHEAD_MS = 0.5


def verdicts(r: dict[str, Any]) -> list[tuple[str, bool]]:
    """(target text, met) pairs for one workload's figures."""
    name = r["name"]
    if name == "cli":
        return [("--help < 0.15 s", r["help_s"] < 0.15)]
    if name.startswith(("chain", "fanout-1000")):
        out = [(f"CPU <= {OVERHEAD_MS} ms/task", r["cpu_ms_per_task"] <= OVERHEAD_MS)]
        if r.get("gap_ms_per_task") is not None:
            out.append((f"gap <= {OVERHEAD_MS} ms/task", r["gap_ms_per_task"] <= OVERHEAD_MS))
        return out
    if name.startswith("proc") and r.get("ratio") is not None:
        return [("<= 1.1x bare", r["ratio"] <= 1.1)]
    if name.startswith("fanout-10000"):
        return [("RSS < 300 MB", r["peak_rss_mb"] < 300)]
    return []


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def line(r: dict[str, Any]) -> str:
    """One line per workload, easy to paste into notes."""
    marks = "; ".join(f"{t}: {'OK' if ok else 'MISS'}" for t, ok in verdicts(r))
    if "error" in r:
        return f"{r['name']}: ERROR {r['error']}"
    if r["name"] == "cli":
        return (f"cli: podium --help {r['help_s']:.3f} s, validate seed {r['validate_s']:.3f} s "
                f"(median of {r['repeat']}; bare python {r['python_startup_s']:.3f} s) [{marks}]")
    bare = "" if r.get("bare_s") is None else (
        f", bare {r['bare_s']:.2f} s ({r['ratio']:.2f}x), gap {r['gap_ms_per_task']:.2f} ms/task")
    if r.get("bare_logged_s"):
        bare += (f", bare with a log file per process {r['bare_logged_s']:.2f} s "
                 f"({r['wall_s'] / r['bare_logged_s']:.2f}x)")
    return (f"{r['name']}: {r['tasks']} tasks {r['result']}, wall {r['wall_s']:.2f} s{bare}, "
            f"engine CPU {r['cpu_ms_per_task']:.2f} ms/task, peak RSS {r['peak_rss_mb']:.0f} MB "
            f"[{marks}]")


def table(results: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    t = Table(show_header=True, header_style="bold")
    for col in ("workload", "tasks", "result", "wall s", "bare s", "x bare",
                "CPU ms/task", "gap ms/task", "peak RSS MB", "targets"):
        t.add_column(col, justify="left" if col in ("workload", "result", "targets") else "right")
    for r in results:
        marks = "\n".join(f"[{'green' if ok else 'red'}]{'OK' if ok else 'MISS'}[/] {text}"
                          for text, ok in verdicts(r))
        if "error" in r:
            t.add_row(r["name"], "", "[red]ERROR[/]", *[""] * 6, r["error"][:60])
        elif r["name"] == "cli":
            t.add_row("cli --help", "", "", _fmt(r["help_s"], ".3f"), _fmt(
                r["python_startup_s"], ".3f"), "", "", "", "", marks)
            t.add_row("cli validate", "", "", _fmt(r["validate_s"], ".3f"), "", "", "", "", "", "")
        else:
            t.add_row(r["name"], str(r["tasks"]), r["result"], _fmt(r["wall_s"], ".2f"),
                      _fmt(r.get("bare_s"), ".2f"), _fmt(r.get("ratio"), ".2f"),
                      _fmt(r["cpu_ms_per_task"], ".2f"), _fmt(r.get("gap_ms_per_task"), ".2f"),
                      _fmt(r["peak_rss_mb"], ".0f"), marks)
    return t
