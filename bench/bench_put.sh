#!/usr/bin/env bash
# A submission PUT against the ceiling's `submit_upsert`, in one run of the shared harness
# (bench/README.md, "bench_put.sh"). About 3 minutes.
#
#   bench/bench_put.sh            # from the repository root, /tmp/venv (or SV_VENV) active or not
#
# 1. A writable copy of the harness (BENCH_HARNESS, default /tmp/svbench-put, copied from
#    BENCH_SOURCE=/work/shared/bench when missing), its venv + wrk (setup.sh), and its
#    throwaway PostgreSQL (pg.sh) on its own dir and port (BENCH_PG_DIR=/tmp/svput-pg,
#    BENCH_PG_PORT=55433) so a concurrent project.sh is never disturbed.
# 2. The ceiling's data (bench.py seed), a fresh project database, `smartvillage migrate`,
#    `generate --provinces 2 --communes-per-province 10 --villages-per-commune 30 --periods 1`,
#    an admin, `serve` once to get a token and the 600 village codes (project_tool.py prepare).
# 3. bench.py http: `submit_upsert` and `project_put` (bench/put_targets.py: PUT of the current
#    quarter for a random village, 15 demo values with one varied per request) at
#    BENCH_WORKERS (1,2), BENCH_REPEATS (2) interleaved runs of BENCH_DURATION (10) s, each
#    kept however busy the box was (BENCH_RETRIES=0: on a shared box every run is "noisy";
#    both sides pay for it, so the ratio stands).
# BENCH_PUT_BEFORE=DIR also measures the PUT served from the source tree DIR (PYTHONPATH), e.g.
#   git archive <commit> | tar -x -C DIR     — a before/after in the same run.
# Prints the table and `bench: put x=<ratio w1>/<ratio w2>`; results stay in
# $BENCH_HARNESS/results/put-<stamp>/. Drops the database and removes the cluster at the end
# (BENCH_KEEP_PG=1 keeps the cluster, its ceiling data and the project database).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${BENCH_HARNESS:-/tmp/svbench-put}
SV_VENV=${SV_VENV:-${VIRTUAL_ENV:-/tmp/venv}}
SV=$SV_VENV/bin/smartvillage
export BENCH_PG_DIR=${BENCH_PG_DIR:-/tmp/svput-pg} BENCH_PG_PORT=${BENCH_PG_PORT:-55433}
export BENCH_DSN=postgresql://bench@127.0.0.1:$BENCH_PG_PORT/bench
STAMP=$(date +%Y%m%d-%H%M%S)
SERVER_PID=""
DB=""

