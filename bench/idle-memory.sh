#!/usr/bin/env bash
# idle-memory.sh [options]
# RSS per idle client, split into what grows with clients (anonymous memory: heap, stacks) and the
# code pages a first login brings in (file-backed, shared with every process mapping the same
# binary and libraries): N clients log in as bench (md5 at sluice, trust at PgBouncer, as in the
# harness's idle step), run one SELECT 1 each, and sit idle; each proxy is fresh. sluice runs with 1 worker, PgBouncer 1.18 with
# the harness's setup, in front of one throwaway cluster from ../shared/bench/pg-up.sh.
#
# Options (environment variable in brackets):
#   --clients N      (CLIENTS, 10000)
#   --rounds R       fresh proxies per target (ROUNDS, 2)
#   --no-pgbouncer   sluice only
# Environment: SLUICE (binary, default $REPO/build/proxy/sluice), PG_PORT (25540), PORT (26540).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "${SHARED_BENCH:-$REPO/../shared/bench}" && pwd)
# shellcheck source=/dev/null  # the harness lives outside the repository
. "$SHARED/lib.sh"
# shellcheck source=bench/sluice-config.sh
. "$REPO/bench/sluice-config.sh"
# shellcheck source=bench/scaffold.sh
. "$REPO/bench/scaffold.sh"

SLUICE=${SLUICE:-$REPO/build/proxy/sluice}
PG_PORT=${PG_PORT:-25540} PORT=${PORT:-26540} POOL=20
CLIENTS=${CLIENTS:-10000} ROUNDS=${ROUNDS:-2}
NO_PGBOUNCER=0
while [ $# -gt 0 ]; do
  case $1 in
    --clients) CLIENTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --no-pgbouncer) NO_PGBOUNCER=1; shift ;;
    -h|--help) bench_usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (set SLUICE)"

bench_setup idle-memory

"$SHARED/pg-up.sh" "$PG_PORT" 1 >&2
PG_UP=1
read_bench_secrets
export PGPASSWORD=$BENCH_PASSWORD
render_sluice_config "$PORT" 1 >"$WORK/sluice.toml"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

split() {
  python3 "$REPO/bench/idle_rss_split.py" --shared "$SHARED" --port "$PORT" --pid "$1" --clients "$CLIENTS" --label "$2"
}

echo "| proxy | idle clients | VmRSS B/client | anonymous B/client | file-backed B/client |"
echo "|---|---|---|---|---|"
for r in $(seq "$ROUNDS"); do
  "$SLUICE" --config "$WORK/sluice.toml" >"$WORK/sluice-$r.log" 2>&1 &
  VPID=$!
  wait_port 127.0.0.1 "$PORT" 30 || { tail -5 "$WORK/sluice-$r.log" >&2; die "sluice did not listen"; }
  split "$VPID" sluice
  kill -TERM "$VPID"; wait "$VPID" 2>/dev/null || true; VPID=
  if [ "$NO_PGBOUNCER" = 0 ]; then
    pid=$("$SHARED/proxy-pgbouncer.sh" start "$PORT" "$PG_PORT" "$POOL" | tail -1)
    wait_port 127.0.0.1 "$PORT" 30 || die "PgBouncer did not listen"
    split "$pid" pgbouncer
    "$SHARED/proxy-pgbouncer.sh" stop "$PORT" >/dev/null
  fi
done
