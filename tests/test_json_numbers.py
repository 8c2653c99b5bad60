"""Every place a Decimal leaves as JSON follows one rule: its written form is kept."""

import json
from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from api.services.submissions import _json_value
from criteria.schema import Num, TargetValue
from models.base import JsonNumber

CASES = [("2.0", "2.0"), ("2", "2"), ("2.50", "2.5")]
RENDERINGS = {
    "models.base.JsonNumber": lambda d: TypeAdapter(JsonNumber).dump_json(d).decode(),
    "criteria.schema.Num": lambda d: TypeAdapter(Num).dump_json(d).decode(),
    "criteria.schema.TargetValue": lambda d: TypeAdapter(TargetValue).dump_json(d).decode(),
    "submission values": lambda d: json.dumps(_json_value(d)),
}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("render", RENDERINGS.values(), ids=list(RENDERINGS))
def test_decimal_renders_the_same_json_everywhere(render, text: str, expected: str) -> None:
    assert render(Decimal(text)) == expected
