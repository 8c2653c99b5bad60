from datetime import date

import pytest

from criteria.periods import Period, today_vn


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026Q3", Period(2026, 3)),
        ("2026Q1", Period(2026, 1)),
        ("2026", Period(2026, None)),
        ("1900", Period(1900)),
        ("2999Q4", Period(2999, 4)),
    ],
    ids=["quarter", "first-quarter", "year", "lowest-year", "highest-quarter"],
)
def test_parse_valid_text_gives_period(text: str, expected: Period) -> None:
    period = Period.parse(text)
    assert period == expected
    assert str(period) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026Q5",
        "2026Q0",
        "26Q1",
        "٢٠٢٦",
        "２０２６",
        "2026q3",
        "2026-Q3",
        "2026\n",
        " 2026",
        "1899",
        "3000",
        "",
        "2026Q",
        "20261",
    ],
    ids=[
        "quarter-5",
        "quarter-0",
        "two-digit-year",
        "arabic-indic-digits",
        "fullwidth-digits",
        "lower-q",
        "dash",
        "trailing-newline",
        "leading-space",
        "year-too-low",
        "year-too-high",
        "empty",
        "no-quarter-number",
        "five-digits",
    ],
)
def test_parse_invalid_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid period|period year"):
        Period.parse(text)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026Q1", "quarter", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026Q2", "quarter", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026Q3", "quarter", date(2026, 7, 1), date(2026, 9, 30)),
        ("2024Q4", "quarter", date(2024, 10, 1), date(2024, 12, 31)),
        ("2024", "year", date(2024, 1, 1), date(2024, 12, 31)),
    ],
    ids=["q1", "q2", "q3", "q4", "year"],
)
def test_period_bounds_give_first_and_last_day(
    text: str, kind: str, start: date, end: date
) -> None:
    period = Period.parse(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)


@pytest.mark.parametrize(
    ("text", "today", "future"),
    [
        ("2026Q3", date(2026, 7, 1), False),
        ("2026Q3", date(2026, 6, 30), True),
        ("2026Q3", date(2026, 9, 30), False),
        ("2026Q2", date(2026, 7, 1), False),
        ("2027", date(2027, 1, 1), False),
        ("2027", date(2026, 12, 31), True),
    ],
    ids=[
        "first-day-current",
        "day-before",
        "last-day",
        "past",
        "year-first-day",
        "year-day-before",
    ],
)
def test_is_future_at_boundaries_gives_expected(text: str, today: date, future: bool) -> None:
    assert Period.parse(text).is_future(today) is future


def test_is_future_without_today_uses_vietnam_date() -> None:
    today = today_vn()
    current = Period(today.year, (today.month - 1) // 3 + 1)
    assert current.is_future() is False
    assert Period(today.year + 1).is_future() is True


def test_sort_periods_orders_by_time() -> None:
    periods = [Period.parse(t) for t in ["2026Q1", "2025Q4", "2026Q3", "2025Q1"]]
    assert [str(p) for p in sorted(periods)] == ["2025Q1", "2025Q4", "2026Q1", "2026Q3"]
    assert Period(2025) < Period(2025, 1) < Period(2026)


@pytest.mark.parametrize(
    ("year", "quarter"),
    [(2026, 5), (2026, 0), (1899, None), (True, None)],
    ids=["quarter-5", "quarter-0", "year-too-low", "bool-year"],
)
def test_construct_bad_fields_raises_value_error(year: int, quarter: int | None) -> None:
    with pytest.raises(ValueError, match=r"quarter|year"):
        Period(year, quarter)


def test_period_is_hashable_and_equal_by_value() -> None:
    assert len({Period(2026, 3), Period.parse("2026Q3"), Period(2026)}) == 2
