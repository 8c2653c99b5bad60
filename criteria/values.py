"""Validation of the values a village head reports against a document's measures."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from criteria.errors import ValueIssue, ValuesInvalid
from criteria.schema import MAX_MAGNITUDE, CriteriaDocument, Measure, within_bounds

__all__ = ["CleanValue", "validate_values"]

CleanValue = int | bool | Decimal


def validate_values(doc: CriteriaDocument, values: Mapping[str, Any]) -> dict[str, CleanValue]:
    """Check reported values (type, ±10^9, min/max, max_ref, ratios) and return them cleaned.

    JSON null means missing and is dropped. Every number stays within ±10^9 and every
    ratio indicator's percentage too, so no stored fact can overflow its column (see
    `criteria.schema.MAX_MAGNITUDE`). Raises ValuesInvalid listing every problem.
    """
    measures = {m.code: m for m in doc.measures}
    issues: list[ValueIssue] = []
    clean: dict[str, CleanValue] = {}
    for code, raw in values.items():
        measure = measures.get(code)
        if measure is None:
            issues.append(ValueIssue(str(code), "unknown_measure", f"no measure {code!r}"))
        elif raw is not None:
            value = _coerce(measure, raw)
            problem = _type_issue(measure, raw) if value is None else _bounds_issue(measure, value)
            if problem is not None:
                issues.append(problem)
            elif value is not None:
                clean[code] = value
    issues.extend(_max_ref_issues(doc, clean))
    issues.extend(_ratio_issues(doc, clean))
    if issues:
        raise ValuesInvalid(issues)
    return clean


def _coerce(m: Measure, raw: object) -> CleanValue | None:
    """Return the value in its clean type, or None when it has the wrong type."""
    if m.type == "boolean":
        return raw if isinstance(raw, bool) else None
    if isinstance(raw, bool):
        return None
    if m.type == "integer":
        return raw if isinstance(raw, int) else None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw)) if math.isfinite(raw) else None
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    return None


def _type_issue(m: Measure, raw: object) -> ValueIssue:
    wanted = {
        "boolean": "true or false",
        "integer": "a whole number",
        "number": "a finite number",
    }[m.type]
    shown = repr(raw) if len(repr(raw)) <= 80 else repr(raw)[:77] + "..."
    return ValueIssue(m.code, "wrong_type", f"{m.code!r} needs {wanted}, got {shown}")


def _bounds_issue(m: Measure, value: CleanValue) -> ValueIssue | None:
    if isinstance(value, bool):
        return None
    if not within_bounds(Decimal(value)):
        msg = f"{m.code!r} is outside ±{MAX_MAGNITUDE:,}, the largest number stored"
        return ValueIssue(m.code, "out_of_range", msg)
    if m.min is not None and value < m.min:
        return ValueIssue(m.code, "below_min", f"{m.code!r} is {value}, below its min {m.min}")
    if m.max is not None and value > m.max:
        return ValueIssue(m.code, "above_max", f"{m.code!r} is {value}, above its max {m.max}")
    return None


def _max_ref_issues(doc: CriteriaDocument, clean: dict[str, CleanValue]) -> list[ValueIssue]:
    issues: list[ValueIssue] = []
    for m in doc.measures:
        if m.max_ref is None or m.code not in clean or m.max_ref not in clean:
            continue
        value, ref = clean[m.code], clean[m.max_ref]
        if isinstance(value, bool) or isinstance(ref, bool) or value <= ref:
            continue
        msg = f"{m.code!r} is {value}, more than {m.max_ref!r} ({ref})"
        issues.append(ValueIssue(m.code, "exceeds_max_ref", msg))
    return issues


def _ratio_issues(doc: CriteriaDocument, clean: dict[str, CleanValue]) -> list[ValueIssue]:
    """A ratio indicator's percentage (100 × numerator / denominator) within ±10^9."""
    issues: list[ValueIssue] = []
    for _, ind in doc.indicators():
        num, den = clean.get(str(ind.numerator)), clean.get(str(ind.denominator))
        if ind.kind != "ratio" or num is None or den is None or den == 0:
            continue
        if abs(100 * Decimal(num)) > MAX_MAGNITUDE * abs(Decimal(den)):
            msg = f"{ind.code!r}: {num} / {den} is a percentage beyond ±{MAX_MAGNITUDE:,}"
            issues.append(ValueIssue(str(ind.numerator), "ratio_out_of_range", msg))
    return issues
