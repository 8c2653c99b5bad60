"""add the rendered score body and its etag to score

Revision ID: 7b1f0c2d9e41
Revises: 55c34701e7d3
Create Date: 2026-12-01 12:00:00.000000

Rows scored before this migration have no body until they are scored again; reads render
those on the fly (`smartvillage rescore` fills them all).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b1f0c2d9e41"
down_revision: str | None = "55c34701e7d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("etag", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_column("etag")
        batch_op.drop_column("body")
