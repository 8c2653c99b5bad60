"""The scoring engine: exact, pure functions of a criteria document and reported values.

Comparisons use integer arithmetic on exact fractions (a value a/b against a target p/q),
so no float ever decides a pass. Per-document indicator plans are compiled once and cached.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import MAX_PREC, Context, Decimal
from fractions import Fraction
from typing import Literal

from criteria.schema import CriteriaDocument, Criterion, Indicator

__all__ = ["Gap", "IndicatorResult", "VillageScore", "round_half_up", "score"]

Value = int | bool | Decimal
_GE, _LE, _EQ = 0, 1, 2
_OPS = {">=": _GE, "<=": _LE, "==": _EQ}
_EXACT = Context(prec=MAX_PREC)
_ONE = Decimal("1.0000")
_ZERO = Decimal("0.0000")
_NO_SCORE = Decimal("0.0")
_CACHE_SIZE = 32
# Rounded Decimals 0 ... 10000 units of the last place (percentages to 2 places and
# attainments to 4 places all fall here) are immutable, so they are built once and reused.
_MEMO_MAX = 10_000
_MEMO: tuple[dict[int, Decimal], ...] = tuple({} for _ in range(5))
_new = object.__new__
_setattr = object.__setattr__


@dataclass(frozen=True, slots=True)
class Gap:
    """What would make an indicator pass: `amount` more (or fewer) of `measure`.

    `amount` is None when the value itself must change (a boolean or an `==` target).
    """

    measure: str
    amount: Decimal | int | None


@dataclass(frozen=True)
class IndicatorResult:
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

    status: Literal["met", "not_met", "incomplete"]
    score: Decimal
    indicators: list[IndicatorResult]


def round_half_up(x: Fraction, places: int) -> Decimal:
    """Round `x` exactly to `places` decimals, halves away from zero."""
    return _round_pair(x.numerator, x.denominator, places)


def _round_pair(n: int, d: int, places: int) -> Decimal:
    """Round n/d (d > 0) half away from zero to `places` (>= 0) decimals."""
    q, r = divmod(abs(n) * 10**places, d)
    if 2 * r >= d:
        q += 1
    if n < 0 and q:
        return Decimal(f"-{q}E-{places}")
    if q > _MEMO_MAX or places >= len(_MEMO):
        return Decimal(f"{q}E-{places}")
    memo = _MEMO[places]
    hit = memo.get(q)
    if hit is None:
        hit = memo[q] = Decimal(f"{q}E-{places}")
    return hit


def _ceil_div(n: int, d: int) -> int:
    return -(-n // d)


def _pair(v: Value) -> tuple[int, int]:
    """Return v as an exact fraction (numerator, positive denominator)."""
    return (v, 1) if type(v) is int else v.as_integer_ratio()


def _judge(op: int, a: int, b: int, p: int, q: int) -> tuple[bool, int, int]:
    """Compare a/b with the target p/q (b, q > 0): (passed, attainment as n, d)."""
    if op == _GE:
        if a * q >= p * b:
            return True, 1, 1
        return (False, a * q, b * p) if p > 0 and a > 0 else (False, 0, 1)
    if op == _LE:
        if a * q <= p * b:
            return True, 1, 1
        return (False, p * b, q * a) if p >= 0 else (False, 0, 1)
    return (True, 1, 1) if a * q == p * b else (False, 0, 1)


def _attainment(passed: bool, n: int, d: int) -> Decimal:
    if passed:
        return _ONE
    return _ZERO if n == 0 else _round_pair(n, d, 4)


class _Plan:
    """One indicator, pre-digested: codes, op, target as p/q, weight, canned results."""

    __slots__ = (
        "code", "criterion", "kind", "mandatory", "missing", "op", "p", "q", "target",
        "target_op", "w", "weight",
    )  # fmt: skip

    def __init__(self, crit: Criterion, ind: Indicator) -> None:
        self.code, self.criterion, self.kind = ind.code, crit.code, ind.kind
        self.mandatory, self.weight = ind.mandatory, ind.weight
        self.target_op, self.target = ind.target.op, ind.target.value
        self.op = _OPS[ind.target.op]
        self.p, self.q = (0, 1) if isinstance(self.target, bool) else _pair(self.target)
        self.w = 0
        self.missing = self.result(None, False, _ZERO, None, applicable=True)

    def result(
        self,
        value: Value | None,
        passed: bool | None,
        attainment: Decimal | None,
        gap: Gap | None,
        applicable: bool = True,
    ) -> IndicatorResult:
        """Build a result; equal to IndicatorResult(...) but about 3x faster.

        The frozen dataclass gets its whole `__dict__` at once instead of twelve
        `object.__setattr__` calls (this runs 19 times per village in bulk rescoring).
        """
        res = _new(IndicatorResult)
        _setattr(res, "__dict__", {
            "code": self.code, "criterion": self.criterion, "kind": self.kind, "value": value,
            "target_op": self.target_op, "target_value": self.target, "passed": passed,
            "applicable": applicable, "mandatory": self.mandatory, "attainment": attainment,
            "gap": gap, "weight": self.weight,
        })  # fmt: skip
        return res

    def evaluate(self, values: Mapping[str, Value]) -> tuple[IndicatorResult, int, int]:
        """Return the result and the exact attainment n/d (d == 0: not applicable)."""
        raise NotImplementedError


class _RatioPlan(_Plan):
    __slots__ = ("den", "na", "num")

    def __init__(self, crit: Criterion, ind: Indicator) -> None:
        super().__init__(crit, ind)
        self.num, self.den = str(ind.numerator), str(ind.denominator)
        self.na = self.result(None, None, None, None, applicable=False)

    def evaluate(self, values: Mapping[str, Value]) -> tuple[IndicatorResult, int, int]:
        den, num = values.get(self.den), values.get(self.num)
        if den is None:
            return self.missing, 0, 1
        if den == 0:
            return self.na, 0, 0
        if num is None:
            return self.missing, 0, 1
        if type(num) is int and type(den) is int:
            nn, nd, dn, dd = num, 1, den, 1
        else:
            (nn, nd), (dn, dd) = _pair(num), _pair(den)
        a, b = 100 * nn * dd, nd * dn
        if b < 0:
            a, b = -a, -b
        passed, n, d = _judge(self.op, a, b, self.p, self.q)
        gap = None if passed else self.gap(nn, nd, dn, dd)
        value = _round_pair(a, b, 2)
        return self.result(value, passed, _attainment(passed, n, d), gap), n, d

    def gap(self, nn: int, nd: int, dn: int, dd: int) -> Gap:
        """Whole numerator units to add (>=) or remove (<=) so the ratio passes."""
        if self.op == _EQ:
            return Gap(self.num, None)
        need = self.p * dn * nd  # target × den / 100, over the common denominator below
        have = 100 * self.q * dd * nn
        scale = 100 * self.q * dd * nd
        if self.op == _GE:
            return Gap(self.num, _ceil_div(need - have, scale))
        return Gap(self.num, _ceil_div(have - need, scale))


class _ValuePlan(_Plan):
    __slots__ = ("measure", "mtype")

    def __init__(self, crit: Criterion, ind: Indicator, mtype: str) -> None:
        super().__init__(crit, ind)
        self.measure, self.mtype = str(ind.measure), mtype

    def evaluate(self, values: Mapping[str, Value]) -> tuple[IndicatorResult, int, int]:
        v = values.get(self.measure)
        if v is None:
            return self.missing, 0, 1
        a, b = _pair(v)
        passed, n, d = _judge(self.op, a, b, self.p, self.q)
        gap = None if passed else self.gap(v, a, b)
        return self.result(v, passed, _attainment(passed, n, d), gap), n, d

    def gap(self, v: Value, a: int, b: int) -> Gap:
        """Whole units for an integer, the exact difference for a number, else None."""
        if self.op == _EQ:
            return Gap(self.measure, None)
        if self.mtype == "number":
            diff = _EXACT.subtract(Decimal(self.target), Decimal(v))
            return Gap(self.measure, diff if self.op == _GE else _EXACT.minus(diff))
        diff_n = self.p * b - a * self.q
        return Gap(self.measure, _ceil_div(diff_n if self.op == _GE else -diff_n, self.q * b))


class _BoolPlan(_Plan):
    __slots__ = ("canned", "measure")

    def __init__(self, crit: Criterion, ind: Indicator) -> None:
        super().__init__(crit, ind)
        self.measure = str(ind.measure)
        self.canned = {v: self._canned(v) for v in (True, False)}

    def _canned(self, v: bool) -> tuple[IndicatorResult, int, int]:
        if v == self.target:
            return self.result(v, True, _ONE, None), 1, 1
        return self.result(v, False, _ZERO, Gap(self.measure, None)), 0, 1

    def evaluate(self, values: Mapping[str, Value]) -> tuple[IndicatorResult, int, int]:
        v = values.get(self.measure)
        if v is None:
            return self.missing, 0, 1
        return self.canned[bool(v)]


def _compile(doc: CriteriaDocument) -> tuple[_Plan, ...]:
    """Build the indicator plans of `doc`, with weights scaled to whole numbers."""
    types = {m.code: m.type for m in doc.measures}
    plans: list[_Plan] = []
    for crit, ind in doc.indicators():
        if ind.kind == "ratio":
            plans.append(_RatioPlan(crit, ind))
        elif types[str(ind.measure)] == "boolean":
            plans.append(_BoolPlan(crit, ind))
        else:
            plans.append(_ValuePlan(crit, ind, types[str(ind.measure)]))
    scale = math.lcm(*(plan.weight.as_integer_ratio()[1] for plan in plans))
    for plan in plans:
        n, d = plan.weight.as_integer_ratio()
        plan.w = n * (scale // d)
    return tuple(plans)


_PLANS: dict[int, tuple[CriteriaDocument, tuple[_Plan, ...]]] = {}
_PLANS_LOCK = threading.Lock()


def _plans_for(doc: CriteriaDocument) -> tuple[_Plan, ...]:
    """Return the cached plans of `doc` (by identity; documents are immutable models)."""
    hit = _PLANS.get(id(doc))
    if hit is not None and hit[0] is doc:
        return hit[1]
    plans = _compile(doc)
    with _PLANS_LOCK:
        while len(_PLANS) >= _CACHE_SIZE:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[id(doc)] = (doc, plans)
    return plans


def score(doc: CriteriaDocument, values: Mapping[str, Value]) -> VillageScore:
    """Score one village-period: per-indicator results, the weighted score and the status.

    `values` should be the output of `validate_values` (missing measures simply absent).
    """
    results: list[IndicatorResult] = []
    total_n, total_d, weights = 0, 1, 0
    missing = failed = False
    for plan in _plans_for(doc):
        res, n, d = plan.evaluate(values)
        results.append(res)
        if d == 0:
            continue
        weights += plan.w
        if n and d == 1:
            total_n += plan.w * n * total_d
        elif n:
            total_n, total_d = total_n * d + plan.w * n * total_d, total_d * d
        if plan.mandatory and not res.passed:
            if res.value is None:
                missing = True
            else:
                failed = True
    status: Literal["met", "not_met", "incomplete"]
    status = "incomplete" if missing else "not_met" if failed else "met"
    if weights == 0:
        return VillageScore(status, _NO_SCORE, results)
    return VillageScore(status, _round_pair(100 * total_n, total_d * weights, 1), results)
