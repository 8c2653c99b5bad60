"""Reading a submissions file (CSV `village_code,period,<measures…>` or a JSON array) into
rows, a chunk at a time, and CSV cells into the JSON types their measures expect."""

import re
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from api.services.import_common import (
    FileProblem,
    ImportBody,
    RowLog,
    csv_records,
    json_items,
    row_error,
)
from api.services.versions import ActiveVersion

CHUNK = 1000
_INTEGER = re.compile(r"-?[0-9]+")


@dataclass
class Item:
    row: int
    village_code: str
    period_text: str
    values: dict[str, Any]


class TooLong(ValueError):
    """A CSV number with more digits than can be read (Python refuses > 4,300)."""


def read_items(kind: str, body: ImportBody, log: RowLog) -> Generator[Item]:
    """Every well-formed row of the file, in order; malformed ones go to `log`."""
    return _csv_items(body, log) if kind == "csv" else _json_items(body, log)


def take(items: Iterator[Item], size: int = CHUNK) -> list[Item]:
    """The next `size` rows (fewer at the end); run it off the event loop."""
    return list(islice(items, size))


def _csv_items(body: ImportBody, log: RowLog) -> Generator[Item]:
    with closing(csv_records(body, log)) as records:
        header = next(records, (0, []))[1]
        if header[:2] != ["village_code", "period"] or len(header) < 3:
            message = "the header must be village_code,period,<measures…>"
            raise FileProblem("invalid_header", message)
        for number, cells in records:
            values = {m: c for m, c in zip(header[2:], cells[2:], strict=True) if c != ""}
            yield Item(number, cells[0], cells[1], values)


def _json_items(body: ImportBody, log: RowLog) -> Generator[Item]:
    with closing(json_items(body, log, nested="values")) as items:
        yield from _submissions(items, log)


def _submissions(items: Iterator[tuple[int, Any]], log: RowLog) -> Iterator[Item]:
    for number, obj in items:
        ok = isinstance(obj, dict) and isinstance(obj.get("values"), dict)
        if not ok or not isinstance(obj.get("village_code"), str):
            message = "each item must be {village_code, period, values: {…}}"
            log.add(row_error(number, None, "not_a_submission", message))
            continue
        yield Item(number, obj["village_code"], str(obj.get("period", "")), obj["values"])


def typed_values(version: ActiveVersion, values: dict[str, Any]) -> dict[str, Any]:
    """CSV text → the JSON types the measures expect (anything else is left for a 422);
    raises TooLong naming the measure whose number has too many digits to read."""
    types = {m.code: m.type for m in version.doc.measures}
    out: dict[str, Any] = {}
    for code, raw in values.items():
        kind = types.get(code)
        try:
            out[code] = _cell(kind, raw) if isinstance(raw, str) else raw
        except ValueError:
            raise TooLong(code) from None
    return out


def _cell(kind: str | None, raw: str) -> Any:
    if kind == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(raw.lower(), raw)
    if kind == "integer" and _INTEGER.fullmatch(raw):
        return int(raw)  # ValueError past Python's 4,300 digits
    if kind == "number":
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return raw
        if number.is_finite() and not -1e308 < number < 1e308:
            raise ValueError(raw)
        return float(number)
    return raw
