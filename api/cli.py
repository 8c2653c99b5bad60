"""`smartvillage`: the operators' command line. It calls services, never routers."""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.problems import ProblemError
from api.infra import migrate
from api.infra.db import engine_for, make_sessionmaker
from api.infra.settings import Settings, get_settings
from api.web import observability

T = TypeVar("T")


def _safe_url(settings: Settings) -> str:
    return make_url(settings.sync_url).render_as_string(hide_password=True)


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = engine_for(settings, batch=True)
    try:
        async with make_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one service call in its own session and event loop."""
    return asyncio.run(_with_session(settings, work))


def _print_problem(exc: ProblemError) -> None:
    print(f"error: {exc.detail}", file=sys.stderr)
    for err in exc.errors:
        print(f"  {err.field or '(document)'}: {err.code}: {err.detail}", file=sys.stderr)
    for err in exc.extra.get("errors", []):
        print(
            f"  row {err.get('row')} {err.get('column') or ''}: {err.get('message')}",
            file=sys.stderr,
        )


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    """Bring the schema to the newest migration."""
    migrate.upgrade(settings.database_url)
    print(f"database {_safe_url(settings)} is at the newest migration")
    return 0


def cmd_load_criteria(settings: Settings, args: argparse.Namespace) -> int:
    """Validate, store and publish a criteria-set document (YAML or JSON)."""
    from api.services.criteria_sets import load_and_publish
    from criteria.loader import load_document_file

    data = load_document_file(args.file)
    row, outcome = run_in_session(settings, lambda s: load_and_publish(s, data=data))
    print(f"{row.code} v{row.version} ({row.scope}, from {row.effective_from}): {outcome}")
    return 0


def cmd_import_units(settings: Settings, args: argparse.Namespace) -> int:
    """Import units from a CSV or JSON file, all or nothing."""
    from api.core.caller import SYSTEM_CALLER
    from api.services.import_common import ImportBody, ImportLimits
    from api.services.unit_import import import_units

    path = Path(args.file)
    media = "application/json" if path.suffix.lower() == ".json" else "text/csv"
    limits = ImportLimits(max_field=settings.csv_max_field, max_rows=settings.csv_max_rows)
    with path.open("rb") as upload:  # read pass by pass, never whole
        body = ImportBody(media, path.name, upload, limits)
        report = run_in_session(
            settings,
            lambda s: import_units(s, body=body, dry_run=args.dry_run, actor=SYSTEM_CALLER),
        )
    print(report.model_dump_json(indent=2))
    return 0


def cmd_rescore(settings: Settings, _args: argparse.Namespace) -> int:
    """Recompute every stored score from the current submissions and criteria sets."""
    from api.services.bulk_scoring import rescore_everything

    async def work(session: AsyncSession) -> int:
        count = await rescore_everything(session, batch=settings.rescore_batch)
        await session.commit()
        return count

    started = time.perf_counter()
    count = run_in_session(settings, work)
    print(f"rescored {count} village-periods in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_generate(settings: Settings, args: argparse.Namespace) -> int:
    """Make a synthetic nation for benchmarks (units, submissions, scores)."""
    from api.seed.generate import generate

    migrate.upgrade(settings.database_url)
    sizes = {
        "provinces": args.provinces,
        "communes_per_province": args.communes_per_province,
        "villages_per_commune": args.villages_per_commune,
        "periods": args.periods,
        "seed": args.seed,
    }
    started = time.perf_counter()
    report = run_in_session(settings, lambda s: generate(s, **sizes))
    print(report)
    print(f"generated in {time.perf_counter() - started:.1f} s")
    return 0


# uvicorn's limits for each worker: idle keep-alive connections are closed after 5 s, a
# request head may not exceed 64 KiB, beyond 256 connections at once new ones get 503, and a
# shutdown lets running requests finish for up to 10 s.
SERVER_LIMITS: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 64 * 1024,
    "limit_concurrency": 256,
    "timeout_graceful_shutdown": 10,
}
WAIT_REPORT_SECONDS = 5.0


def _wait_for_database(settings: Settings) -> None:
    """Block until the database accepts connections, saying so every few seconds."""
    from api.infra.db import database_problem

    said_at = -WAIT_REPORT_SECONDS
    while (problem := database_problem(settings)) is not None:
        if time.monotonic() - said_at >= WAIT_REPORT_SECONDS:
            print(f"waiting for the database {_safe_url(settings)}: {problem}", flush=True)
            said_at = time.monotonic()
        time.sleep(1.0)


def _migrate_when_reachable(settings: Settings) -> None:
    """Wait for the database and migrate it; if it goes away meanwhile, wait again."""
    from sqlalchemy.exc import OperationalError

    while True:
        _wait_for_database(settings)
        try:
            migrate.upgrade(settings.database_url)
            return
        except OperationalError as exc:
            reason = (str(exc.orig).strip().splitlines() or [""])[0]
            print(f"the database went away while migrating ({reason}); waiting", flush=True)


def _demo_settings(settings: Settings, demo: bool) -> Settings:
    if not demo:
        return settings
    # Demo mode, inherited by the workers: without SMARTVILLAGE_SECRET_KEY they sign tokens
    # with a secret generated once and kept in the database.
    os.environ["SMARTVILLAGE_DEMO"] = "1"
    get_settings.cache_clear()
    return get_settings()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Wait for the database, migrate, add demo data when empty (unless --no-demo), serve."""
    from api.services.instance import MissingSecret

    settings = _demo_settings(settings, not args.no_demo)
    if settings.secret_key is None and not settings.demo:
        print(f"error: {MissingSecret()}", file=sys.stderr)
        return 2
    try:
        _migrate_when_reachable(settings)
    except KeyboardInterrupt:
        return 130
    print(f"database: {_safe_url(settings)} (migrated)", flush=True)
    if not args.no_demo:
        _load_demo_if_empty(settings)
    print(f"API docs: http://{args.host}:{args.port}/docs", flush=True)
    return _serve(settings, args.host, args.port, args.workers)


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    """One worker: this process serves. Several: a supervisor and a worker process each,
    each worker with its own listening socket, so the kernel spreads connections evenly."""
    import functools

    from api.infra import server
    from api.web import serving

    if workers <= 1:
        serving.serve(settings, SERVER_LIMITS, host, port)
        return 0
    # One /metrics view across workers (prometheus-client multiprocess files).
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="smartvillage-metrics-")
    )
    observability.configure_logging(settings)
    return server.supervise(
        functools.partial(serving.serve_on, SERVER_LIMITS),
        host=host,
        port=port,
        workers=workers,
        grace_seconds=SERVER_LIMITS["timeout_graceful_shutdown"],
        on_exit=observability.worker_exited,
    )


