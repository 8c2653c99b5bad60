"""What every bulk import shares: the uploaded body, its kind, row errors and the refusal,
and the two streaming readers (CSV records, items of a JSON array) that never hold more
than a record or an item in memory."""

import codecs
import csv
import heapq
import io
import re
from collections.abc import Generator, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from typing import IO, Any

# ijson ships no type hints.
import ijson  # type: ignore[import-untyped]
import ijson.backends.python as ijson_python  # type: ignore[import-untyped]
from ijson import JSONError, ObjectBuilder

from api.core.problems import FieldError, Unprocessable, UnsupportedMediaType
from criteria.text import text_problem
from models.imports import ImportErrorPublic, ImportReportPublic

CSV_TYPES = frozenset({"text/csv", "application/csv"})
MAX_LISTED_ERRORS = 1000
MAX_MESSAGE = 300
READ_SIZE = 64 * 1024
_NUMBER = re.compile(r"Unexpected symbol '(-?[0-9][0-9.eE+-]*)'")


@dataclass(frozen=True)
class ImportLimits:
    """Bounds an upload is read under (`Settings.csv_max_field`, `csv_max_rows`)."""

    max_field: int = 131_072
    max_rows: int = 200_000


@dataclass(frozen=True)
class ImportBody:
    """An uploaded payload: its media type, file name (multipart only), and its bytes or a
    seekable binary file holding them (read again by each pass, never whole)."""

    media_type: str | None
    filename: str | None
    data: bytes | IO[bytes]
    limits: ImportLimits = ImportLimits()

    def open(self) -> IO[bytes]:
        """The payload from its first byte."""
        if isinstance(self.data, bytes):
            return io.BytesIO(self.data)
        self.data.seek(0)
        return self.data


class FileProblem(Exception):
    """The payload as a whole cannot be read (encoding, JSON syntax, CSV header, size)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = row_error(0, None, code, message)


@dataclass
class RowLog:
    """Rows read and the errors found, keeping only the first MAX_LISTED_ERRORS by row."""

    rows: int = 0
    count: int = 0
    _kept: list[tuple[int, int, ImportErrorPublic]] = field(default_factory=list)

    def add(self, error: ImportErrorPublic) -> None:
        self.count += 1
        entry = (-error.row, -self.count, error)  # a max-heap: the latest row goes first
        if len(self._kept) < MAX_LISTED_ERRORS:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:
            heapq.heapreplace(self._kept, entry)

    def listed(self) -> list[ImportErrorPublic]:
        return [error for _, _, error in sorted(self._kept, reverse=True)]


def rejected(dry_run: bool, log: RowLog) -> Unprocessable:
    """The 422 of an import with bad rows: the report plus the generic `errors` fields."""
    listed = log.listed()
    more = f" (the first {len(listed)} are listed)" if log.count > len(listed) else ""
    report = ImportReportPublic(
        dry_run=dry_run, rows=log.rows, created=0, updated=0, unchanged=0, errors=listed
    )
    extra = report.model_dump()
    extra["errors"] = [problem_entry(e) for e in listed]
    return Unprocessable(f"{log.count} error(s){more}; nothing was imported.", extra=extra)


def file_rejected(dry_run: bool, problem: FileProblem) -> Unprocessable:
    log = RowLog()
    log.add(problem.error)
    return rejected(dry_run, log)


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
    """One error; a message quoting a huge cell is cut, so the report stays small."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return ImportErrorPublic(row=row, column=column, code=code, message=message)


def _text_error(row: int, column: str | None, value: str) -> ImportErrorPublic | None:
    problem = text_problem(value)
    if problem is None:
        return None
    what = "a NUL character" if problem == "nul_character" else "an unpaired surrogate"
    return row_error(row, column, problem, f"the text contains {what}")


def _count(log: RowLog, limits: ImportLimits) -> None:
    log.rows += 1
    if log.rows > limits.max_rows:
        raise FileProblem("too_many_rows", f"the file has more than {limits.max_rows} rows")


