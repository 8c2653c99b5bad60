"""Cross-reference checks of a criteria document that pydantic has already accepted."""

from __future__ import annotations

from decimal import Decimal

from criteria.errors import Issue
from criteria.periods import Period
from criteria.schema import CriteriaDocument, Indicator, Measure, Target

__all__ = ["cross_check"]

Loc = tuple[str | int, ...]


def cross_check(doc: CriteriaDocument) -> list[Issue]:
    """Return every cross-reference problem of `doc` (empty when it is consistent)."""
    issues: list[Issue] = []
    _check_period(doc, issues)
    measures = _check_measures(doc, issues)
    _check_criteria(doc, measures, issues)
    return issues


def _check_period(doc: CriteriaDocument, issues: list[Issue]) -> None:
    loc: Loc = ("effective_from",)
    try:
        period = Period.parse(doc.effective_from)
    except ValueError as exc:
        issues.append(Issue(loc, "bad_period", str(exc)))
        return
    if period.kind != doc.period_type:
        msg = f"effective_from {period} is a {period.kind} but period_type is {doc.period_type}"
        issues.append(Issue(loc, "bad_period", msg))


def _check_measures(doc: CriteriaDocument, issues: list[Issue]) -> dict[str, Measure]:
    by_code: dict[str, Measure] = {}
    for i, m in enumerate(doc.measures):
        if m.code in by_code:
            issues.append(Issue(("measures", i, "code"), "duplicate_code", _dup("measure", m.code)))
        else:
            by_code[m.code] = m
        _check_bounds(m, ("measures", i), issues)
    for i, m in enumerate(doc.measures):
        _check_max_ref(m, ("measures", i, "max_ref"), by_code, issues)
    return by_code


def _dup(what: str, code: str) -> str:
    return f"{what} code {code!r} is used more than once"


def _check_bounds(m: Measure, loc: Loc, issues: list[Issue]) -> None:
    for name, bound in (("min", m.min), ("max", m.max)):
        if bound is None:
            continue
        if m.type == "boolean":
            msg = f"boolean measure {m.code!r} cannot have a {name}"
            issues.append(Issue((*loc, name), "bad_bounds", msg))
        elif m.type == "integer" and bound != bound.to_integral_value():
            msg = f"integer measure {m.code!r} needs a whole {name}, got {bound}"
            issues.append(Issue((*loc, name), "bad_bounds", msg))
    if m.min is not None and m.max is not None and m.min > m.max:
        msg = f"measure {m.code!r}: min {m.min} is greater than max {m.max}"
        issues.append(Issue((*loc, "min"), "bad_bounds", msg))


def _check_max_ref(m: Measure, loc: Loc, by_code: dict[str, Measure], issues: list[Issue]) -> None:
    if m.max_ref is None:
        return
    ref = by_code.get(m.max_ref)
    if ref is None:
        issues.append(Issue(loc, "unknown_measure", f"max_ref names no measure: {m.max_ref!r}"))
    elif ref.code == m.code:
        issues.append(Issue(loc, "bad_max_ref", f"measure {m.code!r} has itself as max_ref"))
    elif ref.type == "boolean" or m.type == "boolean":
        msg = f"max_ref between {m.code!r} and {ref.code!r} needs two numeric measures"
        issues.append(Issue(loc, "bad_max_ref", msg))


def _check_criteria(
    doc: CriteriaDocument, measures: dict[str, Measure], issues: list[Issue]
) -> None:
    criteria_seen: set[str] = set()
    indicators_seen: set[str] = set()
    for i, crit in enumerate(doc.criteria):
        if crit.code in criteria_seen:
            msg = _dup("criterion", crit.code)
            issues.append(Issue(("criteria", i, "code"), "duplicate_code", msg))
        criteria_seen.add(crit.code)
        for j, ind in enumerate(crit.indicators):
            loc: Loc = ("criteria", i, "indicators", j)
            if ind.code in indicators_seen:
                msg = _dup("indicator", ind.code)
                issues.append(Issue((*loc, "code"), "duplicate_code", msg))
            indicators_seen.add(ind.code)
            _check_indicator(ind, loc, measures, issues)


def _check_indicator(
    ind: Indicator, loc: Loc, measures: dict[str, Measure], issues: list[Issue]
) -> None:
    if ind.weight <= 0:
        msg = f"indicator {ind.code!r}: weight must be greater than 0, got {ind.weight}"
        issues.append(Issue((*loc, "weight"), "bad_weight", msg))
    if ind.kind == "ratio":
        _check_ratio(ind, loc, measures, issues)
    else:
        _check_value(ind, loc, measures, issues)


