"""The statistics of ``drift_check_task``: the population stability index (PSI) and the
Kolmogorov-Smirnov / chi-square tests, column by column, over values already in memory.

Pure functions of numpy arrays (no files, no databases) so that they are tested on
hand-computed examples; ``podium.runners.drift`` reads the data and calls ``compare``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Kind = Literal["numeric", "categorical"]

# A bin that one side leaves empty would make PSI infinite (ln 0). Its share is raised to
# EPSILON instead, without renormalising: 1e-4 is the usual choice (one row in 10,000)
# and adds at most about 0.001 per empty bin to the index.
EPSILON = 1e-4


class DriftError(ValueError):
    """The datasets cannot be compared (a column missing on one side, a type mismatch)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column's values, nulls removed (``nulls`` counts them)."""

    kind: Kind
    values: npt.NDArray[Any]
    nulls: int = 0


@dataclass
class ColumnReport:
    """The verdict on one column; ``p_value`` is the KS test's (numeric) or the
    chi-square test's (categorical, reported only: PSI alone decides)."""

    column: str
    kind: Kind
    psi: float
    p_value: float
    test: Literal["ks", "chi2"]
    drifted: bool
    reason: str
    rows_current: int
    rows_reference: int
    nulls_current: int = 0
    nulls_reference: int = 0
    ks_statistic: float | None = None


@dataclass
class DriftReport:
    """What ``compare`` found; ``values()`` are the task values."""

    columns: list[ColumnReport] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def max_psi(self) -> float:
        return max((c.psi for c in self.columns), default=0.0)

    def output(self) -> dict[str, Any]:
        """The per-column part of ``drift_output``."""
        return {
            "drift_detected": bool(self.drifted_columns),
            "max_psi": round(self.max_psi, 6),
            "drifted_columns": self.drifted_columns,
            "columns": [asdict(c) for c in self.columns],
            "skipped_columns": self.skipped,
        }


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """The population stability index of two distributions over the same bins.

    ``sum((c - r) * ln(c / r))`` over the bins, each share floored at EPSILON.

    Args:
        reference: each bin's share of the reference rows (summing to 1).
        current: each bin's share of the current rows, in the same order.
    """
    total = 0.0
    for r, c in zip(reference, current, strict=True):
        r, c = max(float(r), EPSILON), max(float(c), EPSILON)
        total += (c - r) * math.log(c / r)
    return total


