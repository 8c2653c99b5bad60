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
from criteria.text import nfc

__all__ = [
    "CODE_PATTERN",
    "MEASURE_CODE_PATTERN",
    "Bilingual",
    "CriteriaDocument",
    "Criterion",
    "Indicator",
    "Measure",
    "Target",
    "TargetValue",
]

MEASURE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SET_CODE_PATTERN = r"^[a-z0-9-]{1,64}$"
SCOPE_PATTERN = r"^(national|[0-9]{2})$"
_NUMBER_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", re.ASCII)


def _to_decimal(v: object) -> object:
    """Turn a JSON/YAML number into an exact Decimal; refuse bools, NaN and infinities."""
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
    if isinstance(v, str) and _NUMBER_TEXT.fullmatch(v.strip()):
        return Decimal(v.strip())
    raise ValueError("expected a number")


def _decimal_json(d: Decimal) -> int | float:
    """Render a Decimal as a JSON number (an integer when integral)."""
    return int(d) if d == d.to_integral_value() else float(d)


def _target_value(v: object) -> object:
    """Keep a target as bool, int or Decimal: never coerce one into another."""
    if isinstance(v, bool | int):
        return v
    return _to_decimal(v)


def _target_json(v: bool | int | Decimal) -> bool | int | float:
    return _decimal_json(v) if isinstance(v, Decimal) else v


def _text(v: str) -> str:
    cleaned = nfc(v)
    if not cleaned:
        raise ValueError("must not be empty")
    return cleaned


def _period_text(v: object) -> object:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


Num = Annotated[
    Decimal, BeforeValidator(_to_decimal), PlainSerializer(_decimal_json, when_used="json")
]
TargetValue = Annotated[
    bool | int | Decimal,
    BeforeValidator(_target_value),
    PlainSerializer(_target_json, when_used="json"),
]
Text = Annotated[str, AfterValidator(_text)]
Note = Annotated[str, AfterValidator(nfc)]
MeasureCode = Annotated[str, Field(pattern=MEASURE_CODE_PATTERN)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Model):
    """A name in Vietnamese (`vi`) and English (`en`), both non-empty, NFC."""

    vi: Text
    en: Text


class Measure(_Model):
    """A raw number a village head reports."""

    code: MeasureCode
    name: Bilingual
    type: Literal["integer", "boolean", "number"]
    min: Num | None = None
    max: Num | None = None
    max_ref: MeasureCode | None = None
    unit: Note | None = None
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
    sources: list[Note] = Field(default_factory=list)
    notes: Note | None = None


class Criterion(_Model):
    """A criterion of a group, holding one or more indicators."""

    code: Code
    name: Bilingual
    group: Code
    indicators: list[Indicator] = Field(min_length=1)


class CriteriaDocument(_Model):
    """A versioned criteria set (bộ tiêu chí) as administrators write it."""

    code: Annotated[str, Field(pattern=SET_CODE_PATTERN)]
    version: Annotated[int, Field(ge=1)]
    title: Bilingual
    issued_by: Text
    legal_basis: Text
    scope: Annotated[str, Field(pattern=SCOPE_PATTERN)]
    period_type: Literal["quarter", "year"]
    effective_from: Annotated[str, BeforeValidator(_period_text)]
    measures: list[Measure] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
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
