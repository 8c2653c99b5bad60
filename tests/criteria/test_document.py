from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from criteria.document import (
    CriteriaDocument,
    DocumentInvalid,
    Issue,
    parse_document,
)
from criteria.loader import REFERENCE_SET, SETS_DIR, bundled_sets, load_document_file, load_set
from criteria.periods import Period
from tests.criteria.factories import NAME, base_doc

Doc = dict[str, Any]
IND = ("criteria", 0, "indicators")


def _ind(doc: Doc, j: int) -> dict[str, Any]:
    indicator: dict[str, Any] = doc["criteria"][0]["indicators"][j]
    return indicator


def _refusal(doc: Doc) -> set[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(DocumentInvalid) as info:
        parse_document(doc)
    return {(issue.loc, issue.code) for issue in info.value.issues}


@pytest.mark.parametrize("path", bundled_sets(), ids=lambda p: p.stem)
def test_load_bundled_set_gives_valid_document(path: Path) -> None:
    doc = load_set(path)
    assert isinstance(doc, CriteriaDocument)
    assert doc.effective_period.kind == doc.period_type


def test_load_reference_set_gives_nineteen_indicators_eight_mandatory() -> None:
    doc = load_set(REFERENCE_SET)
    pairs = doc.indicators()
    assert (doc.code, doc.version, doc.scope) == ("ttm-reference", 1, "national")
    assert doc.effective_period == Period(2024, 1)
    assert len(pairs) == 19
    assert sorted(i.code for _, i in pairs if i.mandatory) == [
        "CQS.1.1",
        "CQS.2.1",
        "HTS.1.1",
        "HTS.1.2",
        "HTS.2.1",
        "KTS.1.1",
        "KTS.1.2",
        "XHS.1.1",
    ]
    assert {c.group for c in doc.criteria} == {
        "digital_infrastructure",
        "digital_governance",
        "digital_economy",
        "digital_society",
    }
    assert {i.weight for _, i in pairs if i.mandatory} == {Decimal(10)}
    assert {i.weight for _, i in pairs if not i.mandatory} == {Decimal(5)}


def test_load_lao_cai_set_gives_year_set_for_province_15() -> None:
    doc = load_set(SETS_DIR / "ttm-lao-cai.yaml")
    assert (doc.scope, doc.period_type, doc.effective_from) == ("15", "year", "2024")
    assert len(doc.indicators()) == 5
    assert sum(i.mandatory for _, i in doc.indicators()) == 3


def test_load_json_file_gives_same_document(tmp_path: Path) -> None:
    import json

    doc = load_set(REFERENCE_SET)
    path = tmp_path / "set.json"
    path.write_text(json.dumps(doc.model_dump(mode="json")), encoding="utf-8")
    assert load_set(path) == doc


@pytest.mark.parametrize(
    ("name", "text"),
    [("set.txt", "code: x"), ("set.yaml", "- a\n- b\n")],
    ids=["unknown-suffix", "not-a-mapping"],
)
def test_load_bad_file_raises_value_error(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"expected|mapping"):
        load_document_file(path)


@pytest.mark.parametrize(
    ("target", "expected"),
    [(True, True), (85, 85), (12.5, Decimal("12.5")), ("12.50", Decimal("12.50"))],
    ids=["bool-stays-bool", "int-stays-int", "float-becomes-decimal", "text-becomes-decimal"],
)
def test_parse_target_value_keeps_its_type(target: Any, expected: Any) -> None:
    doc = base_doc()
    _ind(doc, 1)["target"]["value"] = target if isinstance(target, bool) else True
    _ind(doc, 0)["target"]["value"] = 50 if isinstance(target, bool) else target
    value = parse_document(doc).criteria[0].indicators[1 if isinstance(target, bool) else 0]
    assert value.target.value == expected
    assert type(value.target.value) is type(expected)


def test_parse_names_gives_nfc_text() -> None:
    doc = base_doc()
    doc["title"] = {"vi": "  Tho\u0302n Đông ", "en": "Village"}
    assert parse_document(doc).title.vi == "Thôn Đông"


def test_parse_yaml_year_number_gives_period_text() -> None:
    doc = base_doc()
    doc.update(period_type="year", effective_from=2025)
    assert parse_document(doc).effective_period == Period(2025)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _delete(path: tuple[Any, ...]) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return apply


def _append(path: tuple[Any, ...], item: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node: Any = doc
        for key in path:
            node = node[key]
        node.append(item)

    return apply


_FLAG_AGAIN = {"code": "flag", "name": NAME, "type": "boolean"}
_C1_AGAIN = {
    "code": "C1",
    "group": "g",
    "name": NAME,
    "indicators": [
        {
            "code": "J1",
            "name": NAME,
            "kind": "value",
            "measure": "flag",
            "target": {"op": "==", "value": True},
            "weight": 1,
        }
    ],
}
_I1_AGAIN = {
    "code": "C2",
    "group": "g",
    "name": NAME,
    "indicators": [
        {
            "code": "I1",
            "name": NAME,
            "kind": "value",
            "measure": "flag",
            "target": {"op": "==", "value": True},
            "weight": 1,
        }
    ],
}
M = "measures"
UT = "unattainable_target"


def _ind_set(j: int, field: str, value: Any) -> Callable[[Doc], None]:
    return _set(("criteria", 0, "indicators", j, field), value)


def _at(j: int, *rest: str) -> tuple[str | int, ...]:
    return (*IND, j, *rest)


REFUSALS: list[tuple[Callable[[Doc], None], tuple[str | int, ...], str]] = [
    (_ind_set(0, "numerator", "nope"), _at(0, "numerator"), "unknown_measure"),
    (_ind_set(0, "denominator", "nope"), _at(0, "denominator"), "unknown_measure"),
    (_ind_set(1, "measure", "nope"), _at(1, "measure"), "unknown_measure"),
    (_set((M, 1, "max_ref"), "nope"), (M, 1, "max_ref"), "unknown_measure"),
    (_append((M,), _FLAG_AGAIN), (M, 5, "code"), "duplicate_code"),
    (_append(("criteria",), _C1_AGAIN), ("criteria", 1, "code"), "duplicate_code"),
    (_append(("criteria",), _I1_AGAIN), ("criteria", 1, "indicators", 0, "code"), "duplicate_code"),
    (_ind_set(0, "numerator", "flag"), _at(0, "numerator"), "ratio_needs_numeric_measure"),
    (_ind_set(0, "denominator", "flag"), _at(0, "denominator"), "ratio_needs_numeric_measure"),
    (_delete((*IND, 0, "denominator")), _at(0, "denominator"), "missing_field"),
    (_delete((*IND, 1, "measure")), _at(1, "measure"), "missing_field"),
    (_ind_set(0, "measure", "total"), _at(0, "measure"), "field_not_allowed"),
    (_ind_set(1, "numerator", "part"), _at(1, "numerator"), "field_not_allowed"),
    (_ind_set(1, "target", {"op": ">=", "value": True}), _at(1, "target", "op"), UT),
    (_ind_set(1, "target", {"op": "==", "value": 1}), _at(1, "target", "value"), UT),
    (_ind_set(2, "target", {"op": ">=", "value": True}), _at(2, "target", "value"), UT),
    (_ind_set(0, "target", {"op": ">=", "value": True}), _at(0, "target", "value"), UT),
    (_ind_set(2, "target", {"op": "==", "value": 2.5}), _at(2, "target", "value"), UT),
    (_ind_set(2, "target", {"op": ">=", "value": 11}), _at(2, "target", "value"), UT),
    (_ind_set(3, "target", {"op": "<=", "value": -1}), _at(3, "target", "value"), UT),
    (_ind_set(0, "target", {"op": ">=", "value": 100.5}), _at(0, "target", "value"), UT),
    (_ind_set(0, "target", {"op": "<=", "value": -5}), _at(0, "target", "value"), UT),
    (_set((M, 1, "max_ref"), "part"), (M, 1, "max_ref"), "bad_max_ref"),
    (_set((M, 1, "max_ref"), "flag"), (M, 1, "max_ref"), "bad_max_ref"),
    (_set((M, 3, "min"), 20), (M, 3, "min"), "bad_bounds"),
    (_set((M, 2, "min"), 0), (M, 2, "min"), "bad_bounds"),
    (_set((M, 3, "max"), 9.5), (M, 3, "max"), "bad_bounds"),
    (_set(("effective_from",), "2024"), ("effective_from",), "bad_period"),
    (_set(("effective_from",), "2024Q5"), ("effective_from",), "bad_period"),
    (_ind_set(0, "weight", 0), _at(0, "weight"), "bad_weight"),
    (_ind_set(1, "weight", -1), _at(1, "weight"), "bad_weight"),
    (_ind_set(0, "colour", "red"), _at(0, "colour"), "extra_forbidden"),
    (_set(("code",), "TTM_Set"), ("code",), "string_pattern_mismatch"),
    (_set((M, 0, "code"), "Total"), (M, 0, "code"), "string_pattern_mismatch"),
    (_set(("scope",), "1"), ("scope",), "string_pattern_mismatch"),
    (_set(("scope",), "١٥"), ("scope",), "string_pattern_mismatch"),
    (_set(("version",), 0), ("version",), "greater_than_equal"),
    (_set(("title", "vi"), "  "), ("title", "vi"), "value_error"),
    (_delete(("title",)), ("title",), "missing"),
    (_set(("criteria", 0, "indicators"), []), ("criteria", 0, "indicators"), "too_short"),
    (_ind_set(0, "target", {"op": ">=", "value": "yes"}), _at(0, "target", "value"), "value_error"),
]
REFUSAL_IDS = [
    "unknown-numerator",
    "unknown-denominator",
    "unknown-value-measure",
    "unknown-max-ref",
    "duplicate-measure",
    "duplicate-criterion",
    "duplicate-indicator-across-criteria",
    "boolean-numerator",
    "boolean-denominator",
    "ratio-without-denominator",
    "value-without-measure",
    "measure-on-ratio",
    "numerator-on-value",
    "boolean-op-ge",
    "boolean-target-number",
    "integer-target-bool",
    "ratio-target-bool",
    "integer-equals-fraction",
    "target-above-max",
    "target-below-min",
    "ratio-above-100",
    "ratio-below-0",
    "max-ref-itself",
    "max-ref-boolean",
    "min-above-max",
    "boolean-with-min",
    "integer-fractional-max",
    "year-for-quarter-set",
    "quarter-5",
    "weight-zero",
    "weight-negative",
    "extra-field",
    "set-code-pattern",
    "measure-code-pattern",
    "scope-one-digit",
    "scope-arabic-digits",
    "version-zero",
    "blank-name",
    "missing-title",
    "no-indicators",
    "target-text",
]


@pytest.mark.parametrize(("mutate", "loc", "code"), REFUSALS, ids=REFUSAL_IDS)
def test_parse_faulty_document_raises_issue_at_loc(
    mutate: Callable[[Doc], None], loc: tuple[str | int, ...], code: str
) -> None:
    doc = base_doc()
    mutate(doc)
    assert _refusal(doc) == {(loc, code)}


def test_parse_many_faults_reports_all_issues_at_once() -> None:
    doc = base_doc()
    _set((M, 1, "max_ref"), "nope")(doc)
    _set(("criteria", 0, "indicators", 1, "measure"), "nope")(doc)
    _set(("criteria", 0, "indicators", 3, "weight"), 0)(doc)
    _set(("effective_from",), "2024")(doc)
    assert _refusal(doc) == {
        ((M, 1, "max_ref"), "unknown_measure"),
        ((*IND, 1, "measure"), "unknown_measure"),
        ((*IND, 3, "weight"), "bad_weight"),
        (("effective_from",), "bad_period"),
    }


def test_parse_many_structure_faults_reports_all_pydantic_issues() -> None:
    doc = base_doc()
    doc["code"] = "Bad Code"
    doc["extra"] = 1
    del doc["criteria"][0]["indicators"][0]["kind"]
    assert _refusal(doc) == {
        (("code",), "string_pattern_mismatch"),
        (("extra",), "extra_forbidden"),
        ((*IND, 0, "kind"), "missing"),
    }


def test_parse_not_a_mapping_raises_document_invalid() -> None:
    with pytest.raises(DocumentInvalid) as info:
        parse_document([1, 2])  # type: ignore[arg-type]
    assert info.value.issues[0].loc == ()


def test_document_invalid_message_names_first_issue() -> None:
    error = DocumentInvalid([Issue(("measures", 1, "max_ref"), "unknown_measure", "x")])
    assert "unknown_measure at measures.1.max_ref" in str(error)


def test_measure_lookup_unknown_code_raises_key_error() -> None:
    doc = parse_document(base_doc())
    assert doc.measure("part").max_ref == "total"
    with pytest.raises(KeyError):
        doc.measure("nope")


def test_indicators_lists_pairs_in_document_order() -> None:
    doc = parse_document(base_doc())
    assert [(c.code, i.code) for c, i in doc.indicators()] == [
        ("C1", "I1"),
        ("C1", "I2"),
        ("C1", "I3"),
        ("C1", "I4"),
    ]


def test_dump_json_gives_numbers_not_strings() -> None:
    dumped = parse_document(base_doc()).model_dump(mode="json")
    indicator = dumped["criteria"][0]["indicators"][3]
    assert indicator["target"]["value"] == 12.5
    assert indicator["weight"] == 5
    assert dumped["measures"][0]["min"] == 1
