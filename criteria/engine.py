"""The scoring engine (SPEC §2 "Score", §6 "Gap" and "Numbers"): pure and exact.

Values, targets, weights and attainments are exact rationals (an int when whole, else a
Fraction), so no float decides a pass; only the numbers shown are rounded (`criteria.rounding`).
Each document is compiled once into a `ScoringPlan` (exact targets and weights, the results
that never vary) and cached.
"""

from __future__ import annotations

import math
import operator
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import MAX_PREC, Context, Decimal
from enum import Enum
from fractions import Fraction
from typing import Literal, NamedTuple

from criteria.rounding import (
    Exact,
    round_half_up,
    shown_attainment,
    shown_ratio_percent,
    shown_score,
)
from criteria.schema import CriteriaDocument, Criterion, Indicator

__all__ = [
    "Gap",
    "IndicatorResult",
    "Op",
    "ScoringPlan",
    "VillageScore",
    "plan_for",
    "round_half_up",
    "score",
]

Value = int | bool | Decimal
Status = Literal["met", "not_met", "incomplete"]


class Op(Enum):
    """A target's comparison: the value must be at least, at most or equal to the target."""

    AT_LEAST = ">="
    AT_MOST = "<="
    EQUAL_TO = "=="


PASSES: dict[Op, Callable[[Exact, Exact], bool]] = {
    Op.AT_LEAST: operator.ge,
    Op.AT_MOST: operator.le,
    Op.EQUAL_TO: operator.eq,
}
NOTHING = 0
FULL = 1
SHOWN_NOTHING = shown_attainment(NOTHING)
SHOWN_FULL = shown_attainment(FULL)
# The gap of a `number` measure is an exact Decimal difference, never rounded to 28 digits.
EXACT_DECIMAL = Context(prec=MAX_PREC)
MAX_CACHED_PLANS = 64


@dataclass(frozen=True, slots=True)
class Gap:
    """What would make an indicator pass: `amount` more (or fewer) of `measure`.

    `amount` is None when the value itself must change (a boolean or an `==` target).
    """

    measure: str
    amount: Decimal | int | None


# A NamedTuple, not a frozen dataclass: about 13 are built per village, and a frozen
# dataclass's per-field `object.__setattr__` made scoring 76 instead of 63 µs per village.
class IndicatorResult(NamedTuple):
    """The outcome of one indicator for one village-period (SPEC §2 Score, §6 Gap)."""

    code: str
    criterion: str
    kind: str
    value: Decimal | int | bool | None
    target_op: str
    target_value: Decimal | int | bool
    passed: bool | None
    applicable: bool
    mandatory: bool
    attainment: Decimal | None
    gap: Gap | None
    weight: Decimal


@dataclass(frozen=True, slots=True)
class VillageScore:
    """A village's status, its score 0-100 (one decimal) and every indicator's result."""

    status: Status
    score: Decimal
    indicators: list[IndicatorResult]


# An indicator's result and its exact attainment; None when it is not applicable.
Outcome = tuple[IndicatorResult, Exact | None]


# Whole numbers stay ints: a village's score then adds ints for its 0/1 attainments and whole
# weights, not Fractions, which halved the time per village (132 → 62 µs, bench_engine.py).
def exact(value: int | Decimal) -> Exact:
    """`value` as an exact rational: an int when it is whole, else a Fraction."""
    if isinstance(value, int):
        return value
    fraction = Fraction(value)
    return fraction.numerator if fraction.denominator == 1 else fraction


def partial_attainment(op: Op, value: Exact, target: Exact) -> Exact:
    """The attainment of a value that misses its target (SPEC §2): value / target for `>=`,
    target / value for `<=`, 0 for `==` or when the ratio would not lie between 0 and 1.
    (A ratio passes both multiplied by its positive whole: the quotient is the same.)"""
    if op is Op.AT_LEAST and value > 0 and target > 0:
        return Fraction(value, target)
    if op is Op.AT_MOST and target >= 0:
        return Fraction(target, value)  # value > target >= 0
    return NOTHING


