"""What every bulk import shares: the uploaded body, its kind, row errors and the refusal."""

import json
from dataclasses import dataclass
from typing import Any

from api.problems import FieldError, Unprocessable, UnsupportedMediaType
from models.imports import ImportErrorPublic, ImportReportPublic

CSV_TYPES = frozenset({"text/csv", "application/csv"})
MAX_LISTED_ERRORS = 1000


@dataclass(frozen=True)
class ImportBody:
    """An uploaded payload: its media type, file name (multipart only) and bytes."""

    media_type: str | None
    filename: str | None
    data: bytes


class FileProblem(Exception):
    """The payload as a whole cannot be read (encoding, JSON syntax, CSV header)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = ImportErrorPublic(row=0, column=None, code=code, message=message)


def rejected(dry_run: bool, rows: int, errors: list[ImportErrorPublic]) -> Unprocessable:
    listed = sorted(errors, key=lambda e: e.row)[:MAX_LISTED_ERRORS]
    more = f" (the first {MAX_LISTED_ERRORS} are listed)" if len(errors) > len(listed) else ""
    report = ImportReportPublic(
        dry_run=dry_run, rows=rows, created=0, updated=0, unchanged=0, errors=listed
    )
    extra = report.model_dump()
    extra["errors"] = [problem_entry(e) for e in listed]
    detail = f"{len(errors)} error(s){more}; nothing was imported."
    return Unprocessable(detail, extra=extra)


def problem_entry(error: ImportErrorPublic) -> dict[str, Any]:
    """The report's error plus the `field`/`pointer`/`detail` every 422 of this API carries."""
    path = f"{error.row - 1}.{error.column or ''}".rstrip(".") if error.row else error.column
    generic = FieldError(path or "", error.code, error.message).as_dict()
    return {**generic, **error.model_dump()}


def body_kind(body: ImportBody) -> str:
    """`csv` or `json`, from the media type, else the file name's extension; else 415."""
    media = (body.media_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        return "csv"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    extension = (body.filename or "").rpartition(".")[2].lower()
    if body.filename and extension in ("csv", "json"):
        return extension
    raise UnsupportedMediaType(
        f"Cannot import {media or 'an untyped body'}: send text/csv or application/json, "
        "or a multipart `file` part that is one of them (or named *.csv / *.json)."
    )


def row_error(row: int, column: str | None, code: str, message: str) -> ImportErrorPublic:
    return ImportErrorPublic(row=row, column=column, code=code, message=message)


def decode_text(data: bytes) -> str:
    """The upload as text (UTF-8, a byte-order mark allowed), or a whole-file problem."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem("invalid_encoding", f"the file is not UTF-8: {exc}") from None


def json_array(text: str, what: str) -> list[Any]:
    """A JSON array of `what`, or a whole-file problem."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem("invalid_json", f"the body is not JSON: {exc}") from None
    if not isinstance(document, list):
        raise FileProblem("not_an_array", f"the body must be a JSON array of {what}")
    return document
