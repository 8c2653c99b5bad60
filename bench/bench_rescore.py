"""Time `smartvillage rescore` (`bulk_scoring.rescore_everything`) of a generated nation.

    python bench/bench_rescore.py --database-url postgresql://postgres@127.0.0.1:5432/sv_bench_x
    python bench/bench_rescore.py 34 98 30 4 --drop       # generate a nation first, then rescore
    python bench/bench_rescore.py 2 3 4 2 --sqlite /tmp/sv-tiny.db --workers 1

Positional sizes (provinces, communes per province, villages per commune, quarters) are used
only without `--database-url`: a new database is made and filled by `generate` (its phases are
printed too). The rescore runs in one transaction, as the CLI runs it, and prints its seconds
per phase (lock, clear, score_and_copy, rollups, commit) and the rows it left per table.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_generate import DEFAULT_SERVER, create_database, drop_database, run, show

from api.infra.db import make_engine, make_sessionmaker
from api.infra.migrate import upgrade
from api.services.bulk_scoring import rescore_everything
from models.scores import IndicatorRollup, Score, ScoreIndicator


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("provinces", 34), ("communes", 98), ("villages", 30), ("periods", 4)):
        parser.add_argument(name, type=int, nargs="?", default=default)
    parser.add_argument("--database-url", help="rescore this generated database as it is")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL maintenance URL")
    parser.add_argument("--sqlite", type=Path, help="generate into a new SQLite file instead")
    parser.add_argument("--name", help="database name to generate (default: sv_bench_<random>)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, help="scoring processes (default: one a core)")
    parser.add_argument("--drop", action="store_true", help="drop a generated database afterwards")
    return parser.parse_args()


async def rescore(url: str, workers: int | None) -> tuple[int, dict[str, float]]:
    """Rescore everything in one transaction and commit, timing each phase."""
    engine = make_engine(url)
    seconds: dict[str, float] = {}
    try:
        async with make_sessionmaker(engine)() as session:
            count = await rescore_everything(session, workers=workers, seconds=seconds)
            start = time.perf_counter()
            await session.commit()
            seconds["commit"] = round(time.perf_counter() - start, 3)
    finally:
        await engine.dispose()
    return count, seconds


async def count_rows(url: str) -> dict[str, int]:
    engine = make_engine(url)
    models = {
        "score": Score,
        "score_indicator": ScoreIndicator,
        "indicator_rollup": IndicatorRollup,
    }
    try:
        async with make_sessionmaker(engine)() as session:
            return {
                name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in models.items()
            }
    finally:
        await engine.dispose()


def generated(args: argparse.Namespace) -> str:
    """A new database filled by `generate`, its phases shown."""
    url = create_database(args)
    upgrade(url)
    report = asyncio.run(run(url, args))
    show(report, {}, 0.0)
    return url


def main() -> None:
    args = parse_args()
    url = args.database_url or generated(args)
    try:
        start = time.perf_counter()
        count, seconds = asyncio.run(rescore(url, args.workers))
        wall = time.perf_counter() - start
        each = 1e6 * wall / max(count, 1)
        print(f"rescored {count:,} village-periods in {wall:.2f} s ({each:.0f} µs each)")
        for phase, spent in seconds.items():
            print(f"  {phase:<16}{spent:>10.2f} s")
        for table, rows in asyncio.run(count_rows(url)).items():
            print(f"  {table:<20}{rows:>12,} rows")
    finally:
        if args.drop and not args.database_url:
            drop_database(args, url)
            print(f"dropped {url}")
        else:
            print(f"database: {url}")


if __name__ == "__main__":
    main()
