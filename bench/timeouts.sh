#!/usr/bin/env bash
# timeouts.sh [options]
# Issue 9's cost check: pgbench -S through sluice with every timeout on against the same sluice
# with them off, in one run so that both share the machine's state. Two sluice processes from the
# same binary, each with its own pool (20, transaction mode) in front of one throwaway cluster:
#   sluice-timers-off   no [timeouts] beyond the defaults (statement, transaction, idle limits 0)
#   sluice-timers-on    statement 30s, transaction 5m, idle_in_transaction 60s, client_idle 10m
# Rounds are interleaved (on, off, then off, on, ...), and the summary gives each one's median tps
# and the ratio on/off (issue 9's target: within 3%, i.e. >= 0.97).
#
# Options (environment variable in brackets):
#   --rounds N       interleaved rounds (ROUNDS, 5)
#   --duration S     seconds per pgbench run (DURATION, 15)
#   --clients C      pgbench clients, -j 2 (CLIENTS, 50)
#   --mode M         pgbench -M: simple (default), extended or prepared (MODE)
#   --workers W      sluice workers (WORKERS, 2)
#   --out DIR        keep raw outputs here (OUT, default $BENCH_TMP/timeouts-<date>-<time>)
# Environment: SLUICE (binary, default $REPO/../build-bench/proxy/sluice), SLUICE_COMMIT (label),
#   SHARED_BENCH (../shared/bench), PG_PORT (25530), BASE_PORT (26530, uses +0, +1), SCALE (10),
#   plus the knobs of ../shared/bench/lib.sh. A smoke run: --rounds 1 --duration 3.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "${SHARED_BENCH:-$REPO/../shared/bench}" && pwd)
# shellcheck source=/dev/null  # the harness lives outside the repository
. "$SHARED/lib.sh"
# shellcheck source=bench/sluice-config.sh
. "$REPO/bench/sluice-config.sh"

SLUICE=${SLUICE:-$REPO/../build-bench/proxy/sluice}
PG_PORT=${PG_PORT:-25530}
BASE_PORT=${BASE_PORT:-26530}
SCALE=${SCALE:-10}
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-15} CLIENTS=${CLIENTS:-50} WORKERS=${WORKERS:-2}
MODE=${MODE:-simple} OUT=${OUT:-}
POOL=20
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (build it, or set SLUICE=...)"
case $MODE in simple|extended|prepared) ;; *) die "--mode: simple, extended or prepared" ;; esac

OFF_PORT=$BASE_PORT ON_PORT=$((BASE_PORT + 1))
OUT=${OUT:-$BENCH_TMP/timeouts-$(date +%F-%H%M%S)}
WORK=$BENCH_TMP/sluice-timeouts-$PG_PORT
mkdir -p "$OUT"
rm -rf "$WORK"; mkdir_owned "$WORK"
export PGPASSWORD=$BENCH_PASSWORD  # sluice asks the bench role for md5 (see sluice-bench.toml.in)

log() { echo "$(date +%T) $*" >&2; }
PIDS=() PG_UP=0
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait_pid_gone "$pid" 20; done
  [ "$PG_UP" = 1 ] && "$SHARED/pg-down.sh" "$PG_PORT" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "cluster on $PG_PORT (scale $SCALE)"
"$SHARED/pg-up.sh" "$PG_PORT" "$SCALE" >&2
PG_UP=1
read_bench_secrets

# start_sluice NAME PORT EXTRA_TOML
start_sluice() {
  render_sluice_config "$2" "$WORKERS" "$3" >"$WORK/$1.toml"
  "${USER_EXEC[@]}" "$SLUICE" --config "$WORK/$1.toml" >>"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  wait_port 127.0.0.1 "$2" 15 || { tail -20 "$WORK/$1.log" >&2; die "sluice ($1) did not listen on $2"; }
  log "sluice ($1) up on $2 ($WORKERS workers, pool $POOL)"
}
start_sluice timers-off "$OFF_PORT" ""
start_sluice timers-on "$ON_PORT" '[timeouts]
statement = "30s"
transaction = "5m"
idle_in_transaction = "60s"
client_idle = "10m"'

for ((r = 1; r <= ROUNDS; r++)); do
  # Alternate the order, so that neither always runs first in a round.
  if ((r % 2)); then order=("timers-on $ON_PORT" "timers-off $OFF_PORT"); else order=("timers-off $OFF_PORT" "timers-on $ON_PORT"); fi
  for t in "${order[@]}"; do
    read -r name port <<<"$t"
    run_pgbench "round $r $name" "$OUT/sluice-$name-r$r.txt" \
      -n -S -M "$MODE" -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$port" -U bench "$BENCH_DB"
  done
done
printf 'sluice=%s commit=%s rounds=%s duration=%s clients=%s mode=%s workers=%s pool=%s scale=%s\n' \
  "$SLUICE" "${SLUICE_COMMIT:-?}" "$ROUNDS" "$DURATION" "$CLIENTS" "$MODE" "$WORKERS" "$POOL" "$SCALE" >"$OUT/meta.txt"

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import glob, re, statistics, sys

d = sys.argv[1]
meta = open(f"{d}/meta.txt").read().strip()
tps, failed = {}, {}
for n in ["sluice-timers-on", "sluice-timers-off"]:
    for p in sorted(glob.glob(f"{d}/{n}-r*.txt")):
        txt = open(p).read()
        m = re.search(r"^tps = ([\d.]+)", txt, re.M)
        f = re.search(r"number of failed transactions: (\d+)", txt)
        if m and "exit=0" in txt and (not f or f.group(1) == "0"):
            tps.setdefault(n, []).append(float(m.group(1)))
        else:
            failed.setdefault(n, []).append(p)
print(f"### pgbench -S through sluice, timeouts on vs off ({meta})\n")
print("| target | median tps | runs (tps) | failed runs |")
print("|---|---|---|---|")
for n in ["sluice-timers-on", "sluice-timers-off"]:
    runs = " · ".join(f"{x:,.0f}" for x in tps.get(n, [])) or "-"
    med = f"{statistics.median(tps[n]):,.0f}" if n in tps else "-"
    print(f"| {n} | {med} | {runs} | {len(failed.get(n, []))} |")
if "sluice-timers-on" in tps and "sluice-timers-off" in tps:
    x = statistics.median(tps["sluice-timers-on"]) / statistics.median(tps["sluice-timers-off"])
    print(f"\n- timers on / off: {x:.3f}x (target >= 0.97x: {'met' if x >= 0.97 else 'not met'})")
PY
log "raw outputs in $OUT"