def quantile_edges(reference: npt.NDArray[Any], bins: int) -> npt.NDArray[np.float64]:
    """The inner edges of ``bins`` equal-frequency bins of ``reference``; repeated edges
    (a column with few distinct values) are merged, so there may be fewer bins."""
    inner = np.quantile(reference.astype(np.float64), np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def shares(values: npt.NDArray[Any], edges: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each bin's share of ``values``: bins are (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    index = np.searchsorted(edges, values.astype(np.float64), side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def numeric_drift(reference: npt.NDArray[Any], current: npt.NDArray[Any],
                  bins: int) -> tuple[float, float, float]:
    """``(psi, ks_statistic, ks_p_value)`` of a numeric column (both sides non-empty)."""
    from scipy.stats import ks_2samp  # type: ignore[import-untyped]  # scipy has no stubs

    edges = quantile_edges(reference, bins)
    index = psi(shares(reference, edges).tolist(), shares(current, edges).tolist())
    with warnings.catch_warnings():
        # scipy warns when it falls back from the exact to the asymptotic p-value: the
        # fallback is what we want for large samples, not a problem to report.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = ks_2samp(reference.astype(np.float64), current.astype(np.float64))
    return index, float(result.statistic), float(result.pvalue)


def categorical_drift(reference: npt.NDArray[Any],
                      current: npt.NDArray[Any]) -> tuple[float, float]:
    """``(psi, chi2_p_value)`` of a categorical column: one bin per category seen on
    either side (a category new in the current data is an empty reference bin)."""
    from scipy.stats import chi2_contingency

    ref_found, cur_found = _tally(reference), _tally(current)
    categories = sorted(ref_found.keys() | cur_found.keys(), key=str)
    ref_counts = np.array([ref_found.get(c, 0) for c in categories], dtype=np.float64)
    cur_counts = np.array([cur_found.get(c, 0) for c in categories], dtype=np.float64)
    index = psi((ref_counts / len(reference)).tolist(), (cur_counts / len(current)).tolist())
    if len(categories) < 2:  # one category on both sides: nothing can differ
        return index, 1.0
    p_value = chi2_contingency(np.vstack([ref_counts, cur_counts])).pvalue
    return index, float(p_value)


def _tally(values: npt.NDArray[Any]) -> dict[Any, int]:
    """Category -> its number of rows (a Counter: faster than np.unique, which sorts
    Python strings one comparison at a time)."""
    return dict(Counter(values.tolist()))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a column counts as drifted (see ``DriftCheckTask``)."""

    psi_threshold: float = 0.2
    ks_p_value: float = 0.05
    bins: int = 10


def compare_column(name: str, reference: Column, current: Column,
                   limits: Thresholds) -> ColumnReport:
    """The report on one column present on both sides with the same kind.

    Raises:
        DriftError: the column is numeric on one side and categorical on the other.
    """
    if reference.kind != current.kind:
        raise DriftError(f"column {name!r} is {reference.kind} in the reference but "
                         f"{current.kind} in the current data; cast one side to match")
    sizes = {"rows_current": len(current.values), "rows_reference": len(reference.values),
             "nulls_current": current.nulls, "nulls_reference": reference.nulls}
    test: Literal["ks", "chi2"] = "ks" if current.kind == "numeric" else "chi2"
    if not len(reference.values) or not len(current.values):
        empty = "reference" if not len(reference.values) else "current data"
        return ColumnReport(name, current.kind, 0.0, 1.0, test, True,
                            f"no values in the {empty}", **sizes)
    statistic: float | None = None
    if current.kind == "numeric":
        index, statistic, p_value = numeric_drift(reference.values, current.values, limits.bins)
    else:
        index, p_value = categorical_drift(reference.values, current.values)
    reasons = []
    if index >= limits.psi_threshold:
        reasons.append(f"PSI {index:.3f} >= {limits.psi_threshold:g}")
    if test == "ks" and p_value < limits.ks_p_value:
        reasons.append(f"KS p-value {p_value:.3g} < {limits.ks_p_value:g}")
    return ColumnReport(name, current.kind, round(index, 6), p_value, test, bool(reasons),
                        "; ".join(reasons), ks_statistic=statistic, **sizes)


def compare(reference: Mapping[str, Column | str], current: Mapping[str, Column | str],
            columns: Sequence[str], limits: Thresholds) -> DriftReport:
    """Compare two datasets column by column.

    Args:
        reference: column name -> its values, or a string saying why it cannot be
            compared (an unsupported type such as a timestamp).
        current: the same for the current data.
        columns: the columns to compare; empty: every comparable column on both sides.
        limits: the thresholds.

    Raises:
        DriftError: a named column is missing or not comparable, or nothing is left to
            compare.
    """
    report = DriftReport()
    if columns:
        for name in columns:
            for side, data in (("current data", current), ("reference", reference)):
                if name not in data:
                    raise DriftError(f"column {name!r} is not in the {side}; its columns: "
                                     f"{', '.join(data) or '(none)'}")
                if isinstance(data[name], str):
                    raise DriftError(f"column {name!r} of the {side} cannot be compared: "
                                     f"{data[name]}; leave it out of columns")
        chosen = list(columns)
    else:
        chosen = []
        for name in current:
            why = _why_skipped(name, reference, current)
            if why:
                report.skipped.append({"column": name, "reason": why})
            else:
                chosen.append(name)
        report.skipped += [{"column": name, "reason": "only in the reference"}
                           for name in reference if name not in current]
    if not chosen:
        raise DriftError("no column to compare: the two datasets share no numeric or text "
                         "column")
    for name in chosen:
        ref, cur = reference[name], current[name]
        assert isinstance(ref, Column) and isinstance(cur, Column)
        report.columns.append(compare_column(name, ref, cur, limits))
    return report


def _why_skipped(name: str, reference: Mapping[str, Column | str],
                 current: Mapping[str, Column | str]) -> str:
    """Why a column is left out of a comparison over every column ("" if it is not)."""
    if name not in reference:
        return "only in the current data"
    for data in (current, reference):
        if isinstance(data[name], str):
            return str(data[name])
    return ""