say() { echo "bench_put: $*" >&2; }
fail() { say "FAILED: $*"; exit 2; }
free_port() { "$SV_VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM -- "-$SERVER_PID" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

cleanup() {
  stop_server
  if [ "${BENCH_KEEP_PG:-0}" = 1 ]; then say "kept the cluster $BENCH_PG_DIR (database ${DB:-none})"; return; fi
  [ -n "$DB" ] && "$HARNESS/pg.sh" psql -qtAc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
  "$HARNESS/pg.sh" destroy >/dev/null 2>&1 || say "pg.sh destroy failed"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

# ---------------------------------------------------------------- harness, PostgreSQL, ceiling data
if [ ! -f "$HARNESS/bench.py" ]; then
  cp -r "${BENCH_SOURCE:-/work/shared/bench}" "$HARNESS" && chmod -R u+w "$HARNESS" || fail "copy the harness"
fi
OUT=$HARNESS/results/put-$STAMP
mkdir -p "$OUT"
if ! { [ -x "$HARNESS/.venv/bin/python" ] && command -v wrk >/dev/null; }; then
  "$HARNESS/setup.sh" >"$OUT/setup.log" 2>&1 || fail "setup.sh (see $OUT/setup.log)"
fi
"$HARNESS/pg.sh" start >"$OUT/pg.log" 2>&1 || fail "pg.sh start (see $OUT/pg.log)"
if [ "$("$HARNESS/pg.sh" psql -tAc "SELECT to_regclass('villages') IS NOT NULL" 2>/dev/null)" != t ]; then
  (cd "$HARNESS" && .venv/bin/python bench.py seed) >"$OUT/seed.log" 2>&1 || fail "bench.py seed"
fi

# ---------------------------------------------------------------- project: database, data, admin, token
DB="put_${STAMP//-/_}_$$"
"$HARNESS/pg.sh" psql -qtAc "CREATE DATABASE \"$DB\"" >/dev/null || fail "CREATE DATABASE $DB"
export DATABASE_URL=postgresql://bench@127.0.0.1:$BENCH_PG_PORT/$DB
# Far above the load, and below 2^31 (rate_counter.count is an INTEGER): the limiter claims
# a lease of 1 % per request that finds its lease spent, so 64 connections at once claim 64
# leases; at the harness's 100,000,000 two such bursts pass the limit and answer 429.
export SMARTVILLAGE_RATE_LIMIT=${BENCH_RATE_LIMIT:-2000000000}
SMARTVILLAGE_SECRET_KEY=$("$SV_VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')
export SMARTVILLAGE_SECRET_KEY PYTHONUNBUFFERED=1
cd "$REPO" || fail "cd $REPO"
"$SV" migrate >"$OUT/migrate.log" 2>&1 || fail "migrate (see $OUT/migrate.log)"
"$SV" generate --provinces 2 --communes-per-province 10 --villages-per-commune 30 --periods 1 \
  >"$OUT/generate.log" 2>&1 || fail "generate (see $OUT/generate.log)"
ADMIN_PW="Put-$("$SV_VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))')-9a"
"$SV" create-user --username bench --password "$ADMIN_PW" --role admin >"$OUT/user.log" 2>&1 ||
  fail "create-user (see $OUT/user.log)"
PORT=$(free_port)
setsid "$SV" serve --host 127.0.0.1 --port "$PORT" --workers 1 --no-demo </dev/null >"$OUT/prep-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && break
  sleep 0.5
done
BENCH_ADMIN_USER=bench BENCH_ADMIN_PASSWORD=$ADMIN_PW \
  "$HARNESS/.venv/bin/python" "$HARNESS/project_tool.py" prepare "http://127.0.0.1:$PORT" "$OUT" \
  >"$OUT/prepare.log" 2>&1 || fail "project_tool.py prepare (see $OUT/prepare.log)"
stop_server
PERIOD=$("$SV_VENV/bin/python" -c 'from api.seed.generate import quarters; print(quarters(1)[0])')
"$SV_VENV/bin/python" bench/put_targets.py "$OUT" "$PERIOD" "$SV" "$REPO" || fail "put_targets.py"

# ---------------------------------------------------------------- the run
say "PUT /api/v1/villages/{code}/submissions/$PERIOD vs submit_upsert; results in $OUT"
(cd "$HARNESS" && .venv/bin/python bench.py http --targets targets.json --targets "$OUT/put_targets.json" \
  --only submit_upsert,project_put,project_put_before --workers "${BENCH_WORKERS:-1,2}" --duration "${BENCH_DURATION:-10}" \
  --warmup "${BENCH_WARMUP:-2}" --repeats "${BENCH_REPEATS:-2}" --retries "${BENCH_RETRIES:-0}" \
  --port "$(free_port)" \
  --out-dir "$OUT/load" >"$OUT/load.md") 2>&1 | cut -c1-200
"$HARNESS/pg.sh" psql -tAc "SELECT count(*) || ' revisions, ' || (SELECT count(*) FROM audit_event) || ' audit events' FROM submission_revision" \
  -d "$DB" 2>/dev/null | sed 's/^/bench_put: project database now holds /' >&2
"$SV_VENV/bin/python" bench/put_targets.py summary "$(find "$OUT/load" -name 'http-*.json' | sort | tail -n 1)"
