"""The explained score a village's read returns, rendered once by the write that scores it.

`score_body` is the one place the answer to `GET /villages/{code}/score` is built: scoring
stores its bytes and ETag beside the score (`score.body`, `score.etag`), and a read sends
them unchanged; a row scored before those columns existed is rendered here on the fly.

The bytes are orjson's rendering of plain dicts, which parse to exactly the JSON of
`score_public(...).model_dump_json()` (the `ScorePublic` schema, which documents the
answer; tests/api/test_score_body_render.py compares both): pydantic took ~170 µs a
score, orjson ~20 µs, and a nation's rescore renders 360,000 of them.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from api.core.etags import etag_for
from criteria.engine import IndicatorResult, VillageScore
from criteria.rounding import json_number
from models.scores import (
    CriteriaSetRef,
    GapPublic,
    IndicatorPublic,
    ScorePublic,
    SubmissionRef,
    TargetPublic,
)


@dataclass(frozen=True)
class ScoreFacts:
    """What a stored score says about itself beside the engine's result."""

    village_code: str
    period: str
    criteria_set_code: str
    criteria_set_version: int
    submission_status: str
    submission_revision: int
    computed_at: datetime


def indicator_public(ind: IndicatorResult) -> IndicatorPublic:
    """The API shape of one indicator's result."""
    return IndicatorPublic(
        code=ind.code,
        criterion=ind.criterion,
        kind=ind.kind,
        value=ind.value,
        target=TargetPublic(op=ind.target_op, value=ind.target_value),
        passed=ind.passed,
        applicable=ind.applicable,
        mandatory=ind.mandatory,
        attainment=ind.attainment,
        gap=GapPublic(measure=ind.gap.measure, amount=ind.gap.amount) if ind.gap else None,
    )


def score_public(facts: ScoreFacts, result: VillageScore) -> ScorePublic:
    """The explained score: every indicator with its value, target, gap and attainment."""
    return ScorePublic(
        village_code=facts.village_code,
        period=facts.period,
        criteria_set=CriteriaSetRef(
            code=facts.criteria_set_code, version=facts.criteria_set_version
        ),
        status=result.status,
        score=result.score,
        submission=SubmissionRef(
            status=facts.submission_status, revision=facts.submission_revision
        ),
        indicators=[indicator_public(i) for i in result.indicators],
        computed_at=facts.computed_at,
    )


def indicator_json(ind: IndicatorResult) -> dict[str, Any]:
    """One indicator's result as `IndicatorPublic` renders it, in its field order (orjson
    turns its Decimals into numbers by `json_number`, as `JsonNumber` does)."""
    gap = ind.gap
    return {
        "code": ind.code,
        "criterion": ind.criterion,
        "kind": ind.kind,
        "value": ind.value,
        "target": {"op": ind.target_op, "value": ind.target_value},
        "passed": ind.passed,
        "applicable": ind.applicable,
        "mandatory": ind.mandatory,
        "attainment": ind.attainment,
        "gap": None if gap is None else {"measure": gap.measure, "amount": gap.amount},
    }


def score_json(facts: ScoreFacts, result: VillageScore) -> dict[str, Any]:
    """The explained score as `ScorePublic` renders it, in its field order."""
    return {
        "village_code": facts.village_code,
        "period": facts.period,
        "criteria_set": {"code": facts.criteria_set_code, "version": facts.criteria_set_version},
        "status": result.status,
        "score": result.score,
        "submission": {"status": facts.submission_status, "revision": facts.submission_revision},
        "indicators": [indicator_json(ind) for ind in result.indicators],
        "computed_at": facts.computed_at,
    }


def score_body(facts: ScoreFacts, result: VillageScore) -> tuple[bytes, str]:
    """The explained score as the JSON bytes a read sends, and their ETag."""
    # orjson calls `default` for what it cannot write itself: here only the Decimals
    body = orjson.dumps(score_json(facts, result), default=json_number, option=orjson.OPT_UTC_Z)
    return body, etag_for(body)
