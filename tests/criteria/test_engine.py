from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from criteria.document import CriteriaDocument, validate_values
from criteria.engine import Gap, IndicatorResult, round_half_up, score
from criteria.loader import REFERENCE_SET, load_set
from tests.criteria.factories import RATIO_MEASURES, make_doc, measure, ratio, value

FIBRE_85 = make_doc(RATIO_MEASURES, [ratio("fibre", "part", "total", ">=", 85, mandatory=True)])


def _one(doc: CriteriaDocument, values: dict[str, Any]) -> IndicatorResult:
    return score(doc, values).indicators[0]


@pytest.mark.parametrize(
    ("part", "total", "passed", "shown", "attainment", "gap"),
    [
        (17, 20, True, Decimal("85.00"), Decimal("1.0000"), None),
        (16, 20, False, Decimal("80.00"), Decimal("0.9412"), Gap("part", 1)),
        (20, 20, True, Decimal("100.00"), Decimal("1.0000"), None),
        (0, 20, False, Decimal("0.00"), Decimal("0.0000"), Gap("part", 17)),
        (1, 3, False, Decimal("33.33"), Decimal("0.3922"), Gap("part", 2)),
        (2, 3, False, Decimal("66.67"), Decimal("0.7843"), Gap("part", 1)),
        (169, 200, False, Decimal("84.50"), Decimal("0.9941"), Gap("part", 1)),
    ],
    ids=["17-of-20-meets", "16-of-20-misses", "all", "none", "one-third", "two-thirds",
         "84.5-percent"],
)  # fmt: skip
def test_score_ratio_at_85_percent_gives_exact_result(
    part: int, total: int, passed: bool, shown: Decimal, attainment: Decimal, gap: Gap | None
) -> None:
    result = _one(FIBRE_85, {"part": part, "total": total})
    assert (result.value, result.passed, result.attainment, result.gap) == (
        shown,
        passed,
        attainment,
        gap,
    )
    assert result.applicable is True
    assert (result.target_op, result.target_value, result.kind) == (">=", 85, "ratio")


def test_score_zero_denominator_gives_not_applicable_and_met() -> None:
    doc = make_doc(
        [*RATIO_MEASURES, measure("flag", "boolean")],
        [ratio("r", "part", "total", ">=", 100, mandatory=True), value("b", "flag", "==", True)],
    )
    village = score(doc, {"part": 0, "total": 0, "flag": True})
    na = village.indicators[0]
    assert (na.applicable, na.passed, na.value, na.attainment, na.gap) == (
        False,
        None,
        None,
        None,
        None,
    )
    assert (village.status, village.score) == ("met", Decimal("100.0"))


def test_score_nothing_applicable_gives_zero_score() -> None:
    village = score(FIBRE_85, {"part": 0, "total": 0})
    assert (village.status, village.score) == ("met", Decimal("0.0"))


@pytest.mark.parametrize(
    "values",
    [{"total": 20}, {"part": 17}, {}],
    ids=["numerator-missing", "denominator-missing", "both-missing"],
)
def test_score_missing_mandatory_measure_gives_incomplete(values: dict[str, int]) -> None:
    village = score(FIBRE_85, values)
    result = village.indicators[0]
    assert village.status == "incomplete"
    assert (result.value, result.applicable, result.passed, result.gap) == (None, True, False, None)
    assert result.attainment == 0
    assert village.score == Decimal("0.0")


def test_score_missing_and_failing_mandatory_gives_incomplete() -> None:
    doc = make_doc(
        [*RATIO_MEASURES, measure("flag", "boolean")],
        [
            ratio("r", "part", "total", ">=", 85, mandatory=True),
            value("b", "flag", "==", True, mandatory=True),
        ],
    )
    assert score(doc, {"part": 1, "total": 20}).status == "incomplete"
    assert score(doc, {"part": 1, "total": 20, "flag": True}).status == "not_met"
    assert score(doc, {"part": 19, "total": 20, "flag": True}).status == "met"


def test_score_missing_optional_measure_gives_met_with_lower_score() -> None:
    doc = make_doc(
        [*RATIO_MEASURES, measure("flag", "boolean")],
        [ratio("r", "part", "total", ">=", 85, mandatory=True), value("b", "flag", "==", True)],
    )
    village = score(doc, {"part": 19, "total": 20})
    assert (village.status, village.score) == ("met", Decimal("50.0"))


