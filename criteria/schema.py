"""Pydantic v2 models of a criteria-set document (SPEC §2), the same shape as its JSON."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)

from criteria.periods import Period
from criteria.rounding import json_number
from criteria.text import nfc

__all__ = [
    "CODE_PATTERN",
    "MAX_MAGNITUDE",
    "MAX_MEASURES",
    "MAX_VERSION",
    "MEASURE_CODE_PATTERN",
    "Bilingual",
    "CriteriaDocument",
    "Criterion",
    "Indicator",
    "Measure",
    "Target",
    "TargetValue",
    "within_bounds",
]

MEASURE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SET_CODE_PATTERN = r"^[a-z0-9-]{1,64}$"
SCOPE_PATTERN = r"^(national|[0-9]{2})$"
MAX_VERSION = 2**31 - 1  # versions are the database's INTEGER
# Every number of a document or a report stays within ±10^9, so no stored fact can overflow:
# an indicator's value is NUMERIC(14, 4) (|x| < 10^10) and a commune's sum of them is
# NUMERIC(18, 4), room for 10^5 villages at the bound.
MAX_MAGNITUDE = Decimal(10**9)
MAX_PLACES = 400
MAX_NAME = 300  # a name (title_vi / title_en are VARCHAR(300))
MAX_TEXT = 4000  # notes, legal basis, issuer
MAX_SHORT = 200  # a measure's unit, one source
MAX_MEASURES = 500
MAX_CRITERIA = 200
MAX_INDICATORS = 100  # per criterion
MAX_SOURCES = 50
_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", re.ASCII)


def within_bounds(d: Decimal) -> bool:
    """Whether `d` is within ±10^9 with at most 400 decimal places (any float's)."""
    exponent = d.as_tuple().exponent
    return abs(d) <= MAX_MAGNITUDE and isinstance(exponent, int) and exponent >= -MAX_PLACES


def _within(d: Decimal) -> Decimal:
    if not within_bounds(d):
        raise ValueError(f"expected a number within ±{MAX_MAGNITUDE:,}")
    return d


def _to_decimal(v: object) -> object:
    """Turn a JSON/YAML number into an exact Decimal within ±10^9; refuse bools, NaN and
    infinities."""
    return _within(_exact(v))


def _exact(v: object) -> Decimal:
    if isinstance(v, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("expected a finite number")
        return Decimal(repr(v))
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError("expected a finite number")
        return v
    if isinstance(v, str) and len(v) <= 100 and _NUMBER_TEXT.fullmatch(v.strip()):
        return Decimal(v.strip())
    raise ValueError("expected a number")


def _target_value(v: object) -> object:
    """Keep a target as bool, int or Decimal: never coerce one into another."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        _within(Decimal(v))
        return v
    return _to_decimal(v)


def _target_json(v: bool | int | Decimal) -> bool | int | float:
    return json_number(v) if isinstance(v, Decimal) else v


def _text(v: str) -> str:
    cleaned = nfc(v)
    if not cleaned:
        raise ValueError("must not be empty")
    return cleaned


def _period_text(v: object) -> object:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


Num = Annotated[
    Decimal, BeforeValidator(_to_decimal), PlainSerializer(json_number, when_used="json")
]
TargetValue = Annotated[
    bool | int | Decimal,
    BeforeValidator(_target_value),
    PlainSerializer(_target_json, when_used="json"),
]
Text = Annotated[str, AfterValidator(_text)]
Name = Annotated[Text, Field(max_length=MAX_NAME)]
LongText = Annotated[Text, Field(max_length=MAX_TEXT)]
Note = Annotated[str, AfterValidator(nfc), Field(max_length=MAX_TEXT)]
ShortNote = Annotated[str, AfterValidator(nfc), Field(max_length=MAX_SHORT)]
MeasureCode = Annotated[str, Field(pattern=MEASURE_CODE_PATTERN)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Model):
    """A name in Vietnamese (`vi`) and English (`en`), both non-empty, NFC, ≤ 300 characters."""

    vi: Name
    en: Name


class Measure(_Model):
    """A raw number a village head reports."""

    code: MeasureCode
    name: Bilingual
    type: Literal["integer", "boolean", "number"]
    min: Num | None = None
    max: Num | None = None
    max_ref: MeasureCode | None = None
    unit: ShortNote | None = None
    notes: Note | None = None


class Target(_Model):
    """What an indicator must reach: `op` and a bool, int or Decimal `value`."""

    op: Literal[">=", "<=", "=="]
    value: TargetValue


class Indicator(_Model):
    """A ratio (numerator / denominator in percent) or a single measure value with a target."""

    code: Code
    name: Bilingual
    kind: Literal["ratio", "value"]
    numerator: MeasureCode | None = None
    denominator: MeasureCode | None = None
    measure: MeasureCode | None = None
    target: Target
    weight: Num
    mandatory: bool = False
    threshold_basis: Note | None = None
    sources: list[ShortNote] = Field(default_factory=list, max_length=MAX_SOURCES)
    notes: Note | None = None


class Criterion(_Model):
    """A criterion of a group, holding one or more indicators."""

    code: Code
    name: Bilingual
    group: Code
    indicators: list[Indicator] = Field(min_length=1, max_length=MAX_INDICATORS)


class CriteriaDocument(_Model):
    """A versioned criteria set (bộ tiêu chí) as administrators write it."""

    code: Annotated[str, Field(pattern=SET_CODE_PATTERN)]
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)]
    title: Bilingual
    issued_by: LongText
    legal_basis: LongText
    scope: Annotated[str, Field(pattern=SCOPE_PATTERN)]
    period_type: Literal["quarter", "year"]
    effective_from: Annotated[str, BeforeValidator(_period_text), Field(max_length=8)]
    measures: list[Measure] = Field(min_length=1, max_length=MAX_MEASURES)
    criteria: list[Criterion] = Field(min_length=1, max_length=MAX_CRITERIA)
    notes: Note | None = None

    def measure(self, code: str) -> Measure:
        """Return the measure named `code`; raise KeyError when there is none."""
        for m in self.measures:
            if m.code == code:
                return m
        raise KeyError(code)

    def indicators(self) -> list[tuple[Criterion, Indicator]]:
        """Return every (criterion, indicator) pair in document order."""
        return [(c, i) for c in self.criteria for i in c.indicators]

    @property
    def effective_period(self) -> Period:
        """Return `effective_from` as a Period (ValueError if it is not one)."""
        return Period.parse(self.effective_from)
