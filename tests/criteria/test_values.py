from decimal import Decimal
from typing import Any

import pytest

from criteria.document import (
    CriteriaDocument,
    ValueIssue,
    ValuesInvalid,
    parse_document,
    validate_values,
)
from tests.criteria.factories import base_doc

VALID = {"total": 20, "part": 17, "flag": True, "count": 3, "amount": Decimal("2.5")}


@pytest.fixture(scope="module")
def doc() -> CriteriaDocument:
    return parse_document(base_doc())


def _issues(doc: CriteriaDocument, values: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValuesInvalid) as info:
        validate_values(doc, values)
    return [(issue.measure, issue.code) for issue in info.value.issues]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"nope": 1}, ("nope", "unknown_measure")),
        ({"nope": None}, ("nope", "unknown_measure")),
        ({"total": 5.0}, ("total", "wrong_type")),
        ({"total": True}, ("total", "wrong_type")),
        ({"total": "5"}, ("total", "wrong_type")),
        ({"total": Decimal(5)}, ("total", "wrong_type")),
        ({"flag": 1}, ("flag", "wrong_type")),
        ({"flag": "true"}, ("flag", "wrong_type")),
        ({"amount": True}, ("amount", "wrong_type")),
        ({"amount": "2.5"}, ("amount", "wrong_type")),
        ({"amount": float("nan")}, ("amount", "wrong_type")),
        ({"amount": float("inf")}, ("amount", "wrong_type")),
        ({"amount": Decimal("NaN")}, ("amount", "wrong_type")),
        ({"total": 0}, ("total", "below_min")),
        ({"amount": -0.5}, ("amount", "below_min")),
        ({"count": 11}, ("count", "above_max")),
        ({"total": 4, "part": 5}, ("part", "exceeds_max_ref")),
    ],
    ids=[
        "unknown-measure",
        "unknown-measure-null",
        "integer-given-float",
        "integer-given-bool",
        "integer-given-text",
        "integer-given-decimal",
        "boolean-given-int",
        "boolean-given-text",
        "number-given-bool",
        "number-given-text",
        "number-given-nan",
        "number-given-inf",
        "number-given-decimal-nan",
        "below-min",
        "number-below-min",
        "above-max",
        "exceeds-max-ref",
    ],
)
def test_validate_bad_value_raises_issue_naming_measure(
    doc: CriteriaDocument, values: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert _issues(doc, values) == [expected]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (VALID, VALID),
        ({"total": 20, "part": None, "flag": None}, {"total": 20}),
        ({"amount": 12.5}, {"amount": Decimal("12.5")}),
        ({"amount": 0.1}, {"amount": Decimal("0.1")}),
        ({"amount": 3}, {"amount": Decimal(3)}),
        ({"flag": False, "count": 0}, {"flag": False, "count": 0}),
        ({"total": 5, "part": 5}, {"total": 5, "part": 5}),
        ({"part": 500}, {"part": 500}),
        ({}, {}),
    ],
    ids=[
        "all-valid",
        "null-dropped",
        "float-to-decimal",
        "float-shortest-repr",
        "int-to-decimal",
        "false-and-zero-kept",
        "equal-to-max-ref",
        "max-ref-absent",
        "empty",
    ],
)
def test_validate_good_values_gives_clean_map(
    doc: CriteriaDocument, values: dict[str, Any], expected: dict[str, Any]
) -> None:
    clean = validate_values(doc, values)
    assert clean == expected
    assert {k: type(v) for k, v in clean.items()} == {k: type(v) for k, v in expected.items()}


def test_validate_many_bad_values_reports_all_issues(doc: CriteriaDocument) -> None:
    values = {"total": 4, "part": 5, "flag": "yes", "count": 99, "ghost": 1}
    assert sorted(_issues(doc, values)) == [
        ("count", "above_max"),
        ("flag", "wrong_type"),
        ("ghost", "unknown_measure"),
        ("part", "exceeds_max_ref"),
    ]


def test_values_invalid_message_names_measures() -> None:
    error = ValuesInvalid([ValueIssue("part", "exceeds_max_ref", "x")])
    assert "part" in str(error)
    assert error.issues[0].code == "exceeds_max_ref"