def ceiling_division(dividend: Exact, divisor: int) -> int:
    """The smallest whole number at least dividend / divisor (divisor > 0), exactly."""
    return -(-dividend // divisor)


class IndicatorPlan(ABC):
    """One indicator ready to score: its exact target and weight, and its result when a
    measure is missing (the same every time)."""

    def __init__(self, criterion: Criterion, indicator: Indicator) -> None:
        self.criterion = criterion.code
        self.indicator = indicator
        self.op = Op(indicator.target.op)
        self.passes = PASSES[self.op]
        self.target = exact(indicator.target.value)
        self.weight = exact(indicator.weight)
        self.missing = self.result(None, passed=False, attainment=SHOWN_NOTHING, gap=None)

    def result(
        self,
        value: Value | None,
        *,
        passed: bool | None,
        attainment: Decimal | None,
        gap: Gap | None,
        applicable: bool = True,
    ) -> IndicatorResult:
        """This indicator's result for one village-period."""
        indicator = self.indicator
        return IndicatorResult(
            code=indicator.code,
            criterion=self.criterion,
            kind=indicator.kind,
            value=value,
            target_op=indicator.target.op,
            target_value=indicator.target.value,
            passed=passed,
            applicable=applicable,
            mandatory=indicator.mandatory,
            attainment=attainment,
            gap=gap,
            weight=indicator.weight,
        )

    def passed(self, value: Value) -> Outcome:
        """The outcome of a value that meets the target."""
        return self.result(value, passed=True, attainment=SHOWN_FULL, gap=None), FULL

    def missed(self, value: Value, attainment: Exact, gap: Gap) -> Outcome:
        """The outcome of a value that misses the target."""
        shown = shown_attainment(attainment)
        return self.result(value, passed=False, attainment=shown, gap=gap), attainment

    @abstractmethod
    def evaluate(self, values: Mapping[str, Value]) -> Outcome:
        """Score this indicator against one village-period's values."""


class RatioPlan(IndicatorPlan):
    """numerator / denominator in percent; a denominator of 0 makes it not applicable."""

    def __init__(self, criterion: Criterion, indicator: Indicator) -> None:
        super().__init__(criterion, indicator)
        self.numerator = str(indicator.numerator)
        self.denominator = str(indicator.denominator)
        self.not_applicable = self.result(
            None, passed=None, attainment=None, gap=None, applicable=False
        )

    def evaluate(self, values: Mapping[str, Value]) -> Outcome:
        """Score this indicator against one village-period's values."""
        numerator, denominator = values.get(self.numerator), values.get(self.denominator)
        if denominator == 0:
            return self.not_applicable, None
        if numerator is None or denominator is None:
            return self.missing, NOTHING
        part, whole = exact(numerator), exact(denominator)
        # percent = 100 × part / whole; over the positive |whole|, "percent op target" reads
        # "hundred_parts op target_parts" in whole numbers, no Fraction: a village took
        # 80 instead of 103 µs (bench_engine.py, on the shared two-core box)
        positive_whole = whole if whole > 0 else -whole
        hundred_parts = 100 * part if whole > 0 else -100 * part
        target_parts = self.target * positive_whole
        shown = shown_ratio_percent(hundred_parts, positive_whole)
        if self.passes(hundred_parts, target_parts):
            return self.passed(shown)
        attainment = partial_attainment(self.op, hundred_parts, target_parts)
        return self.missed(shown, attainment, self.gap(part, whole))

    def gap(self, part: Exact, whole: Exact) -> Gap:
        """The whole numerator units to add (`>=`) or remove (`<=`); None for `==`."""
        if self.op is Op.EQUAL_TO:
            return Gap(self.numerator, None)
        # numerator units short of the target, times 100: target % of the whole, less the part
        shortfall = self.target * whole - 100 * part
        if self.op is Op.AT_MOST:
            shortfall = -shortfall
        return Gap(self.numerator, ceiling_division(shortfall, 100))


class ValuePlan(IndicatorPlan):
    """One `integer` or `number` measure against its target."""

    def __init__(self, criterion: Criterion, indicator: Indicator, measure_type: str) -> None:
        super().__init__(criterion, indicator)
        self.measure = str(indicator.measure)
        self.is_number = measure_type == "number"

    def evaluate(self, values: Mapping[str, Value]) -> Outcome:
        """Score this indicator against one village-period's values."""
        reported = values.get(self.measure)
        if reported is None:
            return self.missing, NOTHING
        value = exact(reported)
        if self.passes(value, self.target):
            return self.passed(reported)
        attainment = partial_attainment(self.op, value, self.target)
        return self.missed(reported, attainment, self.gap(reported, value))

    def gap(self, reported: Value, value: Exact) -> Gap:
        """Whole units to add or remove, the exact difference for a `number`, None for `==`."""
        if self.op is Op.EQUAL_TO:
            return Gap(self.measure, None)
        if self.is_number:
            target, have = Decimal(self.indicator.target.value), Decimal(reported)
            if self.op is Op.AT_LEAST:
                return Gap(self.measure, EXACT_DECIMAL.subtract(target, have))
            return Gap(self.measure, EXACT_DECIMAL.subtract(have, target))
        shortfall = self.target - value if self.op is Op.AT_LEAST else value - self.target
        return Gap(self.measure, math.ceil(shortfall))


class BooleanPlan(IndicatorPlan):
    """A yes/no measure against a true/false target (`==`): its results are built once."""

    def __init__(self, criterion: Criterion, indicator: Indicator) -> None:
        super().__init__(criterion, indicator)
        self.measure = str(indicator.measure)
        self.outcomes = {answer: self.answered(answer) for answer in (True, False)}

    def answered(self, answer: bool) -> Outcome:
        """The outcome when the village answers `answer`."""
        if answer == self.indicator.target.value:
            return self.passed(answer)
        return self.missed(answer, NOTHING, Gap(self.measure, None))

    def evaluate(self, values: Mapping[str, Value]) -> Outcome:
        """Score this indicator against one village-period's values."""
        reported = values.get(self.measure)
        if reported is None:
            return self.missing, NOTHING
        return self.outcomes[bool(reported)]


class ScoringPlan:
    """A criteria document compiled for scoring: one plan per indicator, in document order."""

    def __init__(self, document: CriteriaDocument) -> None:
        self.document = document
        measure_types = {measure.code: measure.type for measure in document.measures}
        self.indicators = tuple(
            _indicator_plan(criterion, indicator, measure_types)
            for criterion, indicator in document.indicators()
        )

    def score(self, values: Mapping[str, Value]) -> VillageScore:
        """Score one village-period's values (see `score`)."""
        results: list[IndicatorResult] = []
        total_weight: Exact = 0  # Σ weight over the applicable indicators
        full_weight: Exact = 0  # Σ weight over those fully attained
        partly_attained: list[Exact] = []  # weight × attainment of the others
        for plan in self.indicators:
            result, attainment = plan.evaluate(values)
            results.append(result)
            if attainment is None:
                continue
            total_weight += plan.weight
            if attainment == FULL:
                full_weight += plan.weight
            elif attainment != NOTHING:
                partly_attained.append(plan.weight * attainment)
        if total_weight == 0:
            return VillageScore(_status(results), shown_score(NOTHING), results)
        attained = sum(partly_attained, start=full_weight)
        exact_score = Fraction(100 * attained, total_weight)
        return VillageScore(_status(results), shown_score(exact_score), results)


def _indicator_plan(
    criterion: Criterion, indicator: Indicator, measure_types: Mapping[str, str]
) -> IndicatorPlan:
    """The plan that fits the indicator's kind and its measure's type."""
    if indicator.kind == "ratio":
        return RatioPlan(criterion, indicator)
    measure_type = measure_types[str(indicator.measure)]
    if measure_type == "boolean":
        return BooleanPlan(criterion, indicator)
    return ValuePlan(criterion, indicator, measure_type)


def _status(results: list[IndicatorResult]) -> Status:
    """`incomplete` when a mandatory indicator lacks a measure, `not_met` when one misses its
    target, else `met`; an indicator that is not applicable blocks nothing."""
    blocking = [r for r in results if r.mandatory and r.applicable and not r.passed]
    if any(r.value is None for r in blocking):
        return "incomplete"
    return "not_met" if blocking else "met"


_PLANS: dict[int, ScoringPlan] = {}
_PLANS_LOCK = threading.Lock()


def plan_for(document: CriteriaDocument) -> ScoringPlan:
    """The compiled plan of `document`, cached by the document's identity (documents are
    immutable). A cached plan holds its document, so no other object can take that id."""
    with _PLANS_LOCK:
        plan = _PLANS.get(id(document))
        if plan is None:
            if len(_PLANS) >= MAX_CACHED_PLANS:
                del _PLANS[next(iter(_PLANS))]  # the oldest
            plan = _PLANS[id(document)] = ScoringPlan(document)
    return plan


def score(doc: CriteriaDocument, values: Mapping[str, Value]) -> VillageScore:
    """Score one village-period: per-indicator results, the weighted score and the status.

    `values` should be the output of `validate_values` (missing measures simply absent).
    """
    return plan_for(doc).score(values)
