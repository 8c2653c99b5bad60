"""The report every bulk import answers with (units, submissions)."""

from pydantic import BaseModel


class ImportErrorPublic(BaseModel):
    """One bad row (1-based data row; row 0 is the file itself) and column."""

    row: int
    column: str | None
    code: str
    message: str


class ImportReportPublic(BaseModel):
    """What an import did, or with `dry_run` would do."""

    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[ImportErrorPublic]
