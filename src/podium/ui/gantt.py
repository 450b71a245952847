"""A run's attempts as a server-rendered SVG Gantt chart.

Pure: takes the ``runs/get`` dict (``start_time`` and ``tasks[].attempts[]`` with
``start_time``/``end_time`` in epoch milliseconds, 0 for "not yet") and returns SVG text
for the page to embed as is. One row per task; per attempt a bar coloured by its state
(CSS classes ``bar <STATE>`` in ``podium.css``, section ``/* gantt */``), with the state
also as text in the bar's ``<title>`` and as a glyph after it, so colour is never the only
carrier. The time a task waited before its first attempt (from when it could start: the
run's start, or its last upstream's end) and between retries is drawn as a lighter
``bar wait``. Running attempts reach ``now_ms``. All text is escaped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["gantt_svg"]

# Geometry in viewBox units; the SVG scales to its container's width.
_WIDTH = 1000
_LABEL_W = 190  # task keys, right-aligned, left of the chart
_RIGHT_PAD = 30  # room for the last tick label and a glyph
_AXIS_H = 26
_ROW_H = 24
_BAR_H = 14
_MIN_BAR = 2.0  # a sub-second attempt stays visible
_KEY_CHARS = 26  # longer keys are shortened in the label, whole in its <title>

_STATE_RE = re.compile(r"[A-Z_]{1,40}")
_GLYPHS = {
    "SUCCESS": "✓", "SUCCESS_WITH_FAILURES": "✓", "FAILED": "✗", "TIMEDOUT": "✗",
    "INTERNAL_ERROR": "✗", "CANCELED": "⊘", "RUNNING": "…", "TERMINATING": "…",
}
# Nice tick steps, in seconds.
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
          43200, 86400)


def _state_of(obj: dict[str, Any]) -> str:
    state = obj.get("state") or {}
    name = str(state.get("result_state") or state.get("life_cycle_state") or "UNKNOWN")
    return name if _STATE_RE.fullmatch(name) else "UNKNOWN"


def _ms(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _rel(ms: float) -> str:
    """A relative time for the axis and tooltips: ``0s``, ``45s``, ``2m30s``, ``1h05m``."""
    s = round(ms / 1000)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m" if s % 3600 else f"{s // 3600}h"


def _duration(ms: int) -> str:
    return f"{ms / 1000:.1f}s" if ms < 60_000 else _rel(ms)


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _step(span_ms: int) -> int:
    """The tick step in ms giving at most 6 intervals over ``span_ms``."""
    for step in _STEPS:
        if span_ms / (step * 1000) <= 6:
            return step * 1000
    return _STEPS[-1] * 1000 * (span_ms // (_STEPS[-1] * 1000 * 6) + 1)


def _empty(message: str) -> str:
    text = escape(message)
    return (
        f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} 40" '
        f'width="100%" role="img" aria-label="{text}">'
        f'<text class="empty" x="{_WIDTH // 2}" y="25" text-anchor="middle">{text}</text></svg>'
    )


def gantt_svg(run: dict[str, Any], now_ms: int | None = None,
              critical: frozenset[str] = frozenset()) -> str:
    """The SVG Gantt chart of ``run``'s attempts (a ``runs/get`` dict with ``tasks``).

    ``now_ms`` is where running attempts (``end_time`` 0) end; by default the latest
    start or end time in the run. The rows of the tasks in ``critical`` (the run's
    critical path) are marked. A run with no attempts yet gives a small SVG saying so.
    """
    tasks: list[dict[str, Any]] = list(run.get("tasks") or [])
    attempts = {str(t.get("task_key", "")): [a for a in t.get("attempts") or []
                                              if _ms(a.get("start_time"))] for t in tasks}
    times = [_ms(a.get(f)) for atts in attempts.values() for a in atts
             for f in ("start_time", "end_time")]
    times = [t for t in times if t]
    if not times:
        return _empty("no attempts yet")
    now = now_ms if now_ms is not None else max(times)
    t0 = _ms(run.get("start_time")) or min(times)
    t0 = min(t0, *times)
    span = max(now, *times) - t0
    span = max(span, 1000)
    chart_w = _WIDTH - _LABEL_W - _RIGHT_PAD

    def x(ms: int) -> float:
        return round(_LABEL_W + (ms - t0) / span * chart_w, 1)

    # When each task's last attempt ended, for the wait before its dependents started.
    ended = {key: _ms(atts[-1].get("end_time")) for key, atts in attempts.items() if atts}
    height = _AXIS_H + _ROW_H * len(tasks) + 6
    label = f"Timeline of the attempts of run {run.get('run_id', '')}".strip()
    out = [
        f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}"'
        f' width="100%" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        '<g class="axis">',
    ]
    step = _step(span)
    tick = 0
    while tick <= span:
        tx = x(t0 + tick)
        out.append(f'<line class="tick" x1="{tx}" y1="{_AXIS_H - 4}" x2="{tx}" y2="{height}"/>')
        out.append(f'<text x="{tx}" y="{_AXIS_H - 9}" text-anchor="middle">{_rel(tick)}</text>')
        tick += step
    out.append("</g>")
    for row, task in enumerate(tasks):
        key = str(task.get("task_key", ""))
        y = _AXIS_H + row * _ROW_H
        bar_y = y + (_ROW_H - _BAR_H) / 2
        mid = y + _ROW_H / 2 + 4
        shown = key if len(key) <= _KEY_CHARS else key[: _KEY_CHARS - 1] + "…"
        on_path = key in critical
        out.append(f'<g class="row{" critical" if on_path else ""}" data-task="{escape(key)}">')
        if on_path:  # a band behind the row, and a marker that is not only colour
            out.append(f'<rect class="band" x="0" y="{y}" width="{_WIDTH}" height="{_ROW_H}"/>')
            shown = "◆ " + shown
        note = " (on the critical path)" if on_path else ""
        out.append(f'<text class="key" x="{_LABEL_W - 8}" y="{mid}" text-anchor="end">'
                   f"<title>{escape(key)}{note}</title>{escape(shown)}</text>")
        atts = attempts[key]
        if not atts:
            out.append(f'<text class="note" x="{_LABEL_W + 4}" y="{mid}">'
                       f"{escape(_state_of(task).lower().replace('_', ' '))}</text></g>")
            continue
        ups = [ended.get(str(d.get("task_key", "")), 0) for d in task.get("depends_on") or []]
        ready = max([t0, *ups])
        prev_end = ready
        for i, att in enumerate(atts):
            start = _ms(att.get("start_time"))
            end = _ms(att.get("end_time")) or max(now, start)
            state = _state_of(att)
            number = att.get("attempt_number", i)
            if start > prev_end:
                what = "queued" if i == 0 else "waiting for retry"
                out.append(
                    f'<rect class="bar wait" x="{x(prev_end)}" y="{bar_y + 3}" '
                    f'width="{max(x(start) - x(prev_end), 0.5)}" height="{_BAR_H - 6}">'
                    f"<title>{escape(key)}: {what} {_duration(start - prev_end)}</title></rect>"
                )
            running = not _ms(att.get("end_time"))
            tip = (f"{key} · attempt {number} · {state} · {_duration(end - start)}"
                   f"{' so far' if running else ''}\nstarted +{_rel(start - t0)} "
                   f"({_clock(start)})\n"
                   + ("still running" if running else f"ended +{_rel(end - t0)} ({_clock(end)})"))
            bx = x(start)
            bw = max(x(end) - bx, _MIN_BAR)
            out.append(
                f'<rect class="bar {state}" x="{bx}" y="{bar_y}" width="{round(bw, 1)}" '
                f'height="{_BAR_H}" rx="2" data-attempt="{escape(str(number))}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            glyph = _GLYPHS.get(state)
            if glyph:
                out.append(f'<text class="glyph {state}" x="{round(bx + bw + 2, 1)}" '
                           f'y="{mid}" aria-hidden="true">{glyph}</text>')
            prev_end = end
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
