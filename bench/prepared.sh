#!/usr/bin/env bash
# prepared.sh [options]
# Issue 8's benchmark: what prepared statements cost through sluice's transaction pool, measured in
# one run so that the figures share the machine's state:
#   sluice   pgbench -M prepared        (the feature)
#   sluice   pgbench -M extended        (same protocol, no named statements: the baseline it must beat)
#   direct   pgbench -M prepared        (PostgreSQL itself: the ceiling)
#   PgBouncer 1.18 -M prepared          (transaction mode has no prepared-statement support before
#                                        1.21: expected to fail; its failure is reported, not hidden)
# Rounds are interleaved (each round runs every target once, in the order above), so a slow
# phase of the machine hits all targets alike; the summary gives each target's median tps over the
# rounds and the ratios prepared/direct and prepared/extended (issue 8 targets: >= 0.8x direct,
# >= 1.1x sluice's own extended).
# sluice runs with bench/sluice-bench.toml.in (pool 20, transaction mode, md5 for the bench user)
# in front of a throwaway cluster from ../shared/bench/pg-up.sh, as in run-comparison.sh;
# PgBouncer from ../shared/bench/proxy-pgbouncer.sh. Everything it starts is stopped on exit, also
# on failure or Ctrl-C. CPU per transaction (callgrind Ir/tx) is relay-costs.sh's job.
#
# Options (environment variable in brackets):
#   --rounds N       interleaved rounds (ROUNDS, 5)
#   --duration S     seconds per pgbench run (DURATION, 15)
#   --clients C      pgbench clients, -j 2 (CLIENTS, 50)
#   --script NAME    pgbench builtin: select-only (default: the proxy's cost is visible) or tpcb-like
#   --workers W      sluice workers (WORKERS, 2)
#   --no-pgbouncer   skip PgBouncer (NO_PGBOUNCER=1)
#   --out DIR        keep raw outputs here (OUT, default $BENCH_TMP/prepared-<date>-<time>)
# Environment: SLUICE (binary, default $REPO/../build-bench/proxy/sluice), SLUICE_COMMIT (label),
#   SHARED_BENCH (../shared/bench), PG_PORT (25520), BASE_PORT (26520, uses +0, +1), SCALE (10),
#   plus the knobs of ../shared/bench/lib.sh. A smoke run: --rounds 1 --duration 3.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "${SHARED_BENCH:-$REPO/../shared/bench}" && pwd)
# shellcheck source=/dev/null  # the harness lives outside the repository
. "$SHARED/lib.sh"
# shellcheck source=bench/sluice-config.sh
. "$REPO/bench/sluice-config.sh"

SLUICE=${SLUICE:-$REPO/../build-bench/proxy/sluice}
PG_PORT=${PG_PORT:-25520}
BASE_PORT=${BASE_PORT:-26520}
SCALE=${SCALE:-10}
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-15} CLIENTS=${CLIENTS:-50} WORKERS=${WORKERS:-2}
SCRIPT=select-only NO_PGBOUNCER=${NO_PGBOUNCER:-0} OUT=${OUT:-}
POOL=20
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --script) SCRIPT=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --no-pgbouncer) NO_PGBOUNCER=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (build it, or set SLUICE=...)"
case $SCRIPT in select-only|tpcb-like) ;; *) die "--script: select-only or tpcb-like" ;; esac

S_PORT=$BASE_PORT PGB_PORT=$((BASE_PORT + 1))
OUT=${OUT:-$BENCH_TMP/prepared-$(date +%F-%H%M%S)}
WORK=$BENCH_TMP/sluice-prepared-$PG_PORT
mkdir -p "$OUT"
rm -rf "$WORK"; mkdir_owned "$WORK"
export PGPASSWORD=$BENCH_PASSWORD  # sluice asks the bench role for md5 (see sluice-bench.toml.in)

