"""Time `api.seed.generate.generate` on a fresh, migrated database.

    python bench/bench_generate.py                       # PostgreSQL, 10 × 100 × 100 × 4
    python bench/bench_generate.py 2 3 4 2 --sqlite /tmp/sv.db
    python bench/bench_generate.py --server postgresql://postgres@127.0.0.1:5432/postgres --drop

Positional sizes: provinces, communes per province, villages per commune, periods.
"""

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.infra.db import make_engine, make_sessionmaker
from api.infra.migrate import upgrade
from api.seed.generate import GenerateReport, generate
from models.scores import Score, ScoreIndicator
from models.submissions import Submission, SubmissionRevision
from models.units import Unit

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("provinces", 10), ("communes", 100), ("villages", 100), ("periods", 4)):
        parser.add_argument(name, type=int, nargs="?", default=default)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL maintenance URL")
    parser.add_argument("--sqlite", type=Path, help="use a new SQLite file at this path instead")
    parser.add_argument("--name", help="database name (default: sv_bench_<random>)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    return parser.parse_args()


def admin(server: str, statement: sql.Composable) -> None:
    """Run CREATE/DROP DATABASE on the maintenance database (outside a transaction)."""
    url = make_url(server).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def create_database(args: argparse.Namespace) -> str:
    """A fresh empty database; returns its URL."""
    if args.sqlite:
        if args.sqlite.exists():
            sys.exit(f"{args.sqlite} exists; choose a new path")
        return f"sqlite:///{args.sqlite}"
    name = args.name or f"sv_bench_{secrets.token_hex(4)}"
    admin(args.server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(args.server).set(drivername="postgresql", database=name)
    return url.render_as_string(hide_password=False)


def drop_database(args: argparse.Namespace, url: str) -> None:
    if args.sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.sqlite}{suffix}").unlink(missing_ok=True)
        return
    name = make_url(url).database or ""
    admin(args.server, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


async def count_rows(url: str) -> dict[str, int]:
    """Rows per table after the run, counted independently of the report."""
    engine = make_engine(url)
    tables = {
        "unit": Unit,
        "submission": Submission,
        "submission_revision": SubmissionRevision,
        "score": Score,
        "score_indicator": ScoreIndicator,
    }
    try:
        async with make_sessionmaker(engine)() as session:
            return {
                name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in tables.items()
            }
    finally:
        await engine.dispose()


async def run(url: str, args: argparse.Namespace) -> GenerateReport:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await generate(
                session,
                provinces=args.provinces,
                communes_per_province=args.communes,
                villages_per_commune=args.villages,
                periods=args.periods,
                seed=args.seed,
            )
    finally:
        await engine.dispose()


def show(report: GenerateReport, counts: dict[str, int], migrate_s: float) -> None:
    print(f"periods: {', '.join(report.periods)}")
    print(
        f"created: {report.provinces} provinces, {report.communes} communes, "
        f"{report.villages} villages, {report.submissions} submissions, "
        f"{report.revisions} revisions, {report.scores} scores"
    )
    print(f"{'phase':<14}{'seconds':>10}")
    print(f"{'(migrate)':<14}{migrate_s:>10.2f}")
    for phase, seconds in report.seconds.items():
        print(f"{phase:<14}{seconds:>10.2f}")
    print(f"{'total':<14}{report.total_seconds:>10.2f}")
    print("rows in the database:")
    for table, n in counts.items():
        print(f"  {table:<20}{n:>12,}")


def main() -> None:
    args = parse_args()
    url = create_database(args)
    try:
        start = time.perf_counter()
        upgrade(url)
        migrate_s = time.perf_counter() - start
        report = asyncio.run(run(url, args))
        show(report, asyncio.run(count_rows(url)), migrate_s)
    finally:
        if args.drop:
            drop_database(args, url)
            print(f"dropped {url}")
        else:
            print(f"database: {url}")


if __name__ == "__main__":
    main()
