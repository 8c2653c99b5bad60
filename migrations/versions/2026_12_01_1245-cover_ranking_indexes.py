"""cover the ranking indexes: a ranking page and a summary's counts read only the index

Revision ID: 3c9e5a1f7d20
Revises: 7b1f0c2d9e41
Create Date: 2026-12-01 12:45:00.000000

On PostgreSQL the two ranking indexes also carry the columns a ranking page filters on and
joins by and a summary counts (status, submission status, commune, village), so both are
index-only scans; SQLite has no INCLUDE and keeps its indexes as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e5a1f7d20"
down_revision: str | None = "7b1f0c2d9e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDED = {
    "province": ["status", "submission_status", "commune_id", "village_id"],
    "commune": ["status", "submission_status", "village_id"],
}


def _rank_index(level: str, include: list[str] | None) -> None:
    op.create_index(
        f"ix_score_{level}_rank",
        "score",
        [f"{level}_id", "period", sa.text("score DESC"), "village_code"],
        postgresql_include=include or [],
    )


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for level, include in INCLUDED.items():
        op.drop_index(f"ix_score_{level}_rank", table_name="score")
        _rank_index(level, include)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for level in INCLUDED:
        op.drop_index(f"ix_score_{level}_rank", table_name="score")
        _rank_index(level, None)
