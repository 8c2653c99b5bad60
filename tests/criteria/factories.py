"""Builders of small criteria documents and village values for the criteria tests."""

from __future__ import annotations

import copy
from typing import Any

from criteria.document import CriteriaDocument, parse_document

NAME = {"vi": "Thử nghiệm", "en": "Test"}

BASE_DOC: dict[str, Any] = {
    "code": "test-set",
    "version": 1,
    "title": {"vi": "Bộ tiêu chí thử", "en": "Test set"},
    "issued_by": "Kiểm thử",
    "legal_basis": "Không có (test only)",
    "scope": "national",
    "period_type": "quarter",
    "effective_from": "2024Q1",
    "measures": [
        {"code": "total", "name": NAME, "type": "integer", "min": 1},
        {"code": "part", "name": NAME, "type": "integer", "min": 0, "max_ref": "total"},
        {"code": "flag", "name": NAME, "type": "boolean"},
        {"code": "count", "name": NAME, "type": "integer", "min": 0, "max": 10},
        {"code": "amount", "name": NAME, "type": "number", "min": 0},
    ],
    "criteria": [
        {
            "code": "C1",
            "group": "digital_infrastructure",
            "name": NAME,
            "indicators": [
                {
                    "code": "I1",
                    "name": NAME,
                    "kind": "ratio",
                    "numerator": "part",
                    "denominator": "total",
                    "target": {"op": ">=", "value": 85},
                    "weight": 10,
                    "mandatory": True,
                },
                {
                    "code": "I2",
                    "name": NAME,
                    "kind": "value",
                    "measure": "flag",
                    "target": {"op": "==", "value": True},
                    "weight": 5,
                },
                {
                    "code": "I3",
                    "name": NAME,
                    "kind": "value",
                    "measure": "count",
                    "target": {"op": ">=", "value": 5},
                    "weight": 5,
                },
                {
                    "code": "I4",
                    "name": NAME,
                    "kind": "value",
                    "measure": "amount",
                    "target": {"op": "<=", "value": 12.5},
                    "weight": 5,
                },
            ],
        }
    ],
}


def base_doc() -> dict[str, Any]:
    """Return a fresh deep copy of the valid test document as plain data."""
    return copy.deepcopy(BASE_DOC)


def measure(code: str, mtype: str = "integer", **extra: Any) -> dict[str, Any]:
    """Return a measure mapping."""
    return {"code": code, "name": NAME, "type": mtype, **extra}


def ratio(code: str, num: str, den: str, op: str, value: Any, **extra: Any) -> dict[str, Any]:
    """Return a ratio indicator mapping (weight 1 unless given)."""
    target = {"op": op, "value": value}
    return {
        "code": code,
        "name": NAME,
        "kind": "ratio",
        "numerator": num,
        "denominator": den,
        "target": target,
        "weight": extra.pop("weight", 1),
        **extra,
    }


def value(code: str, meas: str, op: str, target: Any, **extra: Any) -> dict[str, Any]:
    """Return a value indicator mapping (weight 1 unless given)."""
    return {
        "code": code,
        "name": NAME,
        "kind": "value",
        "measure": meas,
        "target": {"op": op, "value": target},
        "weight": extra.pop("weight", 1),
        **extra,
    }


def make_doc(measures: list[dict[str, Any]], indicators: list[dict[str, Any]]) -> CriteriaDocument:
    """Parse a one-criterion document with the given measures and indicators."""
    data = base_doc()
    data["measures"] = measures
    data["criteria"] = [{"code": "C", "group": "g", "name": NAME, "indicators": indicators}]
    return parse_document(data)


RATIO_MEASURES = [
    measure("total", min=0),
    measure("part", min=0, max_ref="total"),
]