LE_MEASURES = [*RATIO_MEASURES, measure("count", min=0)]


@pytest.mark.parametrize(
    ("indicator", "values", "passed", "attainment", "gap"),
    [
        (ratio("r", "part", "total", "<=", 10), {"part": 3, "total": 20},
         False, Decimal("0.6667"), Gap("part", 1)),
        (ratio("r", "part", "total", "<=", 10), {"part": 2, "total": 20},
         True, Decimal("1.0000"), None),
        (ratio("r", "part", "total", "<=", 0), {"part": 3, "total": 7},
         False, Decimal("0.0000"), Gap("part", 3)),
        (ratio("r", "part", "total", "<=", 0), {"part": 0, "total": 7},
         True, Decimal("1.0000"), None),
        (value("v", "count", "<=", 5), {"count": 7}, False, Decimal("0.7143"), Gap("count", 2)),
        (value("v", "count", "<=", Decimal("4.5")), {"count": 7},
         False, Decimal("0.6429"), Gap("count", 3)),
        (value("v", "count", "<=", 5), {"count": 0}, True, Decimal("1.0000"), None),
    ],
    ids=["ratio-above", "ratio-at", "ratio-zero-target", "ratio-zero-at-zero", "count-above",
         "count-fractional-target", "count-zero"],
)  # fmt: skip
def test_score_at_most_target_gives_attainment_and_gap(
    indicator: dict[str, Any],
    values: dict[str, int],
    passed: bool,
    attainment: Decimal,
    gap: Gap | None,
) -> None:
    result = _one(make_doc(LE_MEASURES, [indicator]), values)
    assert (result.passed, result.attainment, result.gap) == (passed, attainment, gap)


VALUE_MEASURES = [
    measure("flag", "boolean"),
    measure("count", min=0),
    measure("amount", "number"),
]


@pytest.mark.parametrize(
    ("indicator", "values", "shown", "passed", "attainment", "gap"),
    [
        (value("b", "flag", "==", True), {"flag": False}, False, False, Decimal(0),
         Gap("flag", None)),
        (value("b", "flag", "==", True), {"flag": True}, True, True, Decimal(1), None),
        (value("b", "flag", "==", False), {"flag": False}, False, True, Decimal(1), None),
        (value("c", "count", ">=", 5), {"count": 2}, 2, False, Decimal("0.4000"),
         Gap("count", 3)),
        (value("c", "count", ">=", 5), {"count": 5}, 5, True, Decimal(1), None),
        (value("c", "count", ">=", Decimal("2.5")), {"count": 2}, 2, False, Decimal("0.8000"),
         Gap("count", 1)),
        (value("c", "count", ">=", 0), {"count": 0}, 0, True, Decimal(1), None),
        (value("c", "count", "==", 3), {"count": 4}, 4, False, Decimal(0), Gap("count", None)),
        (value("n", "amount", ">=", Decimal("12.5")), {"amount": Decimal("10.1")},
         Decimal("10.1"), False, Decimal("0.8080"), Gap("amount", Decimal("2.4"))),
        (value("n", "amount", "<=", Decimal("12.5")), {"amount": Decimal("15.25")},
         Decimal("15.25"), False, Decimal("0.8197"), Gap("amount", Decimal("2.75"))),
        (value("n", "amount", ">=", 3), {"amount": Decimal("-1")}, Decimal("-1"), False,
         Decimal(0), Gap("amount", Decimal(4))),
    ],
    ids=["bool-false", "bool-true", "bool-target-false", "count-2-of-5", "count-at-target",
         "count-fractional-target", "count-zero-target", "count-equals", "number-at-least",
         "number-at-most", "number-negative"],
)  # fmt: skip
def test_score_value_indicator_gives_result_and_gap(
    indicator: dict[str, Any],
    values: dict[str, Any],
    shown: Any,
    passed: bool,
    attainment: Decimal,
    gap: Gap | None,
) -> None:
    result = _one(make_doc(VALUE_MEASURES, [indicator]), values)
    assert result.value == shown
    assert type(result.value) is type(shown)
    assert (result.passed, result.attainment, result.gap) == (passed, attainment, gap)


