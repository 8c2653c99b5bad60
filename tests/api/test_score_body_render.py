"""`score_body` renders with orjson from plain dicts; its bytes parse to exactly the JSON
pydantic renders from `ScorePublic` (the schema that documents the answer), for every
kind of result: ratios, counts, numbers, booleans, each op, missing and not applicable."""

import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.core.etags import etag_for
from api.seed.generate import draw_values, households, value_plan
from api.services.score_body import ScoreFacts, score_body, score_public
from api.services.scoring import clean_values
from criteria.engine import VillageScore, score
from criteria.loader import REFERENCE_SET, SETS_DIR, load_set
from criteria.rounding import json_number
from tests.criteria.factories import make_doc, measure, ratio, value

MIXED = make_doc(
    [
        measure("total", min=0),
        measure("part", min=0, max_ref="total"),
        measure("count", min=0),
        measure("amount", "number", min=0),
        measure("flag", "boolean"),
    ],
    [
        ratio("r_ge", "part", "total", ">=", Decimal("85.5"), mandatory=True),
        ratio("r_le", "part", "total", "<=", 40),
        ratio("r_eq", "part", "total", "==", 50),
        value("c_ge", "count", ">=", 3, weight=Decimal("2.5")),
        value("c_le", "count", "<=", 7),
        value("n_ge", "amount", ">=", Decimal("12.25")),
        value("n_le", "amount", "<=", Decimal("1E+1")),
        value("flag", "flag", "==", True, mandatory=True),
    ],
)
WHEN = (
    datetime(2026, 3, 31, 10, 0, tzinfo=UTC),
    datetime(2026, 3, 31, 10, 0, 0, 120_000, tzinfo=UTC),
)


def _facts(when: datetime, status: str = "submitted") -> ScoreFacts:
    return ScoreFacts("37-13402-DONG", "2026Q1", "ttm-reference", 3, status, 2, when)


def _assert_same(facts: ScoreFacts, result: VillageScore) -> None:
    body, etag = score_body(facts, result)
    assert json.loads(body) == json.loads(score_public(facts, result).model_dump_json())
    assert etag == etag_for(body)


numbers = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False)
mixed_values = st.fixed_dictionaries(
    {},
    optional={
        "total": st.integers(min_value=0, max_value=5000),
        "count": st.integers(min_value=0, max_value=20),
        "amount": st.one_of(numbers, st.floats(min_value=0, max_value=1e6)),
        "flag": st.booleans(),
    },
)


shares = st.fractions(min_value=0, max_value=1)


@settings(max_examples=400, deadline=None)
@given(values=mixed_values, share=shares, when=st.sampled_from(WHEN))
def test_every_kind_of_result_renders_as_score_public(
    values: dict[str, Any], share: Any, when: datetime
) -> None:
    if "total" in values:
        values["part"] = int(values["total"] * share)
    _assert_same(_facts(when), score(MIXED, clean_values(values)))


@pytest.mark.parametrize("document", ["ttm-reference.yaml", "ttm-lao-cai.yaml"])
def test_generated_villages_render_as_score_public(document: str) -> None:
    doc = load_set(SETS_DIR / document)
    rng, plan = random.Random(11), value_plan(doc)
    for n in range(300):
        drawn = draw_values(rng, plan, households(rng), rng.gauss(0.0, 12.0), rng.random())
        kept = {k: v for k, v in drawn.items() if rng.random() >= 0.05}
        stored = json.loads(json.dumps(kept))
        facts = _facts(WHEN[n % 2], "approved" if n % 3 else "submitted")
        _assert_same(facts, score(doc, clean_values(stored)))


def test_an_empty_submission_renders_as_score_public() -> None:
    _assert_same(_facts(WHEN[0]), score(load_set(REFERENCE_SET), {}))


@settings(max_examples=500, deadline=None)
@given(number=st.decimals(allow_nan=False) | st.sampled_from([Decimal("-0"), Decimal("5E+3")]))
def test_json_number_follows_the_written_exponent(number: Decimal) -> None:
    shown = json_number(number)
    if number.is_finite() and number.as_tuple().exponent == 0:
        assert type(shown) is int
        assert shown == int(number)
    else:
        assert type(shown) is float
        assert shown == float(number)
