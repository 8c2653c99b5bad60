"""Reporting periods: a quarter ("2026Q3") or a year ("2026")."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["VN_TZ", "Period", "today_vn"]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_PATTERN = re.compile(r"([0-9]{4})(?:Q([1-4]))?", re.ASCII)
_MIN_YEAR = 1900
_MAX_YEAR = 2999


def today_vn() -> date:
    """Return today's date in Vietnam (Asia/Ho_Chi_Minh)."""
    return datetime.now(VN_TZ).date()


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: `quarter` 1-4, or None for a whole year.

    Ordering is by (year, quarter) with a year period sorting just before that year's
    quarters; it is meaningful for sorting periods of one kind.
    """

    year: int = field(compare=False)
    quarter: int | None = field(default=None, compare=False)
    _key: tuple[int, int] = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise ValueError(f"period year must be an integer, got {self.year!r}")
        if not _MIN_YEAR <= self.year <= _MAX_YEAR:
            raise ValueError(f"period year must be {_MIN_YEAR}-{_MAX_YEAR}, got {self.year}")
        q = self.quarter
        if q is not None and (isinstance(q, bool) or q not in (1, 2, 3, 4)):
            raise ValueError(f"quarter must be 1-4 or None, got {q!r}")
        object.__setattr__(self, "_key", (self.year, 0 if q is None else q))

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse "YYYYQn" (n 1-4) or "YYYY" (1900-2999); raise ValueError otherwise."""
        match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"invalid period {text!r}: expected a year like '2026' or a quarter like '2026Q3'"
            )
        quarter = match.group(2)
        return cls(int(match.group(1)), None if quarter is None else int(quarter))

    @property
    def kind(self) -> Literal["quarter", "year"]:
        """Return "quarter" or "year"."""
        return "year" if self.quarter is None else "quarter"

    @property
    def start(self) -> date:
        """Return the first day of the period."""
        month = 1 if self.quarter is None else 3 * self.quarter - 2
        return date(self.year, month, 1)

    @property
    def end(self) -> date:
        """Return the last day of the period."""
        month = 12 if self.quarter is None else 3 * self.quarter
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def is_future(self, today: date | None = None) -> bool:
        """Return True when the period starts after `today` (default: today in Vietnam)."""
        return self.start > (today_vn() if today is None else today)

    def __str__(self) -> str:
        return f"{self.year}" if self.quarter is None else f"{self.year}Q{self.quarter}"
