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


def targets(out: Path, token: str, period: str, exe: str, project_dir: str) -> dict[str, object]:
    env = {k: os.environ[k] for k in ("DATABASE_URL", "SMARTVILLAGE_SECRET_KEY") if k in os.environ}
    serve = [exe, "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "{workers}"]
    server = {"cmd": [*serve, "--no-demo"], "app_dir": project_dir, "health": "/healthz",
              "env": env, "start_timeout": 180}  # fmt: skip
    target = {"name": "project_put", "server": "project", "path": PATH + period,
              "lua": str(out / "put.lua"), "headers": {"Authorization": f"Bearer {token}"},
              "method": "PUT", "body": "{}", "baseline": "submit_upsert",
              "note": "PUT a submission: revision, score, roll-ups, audit, 1 commit"}  # fmt: skip
    return {"_comment": "written by bench/put_targets.py for one run; holds a short-lived token",
            "servers": {"project": server}, "targets": [target]}  # fmt: skip


def medians(path: Path) -> dict[tuple[str, int], dict[str, float]]:
    """Median req/s, p50 and p99 per (target, workers) of a bench.py http result file."""
    by: dict[tuple[str, int], list[dict[str, float]]] = {}
    for run in json.loads(path.read_text())["runs"]:
        by.setdefault((run["target"], run["workers"]), []).append(run)
    keys = ("rps", "p50_ms", "p99_ms", "non_2xx_3xx", "socket_errors", "requests")
    return {k: {f: statistics.median(r[f] for r in v) for f in keys} for k, v in by.items()}


def summary(result: str) -> int:
    """A table of PUT vs submit_upsert per worker count, then `bench: put x=<w1>/<w2>`."""
    m = medians(Path(result))
    print("| workers | PUT req/s | p50 / p99 ms | submit_upsert req/s | p50 / p99 ms | ratio | "
          "PUT errors (median run) |\n|---|---|---|---|---|---|---|")  # fmt: skip
    ratios = []
    for w in sorted({w for _, w in m}):
        a, b = m.get(("project_put", w)), m.get(("submit_upsert", w))
        if not a or not b:
            ratios.append("n/a")
            continue
        ratios.append(f"{a['rps'] / b['rps']:.2f}")
        errors = a["non_2xx_3xx"] + a["socket_errors"]
        put = f"{a['rps']:,.0f} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f}"
        ceiling = f"{b['rps']:,.0f} | {b['p50_ms']:.1f} / {b['p99_ms']:.1f}"
        print(f"| {w} | {put} | {ceiling} | {ratios[-1]}x | {errors:.0f} of {a['requests']:,.0f} |")
    print(f"bench: put x={'/'.join(ratios)} (PUT req/s / submit_upsert req/s, same run)")
    return 0 if ratios and "n/a" not in ratios else 1


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
