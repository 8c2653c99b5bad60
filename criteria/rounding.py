"""How exact results are shown (SPEC §6 "Numbers"): half-up, never rounded up to complete."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

Exact = int | Fraction  # an exact rational; the engine keeps whole numbers as ints

__all__ = [
    "Exact",
    "json_number",
    "round_half_up",
    "round_quotient_half_up",
    "round_short_of",
    "shown_attainment",
    "shown_percent",
    "shown_ratio_percent",
    "shown_score",
]


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number, keeping its written form: `2` → 2, `2.0` → 2.0,
    `2.50` → 2.5. Display only; pass/fail was decided exactly before this.

    A Decimal is written without a point or an exponent exactly when its exponent is 0;
    reading that from `str` takes a third of `as_tuple()`'s time, and rendering a nation's
    scores makes ten million of these."""
    written = str(value)
    if "." in written or "E" in written or not value.is_finite():
        return float(value)
    return int(written)


def round_half_up(x: Exact, places: int) -> Decimal:
    """Round `x` exactly to `places` (>= 0) decimals, halves away from zero."""
    return round_quotient_half_up(x.numerator, x.denominator, places)


def round_quotient_half_up(numerator: Exact, denominator: Exact, places: int) -> Decimal:
    """Round numerator / denominator (denominator > 0) exactly to `places` (>= 0) decimals,
    halves away from zero, without building the Fraction when both are whole."""
    if not isinstance(numerator, int) or not isinstance(denominator, int):
        return round_half_up(Fraction(numerator, denominator), places)
    units, remainder = divmod(abs(numerator) * 10**places, denominator)
    if 2 * remainder >= denominator:
        units += 1
    sign = "-" if numerator < 0 and units else ""
    return Decimal(f"{sign}{units}E-{places}")


def round_short_of(x: Exact, places: int, complete: int) -> Decimal:
    """Round `x` half-up, except that a value below `complete` shows at most one last-place
    unit below it (a score of 99.96 shows 99.9, never 100.0)."""
    shown = round_half_up(x, places)
    if shown >= complete > x:
        return round_half_up(complete - Fraction(1, 10**places), places)
    return shown


def shown_score(score: Exact) -> Decimal:
    """A score 0-100 to one decimal; below 100 it shows at most 99.9."""
    return round_short_of(score, 1, 100)


def shown_attainment(attainment: Exact) -> Decimal:
    """An attainment 0-1 to four decimals; below 1 it shows at most 0.9999."""
    return round_short_of(attainment, 4, 1)


def shown_percent(percent: Exact) -> Decimal:
    """A ratio's value in percent, to two decimals."""
    return round_half_up(percent, 2)


def shown_ratio_percent(hundred_parts: Exact, whole: Exact) -> Decimal:
    """The percent 100 × part / whole (whole > 0), to two decimals: `shown_percent` of it."""
    return round_quotient_half_up(hundred_parts, whole, 2)