@pytest.mark.parametrize(
    ("weights", "counts", "expected"),
    [
        ((1, 1), (200, 169), Decimal("92.3")),
        ((1, 1), (200, 170), Decimal("92.5")),
        ((1, 2), (200, 0), Decimal("33.3")),
        ((1, 2), (100, 200), Decimal("83.3")),
        ((1, 1), (0, 0), Decimal("0.0")),
        ((Decimal("0.5"), Decimal("1.5")), (200, 199), Decimal("99.6")),
    ],
    ids=["x.x5-rounds-up", "exact", "one-third", "five-sixths", "zero", "decimal-weights"],
)
def test_score_weighted_attainments_gives_half_up_one_decimal(
    weights: tuple[Any, Any], counts: tuple[int, int], expected: Decimal
) -> None:
    doc = make_doc(
        [measure("a", min=0), measure("b", min=0)],
        [
            value("A", "a", ">=", 200, weight=weights[0]),
            value("B", "b", ">=", 200, weight=weights[1]),
        ],
    )
    assert score(doc, {"a": counts[0], "b": counts[1]}).score == expected


def test_score_uses_exact_attainments_not_rounded_ones() -> None:
    doc = make_doc([measure("a", min=0)], [value("A", "a", ">=", 20_000_000)])
    village = score(doc, {"a": 18_489_999})
    assert village.indicators[0].attainment == Decimal("0.9245")
    assert village.score == Decimal("92.4")


@pytest.mark.parametrize(
    ("x", "places", "expected"),
    [
        (Fraction(1, 8), 2, "0.13"),
        (Fraction(-1, 8), 2, "-0.13"),
        (Fraction(5, 2), 0, "3"),
        (Fraction(-5, 2), 0, "-3"),
        (Fraction(1, 3), 4, "0.3333"),
        (Fraction(-1, 1000), 2, "0.00"),
        (Fraction(1845, 20), 1, "92.3"),
    ],
    ids=["eighth", "minus-eighth", "half", "minus-half", "third", "tiny-negative", "x.x5"],
)
def test_round_half_up_fraction_gives_exact_decimal(
    x: Fraction, places: int, expected: str
) -> None:
    result = round_half_up(x, places)
    assert str(result) == expected


REFERENCE = load_set(REFERENCE_SET)
THON_DONG = {
    "households_total": 200,
    "households_with_fibre": 170,
    "households_with_4g5g_coverage": 200,
    "households_with_digital_address": 200,
    "households_with_epayment": 185,
    "households_in_group": 160,
    "cultural_house_wifi": True,
    "tcns_team_active": True,
    "team_members": 5,
    "active_village_groups": 3,
    "outlets_total": 12,
    "outlets_accepting_qr": 12,
    "adults_total": 200,
    "adults_with_smartphone": 185,
}


def test_score_thon_dong_ha_nam_figures_gives_met() -> None:
    village = score(REFERENCE, validate_values(REFERENCE, THON_DONG))
    by_code = {r.code: r for r in village.indicators}
    assert village.status == "met"
    assert by_code["HTS.1.1"].value == Decimal("85.00")
    assert by_code["XHS.1.1"].value == Decimal("92.50")
    assert by_code["HTS.3.1"].value == Decimal("100.00")
    assert by_code["CQS.2.1"].value == 3
    assert all(r.passed for r in village.indicators if r.mandatory)
    missing = {r.code for r in village.indicators if r.value is None}
    assert missing == {"HTS.2.2", "HTS.2.3", "CQS.2.3", "CQS.3.1", "CQS.3.2", "KTS.2.1",
                       "KTS.2.2", "XHS.1.2"}  # fmt: skip
    # 8 mandatory x 10 + team (5) + digital address (5) + Zalo households (5) pass, of 135
    assert village.score == Decimal("70.4")


def test_score_thon_dong_one_less_fibre_misses_with_gap() -> None:
    values = {**THON_DONG, "households_with_fibre": 159}
    village = score(REFERENCE, values)
    fibre = village.indicators[0]
    assert village.status == "not_met"
    assert (fibre.value, fibre.passed, fibre.gap) == (
        Decimal("79.50"),
        False,
        Gap("households_with_fibre", 1),
    )


def test_score_same_document_twice_gives_equal_results() -> None:
    assert score(REFERENCE, THON_DONG) == score(REFERENCE, THON_DONG)
