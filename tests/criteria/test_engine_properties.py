"""Property-based checks of the scoring engine (gaps are minimal, scores are bounded)."""

from decimal import Decimal
from functools import lru_cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from criteria.document import CriteriaDocument
from criteria.engine import IndicatorResult, score
from criteria.loader import REFERENCE_SET, load_set
from tests.criteria.factories import RATIO_MEASURES, make_doc, measure, ratio, value

REFERENCE = load_set(REFERENCE_SET)

targets = st.one_of(
    st.integers(min_value=0, max_value=100),
    st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False),
)
ops = st.sampled_from([">=", "<="])


@lru_cache(maxsize=256)
def _ratio_doc(op: str, target: int | Decimal) -> CriteriaDocument:
    return make_doc(RATIO_MEASURES, [ratio("r", "part", "total", op, target)])


@lru_cache(maxsize=256)
def _count_doc(op: str, target: int | Decimal) -> CriteriaDocument:
    return make_doc([measure("count", min=0)], [value("c", "count", op, target)])


def _result(doc: CriteriaDocument, values: dict[str, int]) -> IndicatorResult:
    return score(doc, values).indicators[0]


@settings(max_examples=300, deadline=None)
@given(op=ops, target=targets, data=st.data())
def test_ratio_gap_added_to_numerator_passes_and_one_less_does_not(
    op: str, target: int | Decimal, data: st.DataObject
) -> None:
    den = data.draw(st.integers(min_value=1, max_value=2000), label="den")
    num = data.draw(st.integers(min_value=0, max_value=den), label="num")
    doc = _ratio_doc(op, target)
    result = _result(doc, {"part": num, "total": den})
    assert result.passed == (100 * num >= target * den if op == ">=" else 100 * num <= target * den)
    if result.passed:
        assert result.gap is None
        return
    assert result.gap is not None
    amount = result.gap.amount
    assert isinstance(amount, int)
    assert amount >= 1
    step = 1 if op == ">=" else -1
    assert _result(doc, {"part": num + step * amount, "total": den}).passed
    assert not _result(doc, {"part": num + step * (amount - 1), "total": den}).passed


@settings(max_examples=300, deadline=None)
@given(
    op=ops,
    target=st.one_of(
        st.integers(min_value=0, max_value=1000),
        st.decimals(min_value=0, max_value=1000, places=1, allow_nan=False, allow_infinity=False),
    ),
    count=st.integers(min_value=0, max_value=1000),
)
def test_count_gap_added_passes_and_one_less_does_not(
    op: str, target: int | Decimal, count: int
) -> None:
    doc = _count_doc(op, target)
    result = _result(doc, {"count": count})
    if result.passed:
        assert result.gap is None
        return
    assert result.gap is not None
    amount = result.gap.amount
    assert isinstance(amount, int)
    assert amount >= 1
    step = 1 if op == ">=" else -1
    assert _result(doc, {"count": count + step * amount}).passed
    assert not _result(doc, {"count": count + step * (amount - 1)}).passed


def _part(total_key: str, part_key: str) -> st.SearchStrategy[dict[str, int | None]]:
    return st.integers(min_value=0, max_value=500).flatmap(
        lambda total: st.fixed_dictionaries(
            {total_key: st.just(total), part_key: st.integers(min_value=0, max_value=total)}
        )
    )


def _village() -> st.SearchStrategy[dict[str, Any]]:
    parts: list[st.SearchStrategy[dict[str, Any]]] = []
    for m in REFERENCE.measures:
        if m.max_ref is not None:
            parts.append(_part(m.max_ref, m.code))
    pieces = st.tuples(*parts)
    flags = st.fixed_dictionaries(
        {m.code: st.booleans() for m in REFERENCE.measures if m.type == "boolean"}
    )
    counts = st.fixed_dictionaries(
        {
            m.code: st.integers(min_value=0, max_value=10)
            for m in REFERENCE.measures
            if m.type == "integer" and m.max_ref is None
        }
    )
    return st.tuples(pieces, flags, counts).map(_merge)


Parts = tuple[tuple[dict[str, Any], ...], dict[str, Any], dict[str, Any]]


def _merge(parts: Parts) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for piece in parts[0]:
        merged.update(piece)
    merged.update(parts[1])
    for key, number in parts[2].items():
        merged.setdefault(key, number)
    return merged


@settings(max_examples=200, deadline=None)
@given(village=_village(), dropped=st.sets(st.sampled_from([m.code for m in REFERENCE.measures])))
def test_score_random_village_stays_within_bounds(
    village: dict[str, Any], dropped: set[str]
) -> None:
    values = {k: v for k, v in village.items() if k not in dropped}
    result = score(REFERENCE, values)
    assert Decimal(0) <= result.score <= Decimal(100)
    for indicator in result.indicators:
        if indicator.applicable:
            assert indicator.attainment is not None
            assert Decimal(0) <= indicator.attainment <= Decimal(1)
            assert (indicator.attainment == 1) == bool(indicator.passed)
        else:
            assert indicator.attainment is None
            assert indicator.passed is None


@settings(max_examples=100, deadline=None)
@given(totals=st.lists(st.integers(min_value=1, max_value=5000), min_size=6, max_size=6))
def test_score_everything_passing_gives_100_and_met(totals: list[int]) -> None:
    values: dict[str, Any] = {}
    sizes = iter(totals)
    denominators = {m.max_ref for m in REFERENCE.measures}
    for m in REFERENCE.measures:
        if m.type == "boolean":
            values[m.code] = True
        elif m.code in denominators:
            values[m.code] = next(sizes)
        elif m.max_ref is None:
            values[m.code] = 10
    for m in REFERENCE.measures:
        if m.max_ref is not None:
            values[m.code] = values[m.max_ref]
    result = score(REFERENCE, values)
    assert (result.status, result.score) == ("met", Decimal("100.0"))
    assert all(r.gap is None for r in result.indicators)