def _load_demo_if_empty(settings: Settings) -> None:
    from api.seed.demo import DemoReport, is_empty, load_demo

    async def maybe_demo(session: AsyncSession) -> DemoReport | None:
        return await load_demo(session) if await is_empty(session) else None

    _print_demo(run_in_session(settings, maybe_demo))


def _print_demo(report: Any) -> None:
    if report is None:
        print("demo data: not loaded (the database already has units)")
        return
    print(f"demo data: criteria sets {', '.join(report.criteria_sets)}")
    print(f"  {report.units} units (province 37 Ninh Bình, 4 communes, 20 villages)")
    print(f"  {report.submissions} submissions for {', '.join(report.periods)}")
    print(f"  Thôn Đông (13402-01, the Hà Nam village of the 2024 report): {report.ha_nam_status}")
    print("  demo accounts (username / password / role / unit):")
    for username, password, role, unit in report.accounts:
        print(f"    {username} / {password} / {role} / {unit or '-'}")


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    """Create an account (the way to make the first admin)."""
    from api.core.caller import SYSTEM_CALLER
    from api.services.accounts import create_user
    from models.accounts import UserCreate

    try:
        body = UserCreate(
            username=args.username, password=args.password, role=args.role, unit_code=args.unit
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    user = run_in_session(settings, lambda s: create_user(s, body=body, actor=SYSTEM_CALLER))
    print(
        f"created {user.role} {user.username}" + (f" of {user.unit_code}" if user.unit_code else "")
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="smartvillage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help=cmd_serve.__doc__)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-demo", action="store_true", help="never load demo data")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help=cmd_migrate.__doc__).set_defaults(func=cmd_migrate)
    load = sub.add_parser("load-criteria", help=cmd_load_criteria.__doc__)
    load.add_argument("file")
    load.set_defaults(func=cmd_load_criteria)
    units = sub.add_parser("import-units", help=cmd_import_units.__doc__)
    units.add_argument("file")
    units.add_argument("--dry-run", action="store_true")
    units.set_defaults(func=cmd_import_units)
    sub.add_parser("rescore", help=cmd_rescore.__doc__).set_defaults(func=cmd_rescore)
    user = sub.add_parser("create-user", help=cmd_create_user.__doc__)
    user.add_argument("--username", required=True)
    user.add_argument("--password", required=True)
    user.add_argument("--role", required=True, choices=["admin", "reviewer", "village_head"])
    user.add_argument("--unit", default=None, help="province/commune (reviewer) or village code")
    user.set_defaults(func=cmd_create_user)
    gen = sub.add_parser("generate", help=cmd_generate.__doc__)
    for name, default in [("provinces", 3), ("communes-per-province", 10),
                          ("villages-per-commune", 20), ("periods", 4), ("seed", 1)]:  # fmt: skip
        gen.add_argument(f"--{name}", type=int, default=default)
    gen.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `smartvillage` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(get_settings(), args))
    except ProblemError as exc:
        _print_problem(exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
