"""Write the targets file and wrk script that measure a submission PUT (bench/bench_put.sh).

    python bench/put_targets.py OUT_DIR PERIOD SMARTVILLAGE_EXE PROJECT_DIR
    python bench/put_targets.py summary OUT_DIR/load/http-*.json

Reads OUT_DIR/prep.json and OUT_DIR/villages.lua (written by the harness's
`project_tool.py prepare`: an admin token and the village codes), then writes
OUT_DIR/put.lua (a random village per request, a 15-value body whose
`households_with_fibre` varies per request so almost every PUT writes a revision) and
OUT_DIR/put_targets.json (a `project` server running `smartvillage serve` and the
`project_put` target, with the harness's `submit_upsert` as its baseline).
BENCH_PUT_MEASURES (15) sets how many of the demo's values the body carries (at most 24).
"""

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from api.seed.demo import BASE_VALUES

VARIED = "households_with_fibre"
PATH = "/api/v1/villages/{id}/submissions/"


def body_template(count: int) -> str:
    """The JSON body with `%d` where the varied value goes (a Lua string.format pattern)."""
    values = dict(list(BASE_VALUES.items())[:count])
    values[VARIED] = -424242
    return json.dumps({"values": values}, separators=(",", ":")).replace("-424242", "%d")


def lua_script(out: Path, period: str, template: str) -> str:
    return (
        "-- written by bench/put_targets.py: PUT a submission of a random village\n"
        f"dofile({json.dumps(str(out / 'villages.lua'))})\n"
        "local harness_init = init\n"
        "local put_headers\n"
        "function init(args)\n"
        "  harness_init(args)\n"
        '  put_headers = { ["Content-Type"] = "application/json" }\n'
        "  for k, v in pairs(wrk.headers) do put_headers[k] = put_headers[k] or v end\n"
        "end\n"
        "function request()\n"
        f'  local path = "/api/v1/villages/" .. pick_id() .. "/submissions/{period}"\n'
        f"  local body = string.format({json.dumps(template)}, math.random(120, 200))\n"
        '  return wrk.format("PUT", path, put_headers, body)\n'
        "end\n"
    )


def targets(out: Path, token: str, period: str, exe: str, project_dir: str) -> dict[str, Any]:
    env = {k: os.environ[k] for k in ("DATABASE_URL", "SMARTVILLAGE_SECRET_KEY") if k in os.environ}
    serve = [exe, "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "{workers}"]
    server = {"cmd": [*serve, "--no-demo"], "app_dir": project_dir, "health": "/healthz",
              "env": env, "start_timeout": 180}  # fmt: skip
    target = {"name": "project_put", "server": "project", "path": PATH + period,
              "lua": str(out / "put.lua"), "headers": {"Authorization": f"Bearer {token}"},
              "method": "PUT", "body": "{}", "baseline": "submit_upsert",
              "note": "PUT a submission: revision, score, roll-ups, audit, 1 commit"}  # fmt: skip
    spec = {"_comment": "written by bench/put_targets.py for one run; holds a short-lived token",
            "servers": {"project": server}, "targets": [target]}  # fmt: skip
    before = os.environ.get("BENCH_PUT_BEFORE")
    if before:  # the same PUT served by another source tree (e.g. `git archive` of a commit)
        env_before = {**env, "PYTHONPATH": before}
        spec["servers"]["project_before"] = {**server, "env": env_before, "app_dir": before}
        target_before = {**target, "name": "project_put_before", "server": "project_before"}
        spec["targets"] = [target_before, target]
    return spec


def medians(path: Path) -> dict[tuple[str, int], dict[str, float]]:
    """Median req/s, p50 and p99 per (target, workers) of a bench.py http result file."""
    by: dict[tuple[str, int], list[dict[str, float]]] = {}
    for run in json.loads(path.read_text())["runs"]:
        by.setdefault((run["target"], run["workers"]), []).append(run)
    for run in (r for v in by.values() for r in v):  # answered 2xx or 3xx: an error is no PUT
        run["ok_rps"] = run["rps"] * (1 - run["non_2xx_3xx"] / max(1, run["requests"]))
    keys = ("rps", "ok_rps", "p50_ms", "p99_ms", "non_2xx_3xx", "socket_errors", "requests")
    return {k: {f: statistics.median(r[f] for r in v) for f in keys} for k, v in by.items()}


def summary(result: str) -> int:
    """A table of PUT vs submit_upsert per worker count, then `bench: put x=<w1>/<w2>`."""
    m = medians(Path(result))
    print("| workers, target | PUT 2xx req/s (all) | p50 / p99 ms | submit_upsert req/s | "
          "p50 / p99 ms | ratio | PUT errors |\n|---|---|---|---|---|---|---|")  # fmt: skip
    ratios: dict[str, list[str]] = {"project_put_before": [], "project_put": []}
    for name, w in sorted((n, w) for n, w in m if n in ratios):
        a, b = m[(name, w)], m.get(("submit_upsert", w))
        if not b:
            ratios[name].append("n/a")
            continue
        ratios[name].append(f"{a['ok_rps'] / b['rps']:.2f}")
        errors = a["non_2xx_3xx"] + a["socket_errors"]
        put = f"{a['ok_rps']:,.0f} ({a['rps']:,.0f}) | {a['p50_ms']:.1f} / {a['p99_ms']:.1f}"
        ceiling = f"{b['rps']:,.0f} | {b['p50_ms']:.1f} / {b['p99_ms']:.1f}"
        print(f"| {w} {name} | {put} | {ceiling} | {ratios[name][-1]}x | "
              f"{errors:.0f} of {a['requests']:,.0f} |")  # fmt: skip
    if ratios["project_put_before"]:
        print(f"bench: put before x={'/'.join(ratios['project_put_before'])}")
    print(f"bench: put x={'/'.join(ratios['project_put'])} (PUT 2xx req/s / submit_upsert req/s)")
    return 0 if ratios["project_put"] and "n/a" not in ratios["project_put"] else 1


def write(out: str, period: str, exe: str, project_dir: str) -> int:
    out_dir = Path(out)
    token = json.loads((out_dir / "prep.json").read_text())["token"]
    count = int(os.environ.get("BENCH_PUT_MEASURES", "15"))
    (out_dir / "put.lua").write_text(lua_script(out_dir, period, body_template(count)))
    spec = targets(out_dir, token, period, exe, project_dir)
    (out_dir / "put_targets.json").write_text(json.dumps(spec, indent=1))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["summary"]:
        sys.exit(summary(sys.argv[2]))
    sys.exit(write(*sys.argv[1:5]))
