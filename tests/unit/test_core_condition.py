"""Tests for podium.core.condition: numbers compare as numbers, anything else as text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.core.condition import evaluate_condition
from podium.spec import ConditionOp

Op = ConditionOp
ALL_OPS = list(ConditionOp)

# (left, right) -> the result of every op, in ConditionOp order:
#  EQUAL_TO NOT_EQUAL GREATER_THAN GREATER_THAN_OR_EQUAL LESS_THAN LESS_THAN_OR_EQUAL
TABLE: dict[tuple[str, str], tuple[bool, bool, bool, bool, bool, bool]] = {
    # numbers: numerically, where text order would disagree
    ("10", "9"): (False, True, True, True, False, False),
    ("9", "10"): (False, True, False, False, True, True),
    ("-2", "1"): (False, True, False, False, True, True),
    ("1.0", "1"): (True, False, False, True, False, True),
    ("1e3", "1000"): (True, False, False, True, False, True),
    ("0.1", ".1"): (True, False, False, True, False, True),
    ("2.5", "2.25"): (False, True, True, True, False, False),
    ("7", "7"): (True, False, False, True, False, True),
    # text: compared as strings
    ("apple", "banana"): (False, True, False, False, True, True),
    ("b", "a"): (False, True, True, True, False, False),
    ("abc", "abc"): (True, False, False, True, False, True),
    ("A", "a"): (False, True, False, False, True, True),  # case-sensitive
    ("true", "true"): (True, False, False, True, False, True),
    ("true", "false"): (False, True, True, True, False, False),
    ("", ""): (True, False, False, True, False, True),
    # one side a number, the other not: both as text, so "10" < "9x"
    ("10", "9x"): (False, True, False, False, True, True),
    ("10", ""): (False, True, True, True, False, False),
    ("1,000", "999"): (False, True, False, False, True, True),
}

assert ALL_OPS == [Op.EQUAL_TO, Op.NOT_EQUAL, Op.GREATER_THAN, Op.GREATER_THAN_OR_EQUAL,
                   Op.LESS_THAN, Op.LESS_THAN_OR_EQUAL]


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        pytest.param(op, left, right, result, id=f"{left!r}-{op.value}-{right!r}")
        for (left, right), results in TABLE.items()
        for op, result in zip(ALL_OPS, results, strict=True)
    ],
)
def test_condition_table(op: ConditionOp, left: str, right: str, expected: bool) -> None:
    assert evaluate_condition(op, left, right) is expected


def test_ten_is_greater_than_nine() -> None:
    assert evaluate_condition(Op.GREATER_THAN, "10", "9")
    assert not evaluate_condition(Op.GREATER_THAN, "10", "9a")  # text: "1" < "9"


def test_identical_text_is_always_equal() -> None:
    # float("nan") != float("nan"), but the condition compares what the user wrote
    assert evaluate_condition(Op.EQUAL_TO, "nan", "nan")
    assert not evaluate_condition(Op.NOT_EQUAL, "NaN", "NaN")


@given(st.integers(-10**12, 10**12), st.integers(-10**12, 10**12))
def test_integers_compare_numerically(a: int, b: int) -> None:
    left, right = str(a), str(b)
    assert evaluate_condition(Op.EQUAL_TO, left, right) is (a == b)
    assert evaluate_condition(Op.NOT_EQUAL, left, right) is (a != b)
    assert evaluate_condition(Op.GREATER_THAN, left, right) is (a > b)
    assert evaluate_condition(Op.GREATER_THAN_OR_EQUAL, left, right) is (a >= b)
    assert evaluate_condition(Op.LESS_THAN, left, right) is (a < b)
    assert evaluate_condition(Op.LESS_THAN_OR_EQUAL, left, right) is (a <= b)


@given(st.text(st.characters(categories=["Ll", "Lu"]), min_size=1),
       st.text(st.characters(categories=["Ll", "Lu"]), min_size=1))
def test_words_compare_as_text(a: str, b: str) -> None:
    assert evaluate_condition(Op.EQUAL_TO, a, b) is (a == b)
    assert evaluate_condition(Op.NOT_EQUAL, a, b) is (a != b)
    assert evaluate_condition(Op.GREATER_THAN, a, b) is (a > b)
    assert evaluate_condition(Op.GREATER_THAN_OR_EQUAL, a, b) is (a >= b)
    assert evaluate_condition(Op.LESS_THAN, a, b) is (a < b)
    assert evaluate_condition(Op.LESS_THAN_OR_EQUAL, a, b) is (a <= b)


@given(st.text(), st.text())
def test_ops_are_consistent(a: str, b: str) -> None:
    eq = evaluate_condition(Op.EQUAL_TO, a, b)
    gt = evaluate_condition(Op.GREATER_THAN, a, b)
    lt = evaluate_condition(Op.LESS_THAN, a, b)
    assert evaluate_condition(Op.NOT_EQUAL, a, b) is not eq
    assert evaluate_condition(Op.GREATER_THAN_OR_EQUAL, a, b) is (gt or eq)
    assert evaluate_condition(Op.LESS_THAN_OR_EQUAL, a, b) is (lt or eq)
    assert evaluate_condition(Op.LESS_THAN, b, a) is gt
    assert sum([eq, gt, lt]) == 1
    if a == b:
        assert eq
