"""Memory of a bulk import in a served worker: a units CSV, then a submissions CSV.

    python bench/bench_import_memory.py                      # 19 MB each, SQLite in a temp dir
    python bench/bench_import_memory.py --megabytes 5
    python bench/bench_import_memory.py --server postgresql://postgres@127.0.0.1:5432/postgres

Starts `smartvillage serve --workers 1` (tests/served.py) on a fresh database, publishes the
reference criteria set, then streams each file to its import endpoint while a thread samples
the worker's VmRSS from /proc/<pid>/status every 20 ms. Prints, per import, rows, size,
seconds, and RSS before / after / peak; exits 1 if the peak grew by LIMIT_MB or more.
The last line is the same figures as JSON (tests/live/test_import_memory.py reads it).
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.infra.db import make_sync_engine
from api.infra.migrate import upgrade
from api.seed.demo import BASE_VALUES
from criteria.loader import SETS_DIR, load_document_file
from tests.accounts import bearer, make_user
from tests.pg import create_database, drop_database
from tests.served import served

LIMIT_MB = 100
VILLAGES_PER_COMMUNE = 10
PERIODS = ("2026Q3", "2026Q2", "2026Q1")
API = "/api/v1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=19.0, help="size of each file")
    parser.add_argument("--submissions-megabytes", type=float, help="(default: --megabytes)")
    parser.add_argument("--server", help="PostgreSQL server URL (default: SQLite in a temp dir)")
    return parser.parse_args()


def _village(commune: int, n: int) -> str:
    return f"37-{commune:05d}-V{n:03d}"


def write_units(path: Path, size: int) -> tuple[int, list[str]]:
    """One province, then communes each followed by their villages, up to `size` bytes."""
    villages: list[str] = []
    rows = 1
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("code,name,level,parent_code,lat,lon\n37,Tỉnh Thử Nghiệm,province,,,\n")
        commune = 10000
        while out.tell() < size:
            commune += 1
            out.write(f"{commune:05d},Xã Thử Nghiệm Số {commune},commune,37,20.5,105.9\n")
            for n in range(VILLAGES_PER_COMMUNE):
                code = _village(commune, n)
                name = f'"Thôn Số {n:03d} thuộc xã {commune}, khu dân cư kiểu mẫu"'
                out.write(f"{code},{name},village,{commune:05d},20.{commune},105.{n:03d}\n")
                villages.append(code)
            rows += 1 + VILLAGES_PER_COMMUNE
    return rows, villages


def write_submissions(path: Path, size: int, villages: list[str]) -> int:
    """Rows of the demo figures (fibre varied) for each village and period, up to `size`."""
    measures = list(BASE_VALUES)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(["village_code", "period", *measures]) + "\n")
        for period in PERIODS:
            for i, code in enumerate(villages):
                if out.tell() >= size:
                    return rows
                values = BASE_VALUES | {"households_with_fibre": 100 + i % 100}
                cells = [str(values[m]).lower() for m in measures]
                out.write(",".join([code, period, *cells]) + "\n")
                rows += 1
    return rows


def _pid_of_worker(port: int) -> int:
    """The process serving `port`: the serve process started by us, or its child worker."""
    mine = [p for p in _children(os.getpid()) if f"--port\x00{port}\x00" in _cmdline(p)]
    if not mine:
        raise RuntimeError(f"no serve process for port {port}")
    workers = _children(mine[0])
    return workers[0] if workers else mine[0]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


@contextmanager
def sampled(pid: int) -> Iterator[list[float]]:
    """RSS samples (MB) of `pid` every 20 ms while the block runs."""
    samples = [rss_mb(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            samples.append(rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def post_file(client: httpx.Client, pid: int, url: str, path: Path) -> dict[str, object]:
    """Stream the file as a text/csv body; the figures of this import."""
    before = rss_mb(pid)
    started = time.perf_counter()
    with sampled(pid) as samples, path.open("rb") as body:
        response = client.post(url, content=body, headers={"Content-Type": "text/csv"})
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:2000]}")
    report = response.json()
    after = rss_mb(pid)
    return {
        "url": url,
        "megabytes": round(path.stat().st_size / 1e6, 1),
        "rows": report["rows"],
        "created": report["created"],
        "seconds": round(seconds, 1),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "rss_peak_mb": round(max([*samples, after]), 1),
        "growth_mb": round(max([*samples, after]) - before, 1),
    }


def run(database_url: str, sizes: tuple[int, int], work: Path) -> list[dict[str, object]]:
    units_csv, submissions_csv = work / "units.csv", work / "submissions.csv"
    _, villages = write_units(units_csv, sizes[0])
    write_submissions(submissions_csv, sizes[1], villages)
    upgrade(database_url)
    engine = make_sync_engine(database_url)
    try:
        headers = bearer(make_user(engine, "bench-admin", "admin", minutes=60))
    finally:
        engine.dispose()
    with served(database_url, workers=1, log=work / "serve.log") as base_url:
        pid = _pid_of_worker(int(base_url.rpartition(":")[2]))
        with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
            _publish(client)
            return [
                post_file(client, pid, f"{API}/units/import", units_csv),
                post_file(client, pid, f"{API}/submissions/import", submissions_csv),
            ]


def _publish(client: httpx.Client) -> None:
    document = load_document_file(SETS_DIR / "ttm-reference.yaml")
    client.post(f"{API}/criteria-sets", json=document).raise_for_status()
    url = f"{API}/criteria-sets/{document['code']}/versions/{document['version']}/publish"
    client.post(url).raise_for_status()


def print_figures(figures: list[dict[str, object]]) -> None:
    for f in figures:
        print(
            f"{f['url']}: {f['megabytes']} MB, {f['rows']} rows, {f['seconds']} s; "
            f"worker RSS before {f['rss_before_mb']} MB, after {f['rss_after_mb']} MB, "
            f"peak {f['rss_peak_mb']} MB (+{f['growth_mb']} MB)"
        )
    print(json.dumps(figures))


def main() -> int:
    args = parse_args()
    sizes = (int(args.megabytes * 1e6), int((args.submissions_megabytes or args.megabytes) * 1e6))
    with tempfile.TemporaryDirectory(prefix="sv-import-memory-") as tmp:
        work = Path(tmp)
        url = create_database(args.server, "sv_bench") if args.server else None
        try:
            figures = run(url or f"sqlite:///{work / 'bench.db'}", sizes, work)
        finally:
            if url:
                drop_database(url)
    print_figures(figures)
    return 0 if all(float(str(f["growth_mb"])) < LIMIT_MB for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
