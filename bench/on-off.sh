#!/usr/bin/env bash
# on-off.sh --feature NAME --on-toml TOML [--target X] [options]
# What one feature costs: pgbench -S through sluice with the feature on against the same sluice
# with it off, in one run so that both share the machine's state. Two sluice processes from the
# same binary, each with its own pool (20, transaction mode) in front of one throwaway cluster:
#   sluice-NAME-off   the bench config alone
#   sluice-NAME-on    the bench config plus --on-toml (sections appended verbatim)
# Rounds are interleaved (on, off, then off, on, ...), and the summary gives each one's median tps
# and the ratio on/off against --target (the feature's issue: timeouts 0.97, guard 0.95).
# bench/timeouts.sh and bench/guard.sh call it with their features.
#
# Options (environment variable in brackets):
#   --feature NAME   label of the feature (FEATURE)
#   --on-toml TOML   the config that turns it on (ON_TOML)
#   --target X       the least on/off ratio that meets the issue's target (TARGET, 0.95)
#   --rounds N       interleaved rounds (ROUNDS, 5)
#   --duration S     seconds per pgbench run (DURATION, 15)
#   --clients C      pgbench clients, -j 2 (CLIENTS, 50)
#   --mode M         pgbench -M: simple (default), extended or prepared (MODE)
#   --workers W      sluice workers (WORKERS, 2)
#   --out DIR        keep raw outputs here (OUT, default $BENCH_TMP/NAME-<date>-<time>)
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
FEATURE=${FEATURE:-} ON_TOML=${ON_TOML:-} TARGET=${TARGET:-0.95}
POOL=20
while [ $# -gt 0 ]; do
  case $1 in
    --feature) FEATURE=$2; shift 2 ;;
    --on-toml) ON_TOML=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
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
if [ -z "$FEATURE" ] || [ -z "$ON_TOML" ]; then die "--feature and --on-toml are required (see --help)"; fi
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (build it, or set SLUICE=...)"
case $MODE in simple|extended|prepared) ;; *) die "--mode: simple, extended or prepared" ;; esac

OFF_PORT=$BASE_PORT ON_PORT=$((BASE_PORT + 1))
OUT=${OUT:-$BENCH_TMP/$FEATURE-$(date +%F-%H%M%S)}
WORK=$BENCH_TMP/sluice-$FEATURE-$PG_PORT
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
OFF=$FEATURE-off ON=$FEATURE-on
start_sluice "$OFF" "$OFF_PORT" ""
start_sluice "$ON" "$ON_PORT" "$ON_TOML"

for ((r = 1; r <= ROUNDS; r++)); do
  # Alternate the order, so that neither always runs first in a round.
  if ((r % 2)); then order=("$ON $ON_PORT" "$OFF $OFF_PORT"); else order=("$OFF $OFF_PORT" "$ON $ON_PORT"); fi
  for t in "${order[@]}"; do
    read -r name port <<<"$t"
    run_pgbench "round $r $name" "$OUT/sluice-$name-r$r.txt" \
      -n -S -M "$MODE" -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$port" -U bench "$BENCH_DB"
  done
done
printf 'feature=%s target=%s sluice=%s commit=%s rounds=%s duration=%s clients=%s mode=%s workers=%s pool=%s scale=%s\n' \
  "$FEATURE" "$TARGET" "$SLUICE" "${SLUICE_COMMIT:-?}" "$ROUNDS" "$DURATION" "$CLIENTS" "$MODE" "$WORKERS" "$POOL" "$SCALE" >"$OUT/meta.txt"

python3 - "$OUT" "$FEATURE" "$TARGET" <<'PY' | tee "$OUT/summary.md"
import glob, re, statistics, sys

d, feature, target = sys.argv[1], sys.argv[2], float(sys.argv[3])
on, off = f"sluice-{feature}-on", f"sluice-{feature}-off"
meta = open(f"{d}/meta.txt").read().strip()
tps, failed = {}, {}
for n in [on, off]:
    for p in sorted(glob.glob(f"{d}/{n}-r*.txt")):
        txt = open(p).read()
        m = re.search(r"^tps = ([\d.]+)", txt, re.M)
        f = re.search(r"number of failed transactions: (\d+)", txt)
        if m and "exit=0" in txt and (not f or f.group(1) == "0"):
            tps.setdefault(n, []).append(float(m.group(1)))
        else:
            failed.setdefault(n, []).append(p)
print(f"### pgbench -S through sluice, {feature} on vs off ({meta})\n")
print("| target | median tps | runs (tps) | failed runs |")
print("|---|---|---|---|")
for n in [on, off]:
    runs = " · ".join(f"{x:,.0f}" for x in tps.get(n, [])) or "-"
    med = f"{statistics.median(tps[n]):,.0f}" if n in tps else "-"
    print(f"| {n} | {med} | {runs} | {len(failed.get(n, []))} |")
if on in tps and off in tps:
    x = statistics.median(tps[on]) / statistics.median(tps[off])
    print(f"\n- {feature} on / off: {x:.3f}x (target >= {target:.2f}x: {'met' if x >= target else 'not met'})")
PY
log "raw outputs in $OUT"
