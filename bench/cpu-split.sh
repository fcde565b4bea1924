#!/usr/bin/env bash
# cpu-split.sh [options]
# Where a proxy's CPU per transaction goes: user space (its own code) or the kernel (the sockets),
# from /proc/PID/stat (utime, stime) around each pgbench run. sluice with 1 worker and PgBouncer
# 1.18 take turns (interleaved repetitions) in front of one throwaway cluster from
# ../shared/bench/pg-up.sh, pool 20, pgbench -S (simple, or --mode) as the bench user. The kernel part is what
# sending and receiving costs whatever the proxy does in user space: it bounds how far below
# PgBouncer's CPU per transaction any proxy with the same syscalls can go.
#
# Options (environment variable in brackets):
#   --reps N         repetitions (REPS, 3)
#   --duration S     seconds per pgbench run (DURATION, 8)
#   --clients C      pgbench clients (CLIENTS, 50)
#   --mode M         pgbench query mode: simple or extended (MODE, simple)
# Environment: SLUICE (binary, default $REPO/build/proxy/sluice), PG_PORT (25550), PORT (26550;
# PgBouncer on PORT + 1).
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
PG_PORT=${PG_PORT:-25550} PORT=${PORT:-26550} POOL=20
REPS=${REPS:-3} DURATION=${DURATION:-8} CLIENTS=${CLIENTS:-50} MODE=${MODE:-simple}
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    -h|--help) bench_usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (set SLUICE)"
case $MODE in simple|extended) ;; *) die "--mode must be simple or extended (PgBouncer 1.18 cannot run prepared)" ;; esac
PGB_PORT=$((PORT + 1))

# shellcheck disable=SC2317  # runs from the EXIT trap
bench_on_exit() {
  "$SHARED/proxy-pgbouncer.sh" stop "$PGB_PORT" "$PG_PORT" "$POOL" >/dev/null 2>&1 || true
}
bench_setup cpu-split

"$SHARED/pg-up.sh" "$PG_PORT" 10 >&2
PG_UP=1
read_bench_secrets
export PGPASSWORD=$BENCH_PASSWORD
render_sluice_config "$PORT" 1 >"$WORK/sluice.toml"
"${USER_EXEC[@]}" "$SLUICE" --config "$WORK/sluice.toml" >"$WORK/sluice.log" 2>&1 &
VPID=$!
wait_port 127.0.0.1 "$PORT" 15 || die "sluice did not listen on $PORT"
PGB_PID=$("$SHARED/proxy-pgbouncer.sh" start "$PGB_PORT" "$PG_PORT" "$POOL" | tail -1)
wait_port 127.0.0.1 "$PGB_PORT" 15 || die "PgBouncer did not listen on $PGB_PORT"

# ticks PID: its user and system clock ticks so far.
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "| rep | proxy | transactions | user µs/tx | kernel µs/tx | total µs/tx | user share |"
echo "|---|---|---|---|---|---|---|"
for rep in $(seq "$REPS"); do
  for target in sluice pgbouncer; do
    if [ "$target" = sluice ]; then pid=$VPID port=$PORT; else pid=$PGB_PID port=$PGB_PORT; fi
    read -r u0 s0 < <(ticks "$pid")
    tx=$(pgbench -n -S -M "$MODE" -h 127.0.0.1 -p "$port" -U bench -c "$CLIENTS" -j 2 -T "$DURATION" "$BENCH_DB" 2>&1 |
      awk '/actually processed/ {print $NF}')
    read -r u1 s1 < <(ticks "$pid")
    [ -n "$tx" ] && [ "$tx" -gt 0 ] || die "pgbench through $target processed nothing"
    python3 -c "
u = ($u1 - $u0) * 1e6 / $hz / $tx; s = ($s1 - $s0) * 1e6 / $hz / $tx
print(f'| $rep | $target | {$tx:,} | {u:.2f} | {s:.2f} | {u + s:.2f} | {u / (u + s):.0%} |')"
  done
done
