"""Criteria-set documents: models, parsing with all issues reported, value validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from criteria.checks import cross_check
from criteria.errors import DocumentInvalid, Issue, ValueIssue, ValuesInvalid
from criteria.schema import (
    Bilingual,
    CriteriaDocument,
    Criterion,
    Indicator,
    Measure,
    Target,
)
from criteria.values import validate_values

__all__ = [
    "Bilingual",
    "CriteriaDocument",
    "Criterion",
    "DocumentInvalid",
    "Indicator",
    "Issue",
    "Measure",
    "Target",
    "ValueIssue",
    "ValuesInvalid",
    "parse_document",
    "validate_values",
]


def parse_document(data: Mapping[str, Any]) -> CriteriaDocument:
    """Validate a criteria-set document (structure, then cross-references).

    Raises DocumentInvalid carrying every issue found, each with its location and code.
    """
    raw = dict(data) if isinstance(data, Mapping) else data
    try:
        doc = CriteriaDocument.model_validate(raw)
    except ValidationError as exc:
        issues = [Issue(tuple(e["loc"]), e["type"], e["msg"]) for e in exc.errors()]
        raise DocumentInvalid(issues) from None
    problems = cross_check(doc)
    if problems:
        raise DocumentInvalid(problems)
    return doc
