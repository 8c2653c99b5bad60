"""One lock order for every write that touches submissions, scores or roll-ups.

Deadlock-free by construction when every writer takes, in this order:
1. the scoring lock: shared by writes to single villages (PUT, review, import), exclusive
   for whole-scope rescoring (publish, retire, `rescore`);
2. submission rows, in id order (`lock_submission`, or a FOR UPDATE select ordered by id);
3. score rows and their indicator facts (written only under 2);
4. roll-up rows, in key order (`rollups` writes them sorted).

SQLite has one writer at a time: taking its write lock first (a no-op UPDATE begins the
transaction and holds the lock) makes every later read in the transaction current.
"""

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.submissions import Submission

SCORING_LOCK = 0x53560001  # an arbitrary, project-wide advisory lock key


async def _dialect(session: AsyncSession) -> str:
    return (await session.connection()).dialect.name


async def scoring_lock(session: AsyncSession, *, exclusive: bool = False) -> None:
    """Take step 1 of the lock order for the rest of the transaction."""
    if await _dialect(session) == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await session.execute(text(f"SELECT {function}(:key)"), {"key": SCORING_LOCK})
        return
    await session.execute(text("UPDATE submission SET id = id WHERE 0"))


async def lock_submission(
    session: AsyncSession, *, village_id: int, period: str
) -> Submission | None:
    """The village-period's submission, locked and freshly read (None: there is none yet;
    the scoring lock must be held, so a concurrent first PUT waits or conflicts)."""
    stmt = (
        select(Submission)
        .where(col(Submission.village_id) == village_id, col(Submission.period) == period)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
