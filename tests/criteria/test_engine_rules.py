"""Edge cases of SPEC §2 "Score" and §6 "Gap"/"Numbers" that test_engine.py leaves out."""

from decimal import Decimal
from typing import Any

import pytest

from criteria.engine import Gap, plan_for, score
from tests.criteria.factories import RATIO_MEASURES, make_doc, measure, ratio, value

MEASURES = [
    *RATIO_MEASURES,
    measure("flag", "boolean"),
    measure("count", min=0),
    measure("amount", "number"),
    measure("spent", "number", min=0),
    measure("budget", "number", min=0),
]


@pytest.mark.parametrize(
    ("indicator", "values", "shown", "passed", "attainment", "gap"),
    [
        (ratio("r", "part", "total", ">=", Decimal("33.33")), {"part": 1, "total": 3},
         Decimal("33.33"), True, Decimal("1.0000"), None),
        (ratio("r", "part", "total", ">=", Decimal("33.34")), {"part": 1, "total": 3},
         Decimal("33.33"), False, Decimal("0.9998"), Gap("part", 1)),
        (ratio("r", "part", "total", "<=", 10), {"part": 2, "total": 20},
         Decimal("10.00"), True, Decimal("1.0000"), None),
        (ratio("r", "part", "total", "==", 50), {"part": 5, "total": 10},
         Decimal("50.00"), True, Decimal("1.0000"), None),
        (ratio("r", "part", "total", "==", 50), {"part": 2, "total": 3},
         Decimal("66.67"), False, Decimal("0.0000"), Gap("part", None)),
        (ratio("r", "part", "total", ">=", 100), {"part": 199_999, "total": 200_000},
         Decimal("100.00"), False, Decimal("0.9999"), Gap("part", 1)),
        (ratio("r", "spent", "budget", ">=", 85), {"spent": Decimal("8.5"), "budget": 10},
         Decimal("85.00"), True, Decimal("1.0000"), None),
        (ratio("r", "spent", "budget", ">=", 85), {"spent": Decimal("8.4"), "budget": 10},
         Decimal("84.00"), False, Decimal("0.9882"), Gap("spent", 1)),
    ],
    ids=["decimal-target-met-exactly", "decimal-target-missed", "at-most-at-target",
         "equals-met", "equals-missed", "nearly-all-shows-below-one", "number-ratio-at-target",
         "number-ratio-below-rounds-gap-up"],
)  # fmt: skip
def test_score_ratio_edge_gives_exact_result(
    indicator: dict[str, Any],
    values: dict[str, Any],
    shown: Decimal,
    passed: bool,
    attainment: Decimal,
    gap: Gap | None,
) -> None:
    result = score(make_doc(MEASURES, [indicator]), values).indicators[0]
    assert (result.value, result.passed, result.attainment, result.gap) == (
        shown,
        passed,
        attainment,
        gap,
    )


@pytest.mark.parametrize(
    ("indicator", "values", "passed", "attainment", "gap"),
    [
        (value("n", "amount", "<=", Decimal("12.5")), {"amount": Decimal("12.5")},
         True, Decimal("1.0000"), None),
        (value("n", "amount", ">=", Decimal("12.5")), {"amount": Decimal("12.49")},
         False, Decimal("0.9992"), Gap("amount", Decimal("0.01"))),
        (value("n", "amount", ">=", Decimal("12.5")), {"amount": 12},
         False, Decimal("0.9600"), Gap("amount", Decimal("0.5"))),
        (value("n", "amount", "<=", 0), {"amount": Decimal("-0.5")},
         True, Decimal("1.0000"), None),
        (value("n", "amount", "==", Decimal("2.5")), {"amount": Decimal("2.50")},
         True, Decimal("1.0000"), None),
        (value("n", "amount", ">=", 100_000), {"amount": Decimal("99999.99")},
         False, Decimal("0.9999"), Gap("amount", Decimal("0.01"))),
        (value("c", "count", "<=", Decimal("4.5")), {"count": 5},
         False, Decimal("0.9000"), Gap("count", 1)),
        (value("b", "flag", "==", False), {"flag": True},
         False, Decimal("0.0000"), Gap("flag", None)),
    ],
    ids=["number-at-most-at-target", "number-just-below", "number-given-whole",
         "number-negative-at-most-zero", "number-equals-other-exponent",
         "number-nearly-shows-below-one", "count-above-fractional-limit", "bool-target-false"],
)  # fmt: skip
def test_score_value_edge_gives_exact_result(
    indicator: dict[str, Any],
    values: dict[str, Any],
    passed: bool,
    attainment: Decimal,
    gap: Gap | None,
) -> None:
    result = score(make_doc(MEASURES, [indicator]), values).indicators[0]
    assert (result.passed, result.attainment, result.gap) == (passed, attainment, gap)


@pytest.mark.parametrize(
    ("values", "applicable", "passed", "status"),
    [
        ({"total": 0}, False, None, "met"),
        ({"total": 0, "part": 0}, False, None, "met"),
        ({"part": 0}, True, False, "incomplete"),
        ({"total": 5}, True, False, "incomplete"),
    ],
    ids=["zero-denominator-numerator-missing", "zero-over-zero", "denominator-missing",
         "numerator-missing"],
)  # fmt: skip
def test_score_mandatory_ratio_without_data_gives_status(
    values: dict[str, int], applicable: bool, passed: bool | None, status: str
) -> None:
    doc = make_doc(MEASURES, [ratio("r", "part", "total", ">=", 85, mandatory=True)])
    village = score(doc, values)
    result = village.indicators[0]
    assert (result.applicable, result.passed, result.value, result.gap) == (
        applicable,
        passed,
        None,
        None,
    )
    assert village.status == status


@pytest.mark.parametrize(
    ("target", "count", "expected"),
    [
        (10_000, 9_996, Decimal("99.9")),
        (10_000, 9_999, Decimal("99.9")),
        (100_000, 99_995, Decimal("99.9")),
        (10_000, 9_994, Decimal("99.9")),
        (10_000, 9_985, Decimal("99.9")),
        (10_000, 10_000, Decimal("100.0")),
    ],
    ids=["99.96-shows-99.9", "99.99-shows-99.9", "99.995-shows-99.9", "99.94-rounds-down",
         "99.85-rounds-half-up", "complete"],
)  # fmt: skip
def test_score_short_of_complete_never_shows_100(
    target: int, count: int, expected: Decimal
) -> None:
    doc = make_doc(MEASURES, [value("c", "count", ">=", target)])
    assert score(doc, {"count": count}).score == expected


def test_score_not_applicable_mandatory_is_left_out_of_weights() -> None:
    doc = make_doc(
        MEASURES,
        [
            ratio("r", "part", "total", ">=", 85, mandatory=True, weight=10),
            value("c", "count", ">=", 4, weight=2),
        ],
    )
    village = score(doc, {"total": 0, "part": 0, "count": 3})
    assert (village.status, village.score) == ("met", Decimal("75.0"))


def test_plan_for_same_document_gives_one_plan_and_another_document_its_own() -> None:
    first = make_doc(MEASURES, [value("c", "count", ">=", 4)])
    second = make_doc(MEASURES, [value("c", "count", ">=", 2)])
    assert plan_for(first) is plan_for(first)
    assert plan_for(second) is not plan_for(first)
    assert [score(doc, {"count": 3}).indicators[0].passed for doc in (first, second)] == [
        False,
        True,
    ]