log() { echo "$(date +%T) $*" >&2; }
S_PID='' PGB_UP=0 PG_UP=0
cleanup() {
  set +e
  if [ -n "$S_PID" ]; then kill "$S_PID" 2>/dev/null; wait_pid_gone "$S_PID" 20; fi
  [ "$PGB_UP" = 1 ] && "$SHARED/proxy-pgbouncer.sh" stop "$PGB_PORT" >/dev/null 2>&1
  [ "$PG_UP" = 1 ] && "$SHARED/pg-down.sh" "$PG_PORT" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "cluster on $PG_PORT (scale $SCALE)"
"$SHARED/pg-up.sh" "$PG_PORT" "$SCALE" >&2
PG_UP=1
read_bench_secrets

render_sluice_config "$S_PORT" "$WORKERS" >"$WORK/sluice.toml"
"${USER_EXEC[@]}" "$SLUICE" --config "$WORK/sluice.toml" >>"$WORK/sluice.log" 2>&1 &
S_PID=$!
wait_port 127.0.0.1 "$S_PORT" 15 || { tail -20 "$WORK/sluice.log" >&2; die "sluice did not listen on $S_PORT"; }
log "sluice up on $S_PORT ($WORKERS workers, pool $POOL)"
if [ "$NO_PGBOUNCER" != 1 ]; then
  "$SHARED/proxy-pgbouncer.sh" start "$PGB_PORT" "$PG_PORT" "$POOL" >/dev/null
  PGB_UP=1
  log "PgBouncer up on $PGB_PORT ($(/usr/sbin/pgbouncer --version 2>/dev/null | head -1))"
fi

# One target: NAME PORT MODE. The raw output goes to OUT/NAME-rR.txt.
TARGETS=("sluice-prepared $S_PORT prepared" "sluice-extended $S_PORT extended" "direct-prepared $PG_PORT prepared")
[ "$NO_PGBOUNCER" != 1 ] && TARGETS+=("pgbouncer-prepared $PGB_PORT prepared")
for ((r = 1; r <= ROUNDS; r++)); do
  for t in "${TARGETS[@]}"; do
    read -r name port mode <<<"$t"
    run_pgbench "round $r $name" "$OUT/$name-r$r.txt" \
      -n -b "$SCRIPT" -M "$mode" -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$port" -U bench "$BENCH_DB"
  done
done
printf 'sluice=%s commit=%s rounds=%s duration=%s clients=%s script=%s workers=%s pool=%s scale=%s\n' \
  "$SLUICE" "${SLUICE_COMMIT:-?}" "$ROUNDS" "$DURATION" "$CLIENTS" "$SCRIPT" "$WORKERS" "$POOL" "$SCALE" >"$OUT/meta.txt"

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import glob, re, statistics, sys

d = sys.argv[1]
meta = open(f"{d}/meta.txt").read().strip()
names = ["sluice-prepared", "sluice-extended", "direct-prepared", "pgbouncer-prepared"]
tps, failed = {}, {}
for n in names:
    for p in sorted(glob.glob(f"{d}/{n}-r*.txt")):
        txt = open(p).read()
        m = re.search(r"^tps = ([\d.]+)", txt, re.M)
        f = re.search(r"number of failed transactions: (\d+)", txt)
        ok = m and "exit=0" in txt and (not f or f.group(1) == "0")
        if ok:
            tps.setdefault(n, []).append(float(m.group(1)))
        else:
            err = re.search(r"^.*(ERROR|aborted|error).*$", txt, re.M)
            failed.setdefault(n, []).append(err.group(0).strip() if err else "no tps line")
med = {n: statistics.median(v) for n, v in tps.items()}
print(f"### pgbench -M prepared through sluice ({meta})\n")
print("| target | median tps | runs (tps) | failed runs |")
print("|---|---|---|---|")
for n in names:
    if n not in tps and n not in failed:
        continue
    runs = " · ".join(f"{x:,.0f}" for x in tps.get(n, [])) or "-"
    median = f"{med[n]:,.0f}" if n in med else "-"
    print(f"| {n} | {median} | {runs} | {len(failed.get(n, []))} |")
print()
def ratio(a, b, target):
    if a in med and b in med and med[b]:
        x = med[a] / med[b]
        return f"{x:.2f}x (target >= {target}x: {'met' if x >= target else 'not met'})"
    return "- (a target failed)"
print(f"- sluice prepared / direct prepared: {ratio('sluice-prepared', 'direct-prepared', 0.8)}")
print(f"- sluice prepared / sluice extended: {ratio('sluice-prepared', 'sluice-extended', 1.1)}")
if "pgbouncer-prepared" in med:
    print(f"- PgBouncer prepared / direct prepared: {med['pgbouncer-prepared'] / med['direct-prepared']:.2f}x")
for n, errs in failed.items():
    print(f"- {n} failed {len(errs)} run(s); first error: `{errs[0]}`")
PY
log "raw outputs in $OUT"
