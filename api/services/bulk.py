"""Set-based writes: COPY on PostgreSQL, multi-row executemany on SQLite."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

CHUNK = 900  # stays under SQLite's bound-parameter limit for IN lists


async def copy_records(
    session: AsyncSession, table: Table, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    """Insert tuples (in `columns` order) in the session's transaction, as fast as possible."""
    if not records:
        return
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        # driver_connection is typed Any | None; on asyncpg it is the asyncpg connection.
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=list(columns)
        )
        return
    await session.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in records])


async def bulk_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows given as dicts with identical keys."""
    if rows:
        columns = list(rows[0])
        await copy_records(session, table, columns, [tuple(r[c] for c in columns) for r in rows])


async def delete_in(session: AsyncSession, table: Table, column: str, ids: Sequence[Any]) -> None:
    """DELETE FROM table WHERE column IN ids, in chunks."""
    col = table.c[column]
    for start in range(0, len(ids), CHUNK):
        await session.execute(delete(table).where(col.in_(ids[start : start + CHUNK])))