def _resolve(
    ind: Indicator, field: str, loc: Loc, measures: dict[str, Measure], issues: list[Issue]
) -> Measure | None:
    code: str | None = getattr(ind, field)
    if code is None:
        msg = f"a {ind.kind} indicator needs a {field} ({ind.code!r})"
        issues.append(Issue((*loc, field), "missing_field", msg))
        return None
    measure = measures.get(code)
    if measure is None:
        msg = f"indicator {ind.code!r}: {field} names no measure: {code!r}"
        issues.append(Issue((*loc, field), "unknown_measure", msg))
    return measure


def _not_allowed(ind: Indicator, fields: tuple[str, ...], loc: Loc, issues: list[Issue]) -> None:
    for field in fields:
        if getattr(ind, field) is not None:
            msg = f"a {ind.kind} indicator takes no {field} ({ind.code!r})"
            issues.append(Issue((*loc, field), "field_not_allowed", msg))


def _check_ratio(
    ind: Indicator, loc: Loc, measures: dict[str, Measure], issues: list[Issue]
) -> None:
    _not_allowed(ind, ("measure",), loc, issues)
    num = _resolve(ind, "numerator", loc, measures, issues)
    den = _resolve(ind, "denominator", loc, measures, issues)
    for field, m in (("numerator", num), ("denominator", den)):
        if m is not None and m.type == "boolean":
            msg = f"indicator {ind.code!r}: {field} {m.code!r} is boolean; a ratio needs numbers"
            issues.append(Issue((*loc, field), "ratio_needs_numeric_measure", msg))
    _check_ratio_target(ind, loc, num, den, issues)


def _unattainable(loc: Loc, ind: Indicator, why: str) -> Issue:
    return Issue(loc, "unattainable_target", f"indicator {ind.code!r}: {why}")


def _check_ratio_target(
    ind: Indicator, loc: Loc, num: Measure | None, den: Measure | None, issues: list[Issue]
) -> None:
    t = ind.target
    vloc: Loc = (*loc, "target", "value")
    if isinstance(t.value, bool):
        issues.append(_unattainable(vloc, ind, "a ratio target must be a percentage, not a bool"))
    elif t.value < 0:
        issues.append(_unattainable(vloc, ind, f"a ratio cannot be below 0 % ({t.value})"))
    elif (
        t.value > 100
        and t.op != "<="
        and num is not None
        and den is not None
        and (num.max_ref == den.code)
    ):
        why = f"{num.code!r} may not exceed {den.code!r}, so {t.value} % cannot be reached"
        issues.append(_unattainable(vloc, ind, why))


def _check_value(
    ind: Indicator, loc: Loc, measures: dict[str, Measure], issues: list[Issue]
) -> None:
    _not_allowed(ind, ("numerator", "denominator"), loc, issues)
    measure = _resolve(ind, "measure", loc, measures, issues)
    if measure is None:
        return
    if measure.type == "boolean":
        _check_boolean_target(ind, ind.target, loc, issues)
    else:
        _check_numeric_target(ind, measure, loc, issues)


def _check_boolean_target(ind: Indicator, t: Target, loc: Loc, issues: list[Issue]) -> None:
    if t.op != "==":
        why = f"a boolean measure takes op '==', not {t.op!r}"
        issues.append(_unattainable((*loc, "target", "op"), ind, why))
    if not isinstance(t.value, bool):
        why = f"a boolean measure needs a true/false target, got {t.value!r}"
        issues.append(_unattainable((*loc, "target", "value"), ind, why))


def _check_numeric_target(ind: Indicator, m: Measure, loc: Loc, issues: list[Issue]) -> None:
    t = ind.target
    vloc: Loc = (*loc, "target", "value")
    if isinstance(t.value, bool):
        issues.append(_unattainable(vloc, ind, f"{m.type} measure {m.code!r} needs a number"))
        return
    value = Decimal(t.value)
    if m.type == "integer" and t.op == "==" and value != value.to_integral_value():
        why = f"integer measure {m.code!r} can never equal {t.value}"
        issues.append(_unattainable(vloc, ind, why))
    elif m.max is not None and value > m.max and t.op != "<=":
        why = f"target {t.value} is above the max {m.max} of {m.code!r}"
        issues.append(_unattainable(vloc, ind, why))
    elif m.min is not None and value < m.min and t.op != ">=":
        why = f"target {t.value} is below the min {m.min} of {m.code!r}"
        issues.append(_unattainable(vloc, ind, why))