# --- CSV ----------------------------------------------------------------------------------


class _Lines:
    """The text's lines, remembering those of the record being read (to locate a bad cell)."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text
        self.record: list[str] = []

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self.text.readline()
        if not line:
            raise StopIteration
        self.record.append(line)
        return line


def csv_records(body: ImportBody, log: RowLog) -> Generator[tuple[int, list[str]]]:
    """(0, header), then (row, stripped cells) of each data record that is not blank and
    whose text can be stored; bad records go to `log`. A cell over the field limit ends
    the reading (past it the quoting is unknown)."""
    csv.field_size_limit(body.limits.max_field)  # process-wide; every import sets the same
    # surrogatepass: UTF-8-encoded surrogates become a row error naming the cell.
    text = io.TextIOWrapper(body.open(), encoding="utf-8-sig", errors="surrogatepass", newline="")
    lines = _Lines(text)
    reader = csv.reader(lines)
    number = 0
    header: list[str] = []
    try:
        while (cells := _next_record(reader, lines, number, header, log)) is not None:
            lines.record.clear()
            if number == 0:
                header = _header(cells)
                yield 0, [cell.strip() for cell in cells]
            elif _data_row(number, cells, header, body.limits, log):
                yield number, [cell.strip() for cell in cells]
            number += 1
    finally:
        if not text.buffer.closed:
            text.detach()  # the upload stays open for the next pass


def _header(cells: list[str]) -> list[str]:
    for cell in cells:
        if _text_error(0, None, cell) is not None:
            raise FileProblem("invalid_header", "the header contains text that cannot be stored")
    return cells


def _next_record(
    reader: Iterator[list[str]], lines: _Lines, number: int, header: list[str], log: RowLog
) -> list[str] | None:
    try:
        return next(reader, None)
    except UnicodeDecodeError as exc:
        raise FileProblem("invalid_encoding", f"the file is not UTF-8: {exc}") from None
    except csv.Error as exc:
        if number == 0:
            raise FileProblem("invalid_header", f"the header cannot be read: {exc}") from None
        index = _long_cell(csv.field_size_limit(), "".join(lines.record))
        column = header[index] if index is not None and index < len(header) else None
        log.rows += 1
        message = f"a cell is longer than {csv.field_size_limit()} characters; reading stopped"
        log.add(row_error(number, column, "field_too_large", message))
        return None


def _data_row(
    number: int, cells: list[str], header: list[str], limits: ImportLimits, log: RowLog
) -> bool:
    if not any(cell.strip() for cell in cells):
        return False
    _count(log, limits)
    if len(cells) != len(header):
        message = f"expected {len(header)} cells, found {len(cells)}"
        log.add(row_error(number, None, "wrong_cell_count", message))
        return False
    for column, cell in zip(header, cells, strict=True):
        error = _text_error(number, column.strip(), cell)
        if error is not None:
            log.add(error)
            return False
    return True


def _long_cell(limit: int, record: str) -> int | None:
    """Which cell of a record's text (index from 0) is longer than `limit` characters."""
    record = record.rstrip("\r\n")
    position, index = 0, 0
    while position <= len(record):
        quoted = record.startswith('"', position)
        end = position
        if quoted:
            end += 1
            while (end := record.find('"', end)) != -1 and record.startswith('"', end + 1):
                end += 2
            end = len(record) if end == -1 else end + 1
        stop = record.find(",", end)
        stop = len(record) if stop == -1 else stop
        if stop - position - (2 if quoted else 0) > limit:
            return index
        position, index = stop + 1, index + 1
    return None


# --- JSON ---------------------------------------------------------------------------------


