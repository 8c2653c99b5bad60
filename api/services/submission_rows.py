"""Reading a submissions file (CSV `village_code,period,<measures…>` or a JSON array) into
rows, and CSV cells into the JSON types their measures expect."""

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from api.services.import_common import FileProblem, decode_text, json_array, row_error
from api.services.versions import ActiveVersion
from models.imports import ImportErrorPublic

CHUNK = 500
_INTEGER = re.compile(r"-?[0-9]+")


@dataclass
class Item:
    row: int
    village_code: str
    period_text: str
    values: dict[str, Any]


@dataclass
class Batch:
    items: list[Item] = field(default_factory=list)
    errors: list[ImportErrorPublic] = field(default_factory=list)
    total: int = 0


def read_rows(kind: str, data: bytes) -> Batch:
    text = decode_text(data)
    batch = Batch()
    batch.items = _csv_items(text, batch) if kind == "csv" else _json_items(text, batch)
    return batch


def _csv_items(text: str, batch: Batch) -> list[Item]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip() for cell in next(reader, [])]
    if header[:2] != ["village_code", "period"] or len(header) < 3:
        raise FileProblem("invalid_header", "the header must be village_code,period,<measures…>")
    items = []
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        batch.total += 1
        if len(cells) != len(header):
            message = f"expected {len(header)} cells, found {len(cells)}"
            batch.errors.append(row_error(number, None, "wrong_cell_count", message))
            continue
        cells = [c.strip() for c in cells]
        values = {m: c for m, c in zip(header[2:], cells[2:], strict=True) if c != ""}
        items.append(Item(number, cells[0], cells[1], values))
    return items


def _json_items(text: str, batch: Batch) -> list[Item]:
    document = json_array(text, "submissions")
    batch.total = len(document)
    items = []
    for number, obj in enumerate(document, start=1):
        ok = isinstance(obj, dict) and isinstance(obj.get("values"), dict)
        if not ok or not isinstance(obj.get("village_code"), str):
            message = "each item must be {village_code, period, values: {…}}"
            batch.errors.append(row_error(number, None, "not_a_submission", message))
            continue
        items.append(Item(number, obj["village_code"], str(obj.get("period", "")), obj["values"]))
    return items


def typed_values(version: ActiveVersion, values: dict[str, Any]) -> dict[str, Any]:
    """CSV text → the JSON types the measures expect (anything else is left for a 422)."""
    types = {m.code: m.type for m in version.doc.measures}
    out: dict[str, Any] = {}
    for code, raw in values.items():
        kind = types.get(code)
        out[code] = _cell(kind, raw) if isinstance(raw, str) else raw
    return out


def _cell(kind: str | None, raw: str) -> Any:
    if kind == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(raw.lower(), raw)
    if kind == "integer" and _INTEGER.fullmatch(raw):
        return int(raw)
    if kind == "number":
        try:
            return float(Decimal(raw))
        except InvalidOperation:
            return raw
    return raw