def _json_events(raw: IO[bytes]) -> Generator[tuple[str, str, Any]]:
    """ijson's (prefix, event, value) events, fed chunk by chunk after a UTF-8 check (a
    byte-order mark dropped). Pushing chunks, rather than letting ijson pull them, lets us
    close its parser ourselves when we stop early, so it never fails later unseen."""
    events = ijson.sendable_list()
    parser = ijson_python.parse_coro(events, use_float=True)
    decoder = codecs.getincrementaldecoder("utf-8")()
    first, done = True, False
    try:
        while chunk := raw.read(READ_SIZE):
            _check_utf8(decoder, chunk, final=False)
            if first:
                chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
            failure = _send(parser, chunk) if chunk else None  # b"" would mean the end
            yield from events  # those before a failure too: they locate it
            del events[:]
            if failure is not None:
                raise failure
        _check_utf8(decoder, b"", final=True)
        done = True
        failure = _send(parser, None)  # the end of the document: is it complete?
        yield from events
        if failure is not None:
            raise failure
    finally:
        if not done:
            with suppress(JSONError):
                parser.close()


def _send(parser: Any, chunk: bytes | None) -> JSONError | None:
    try:
        if chunk is None:
            parser.close()
        else:
            parser.send(chunk)
    except JSONError as exc:
        return exc
    return None


def _check_utf8(decoder: codecs.IncrementalDecoder, data: bytes, *, final: bool) -> None:
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise FileProblem("invalid_encoding", f"the file is not UTF-8: {exc}") from None


def json_items(body: ImportBody, log: RowLog, *, nested: str = "") -> Generator[tuple[int, Any]]:
    """(row, item) of each item of a top-level JSON array whose text can be stored; a bad
    string or an unreadable number goes to `log`, named by its key (under `nested`, the key
    inside it). The pure-Python backend: yajl2_c crashes on a 4,301-digit integer and turns
    escaped lone surrogates into `?`."""
    state = _JsonState(log, nested)
    with closing(_json_events(body.open())) as events:
        try:
            for prefix, event, value in events:
                item = state.feed(prefix, event, value, body.limits)
                if item is not None:
                    yield item
        except JSONError as exc:
            state.fail(exc)
    if not state.started:
        raise FileProblem("invalid_json", "the body is empty")


@dataclass
class _JsonState:
    log: RowLog
    nested: str
    started: bool = False
    row: int = 0
    path: str = ""
    builder: Any = None
    open: bool = False
    bad: bool = False

    def feed(self, prefix: str, event: str, value: Any, limits: ImportLimits) -> Any:
        if not self.started:
            if event != "start_array":
                raise FileProblem("not_an_array", "the body must be a JSON array")
            self.started = True
            return None
        if prefix == "":
            return None  # the closing bracket
        if prefix == "item" and event not in ("map_key", "end_map", "end_array"):
            _count(self.log, limits)
            self.row, self.open, self.bad = self.row + 1, True, False
            self.path, self.builder = "", ObjectBuilder()
        self._check(prefix, event, value)
        self.builder.event(event, value)
        if prefix == "item" and event not in ("map_key", "start_map", "start_array"):
            self.open = False
            return None if self.bad else (self.row, self.builder.value)
        return None

    def _check(self, prefix: str, event: str, value: Any) -> None:
        if event == "map_key":  # a bad key is named by the object that holds it
            self.path = prefix
        if not self.bad and event in ("map_key", "string"):
            error = _text_error(self.row, self._column(), value)
            if error is not None:
                self.log.add(error)
                self.bad = True
        if event == "map_key":
            self.path = f"{prefix}.{value}"

    def _column(self) -> str | None:
        parts = self.path.split(".")[1:] if self.path.startswith("item.") else []
        if self.nested and parts[:1] == [self.nested] and len(parts) > 1:
            return parts[1]
        return parts[0] if parts else None

    def fail(self, exc: Exception) -> None:
        number = _NUMBER.match(str(exc))
        if not self.started or number is None:
            raise FileProblem("invalid_json", f"the body is not JSON: {exc}") from None
        if not self.open:  # the number is a whole item of its own
            self.row, self.path = self.row + 1, ""
            self.log.rows += 1
        message = f"the number {number.group(1)} cannot be read (too large or too long)"
        self.log.add(row_error(self.row, self._column(), "number_too_large", message))
