#!/usr/bin/env bash
# run-comparison.sh [options]
# Side-by-side benchmark of direct PostgreSQL, PgBouncer 1.18 and sluice (1 and 2 workers), using the
# shared harness in ../shared/bench (override with SHARED_BENCH=DIR). Everything it starts (cluster,
# PgBouncer, sluice processes) is stopped on exit. Writes bench/results/<date>[-TAG]-summary.md and
# keeps the raw outputs in bench/results/<date>[-TAG]/; a run without --tag also becomes bench/RESULTS.md.
#
# Options:
#   --reps N              repetitions per scenario and target (3)
#   --duration S          seconds per pgbench run (10)
#   --scenarios a,b,...   pgbench scenarios (see ../shared/bench/bench.py)
#   --tag NAME            suffix for the result names (e.g. smoke)
#   --callgrind-tx N      transactions per client in callgrind runs (10000; 4 clients)
#   --callgrind-rounds R  callgrind rounds per proxy and mode (2)
#   --feature-rounds N    rounds of the guard and TLS comparisons (5; they last --duration each)
#   --skip-idle --skip-callgrind --skip-syscalls --skip-features (guard.sh and tls.sh)
#   --priority-nice N     after the scenarios, sel-simple-c50, sel-simple-c500 and sel-ext-c50 again
#                         with PgBouncer and sluice (1 worker) both at nice N (-5; 0 skips the step):
#                         on shared cores, how far each proxy's throughput depends on the scheduler
#                         letting it finish its turn (results in priority/)
#   --own-core CPU|off    then the same three with PgBouncer and sluice (1 worker) on CPU CPU (the
#                         last one by default), PostgreSQL and pgbench on the others: each proxy on a
#                         core of its own, as where it does not share cores with its clients and the
#                         database (results in own-core/)
# Environment:
#   SLUICE      sluice binary (default $REPO/../build-bench/proxy/sluice)
#   SLUICE_COMMIT  the commit that binary was built from, for the summary (default: HEAD, flagged)
#   PG_PORT     throwaway cluster port (25460; guard.sh's +1, tls.sh's +2); BASE_PORT first proxy port
#               (26460, uses +0..+9)
#   PG_MAX_CONNECTIONS  cluster max_connections (800: direct c500 + idle pooled backends of 3 proxies)
#   plus the knobs of ../shared/bench/lib.sh (BENCH_TMP, BENCH_OSUSER, ...)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "${SHARED_BENCH:-$REPO/../shared/bench}" && pwd)
# shellcheck source=/dev/null  # the harness lives outside the repository
. "$SHARED/lib.sh"
# shellcheck source=bench/sluice-config.sh
. "$REPO/bench/sluice-config.sh"
# shellcheck source=bench/placement.sh
. "$REPO/bench/placement.sh"

SLUICE=${SLUICE:-$REPO/../build-bench/proxy/sluice}
PG_PORT=${PG_PORT:-25460}
BASE_PORT=${BASE_PORT:-26460}
export PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-800}
POOL=20
REPS=3 DURATION=10 TAG='' CG_TX=10000 CG_ROUNDS=2
# sel-prep-c50 (-M prepared) runs without PgBouncer 1.18, which cannot run it in transaction mode.
SCENARIOS=sel-simple-c50,sel-simple-c500,sel-ext-c50,sel-prep-c50,tpcb-c50,churn-md5-c20,churn-scram-c20,sel-simple-c1
DO_IDLE=1 DO_CALLGRIND=1 DO_SYSCALLS=1 DO_FEATURES=1 FEATURE_ROUNDS=5 PRIORITY_NICE=-5
OWN_CORE=$(($(nproc) - 1))
PRIORITY_SCENARIOS=sel-simple-c50,sel-simple-c500,sel-ext-c50
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --callgrind-tx) CG_TX=$2; shift 2 ;;
    --callgrind-rounds) CG_ROUNDS=$2; shift 2 ;;
    --skip-idle) DO_IDLE=0; shift ;;
    --skip-callgrind) DO_CALLGRIND=0; shift ;;
    --skip-syscalls) DO_SYSCALLS=0; shift ;;
    --skip-features) DO_FEATURES=0; shift ;;
    --feature-rounds) FEATURE_ROUNDS=$2; shift 2 ;;
    --priority-nice) PRIORITY_NICE=$2; shift 2 ;;
    --own-core) OWN_CORE=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (build it, or set SLUICE=...)"

PGB_PORT=$BASE_PORT                 # PgBouncer for the pgbench runs
S1_PORT=$((BASE_PORT + 1))          # sluice, 1 worker
S2_PORT=$((BASE_PORT + 2))          # sluice, 2 workers
IDLE_S_PORT=$((BASE_PORT + 3))      # fresh sluice for idle-clients.py
IDLE_PGB_PORT=$((BASE_PORT + 4))    # fresh PgBouncer for idle-clients.py
CG_PORT=$((BASE_PORT + 9))          # proxies under callgrind

DATE=$(date +%F)
NAME=$DATE${TAG:+-$TAG}
RES=$REPO/bench/results/$NAME       # raw outputs kept next to the summary
SUMMARY=$REPO/bench/results/$NAME-summary.md
WORK=$BENCH_TMP/sluice-bench-$PG_PORT   # configs, logs, callgrind files (not kept)
rm -rf "$RES"; mkdir -p "$RES"
rm -rf "$WORK"; mkdir_owned "$WORK"
PROBLEMS=$RES/problems.txt
: >"$PROBLEMS"

# The bench role is trusted by the cluster and by PgBouncer, but sluice has no per-user trust: it
# asks bench for md5 too. pgbench (and the shared scripts) pass this environment on.
export PGPASSWORD=$BENCH_PASSWORD

log() { echo "$(date +%T) $*" >&2; }
problem() { log "PROBLEM: $*"; printf '%s\n' "$*" >>"$PROBLEMS"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

declare -A SPID=() SPORT=() SWORKERS=()
PGB_UP=() PG_UP=0 SAMPLER=

cleanup() {
  set +e
  local name
  for name in "${!SPID[@]}"; do stop_sluice "$name"; done
  for p in "${PGB_UP[@]}"; do "$SHARED/proxy-pgbouncer.sh" stop "$p" >/dev/null 2>&1; done
  [ "$PG_UP" = 1 ] && "$SHARED/pg-down.sh" "$PG_PORT" >/dev/null 2>&1
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# start_sluice NAME PORT WORKERS: start a sluice process as the bench OS user, logging to $WORK/NAME.log.
start_sluice() {
  local name=$1 port=$2 workers=$3 conf=$WORK/$1.toml
  port_in_use "$port" && die "port $port is already in use"
  render_sluice_config "$port" "$workers" >"$conf"
  "${USER_EXEC[@]}" "$SLUICE" --config "$conf" >>"$WORK/$name.log" 2>&1 &
  SPID[$name]=$! SPORT[$name]=$port SWORKERS[$name]=$workers
  if ! wait_port 127.0.0.1 "$port" 15; then
    tail -20 "$WORK/$name.log" >&2
    die "sluice $name did not listen on $port"
  fi
  log "sluice $name up: port $port, $workers worker(s), pid ${SPID[$name]}"
}

stop_sluice() {
  local name=$1 pid=${SPID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 40 || { problem "sluice $name (pid $pid) did not exit within 40 s of SIGTERM; killed"; kill -KILL "$pid" 2>/dev/null; }
  wait "$pid" 2>/dev/null || true
  unset "SPID[$name]"
  cp "$WORK/$name.log" "$RES/$name.log" 2>/dev/null || true
}

# check_sluice NAME CONTEXT: after a scenario, make sure the process is alive and answers a query;
# otherwise record the symptom with its log tail (and stacks of a hung process) and restart it.
check_sluice() {
  local name=$1 ctx=$2 pid=${SPID[$1]} port=${SPORT[$1]} out
  if ! kill -0 "$pid" 2>/dev/null; then
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    problem "sluice $name (pid $pid) died during $ctx (exit status $rc); log tail:"
    tail -30 "$WORK/$name.log" | sed 's/^/    /' >>"$PROBLEMS"
  elif ! out=$(timeout 15 psql -X -At -h 127.0.0.1 -p "$port" -U bench -d "$BENCH_DB" -c 'select 1' 2>&1) || [ "$out" != 1 ]; then
    problem "sluice $name (pid $pid) does not answer 'select 1' after $ctx: ${out:-timeout}; log tail and thread stacks:"
    tail -30 "$WORK/$name.log" | sed 's/^/    /' >>"$PROBLEMS"
    timeout 60 gdb -p "$pid" -batch -ex 'thread apply all bt 15' 2>/dev/null | grep -E '^(Thread|#)' | head -80 |
      sed 's/^/    /' >>"$PROBLEMS" || true
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  else
    return 0
  fi
  cat "$WORK/$name.log" >>"$RES/$name.crashed.log"
  : >"$WORK/$name.log"
  unset "SPID[$name]"
  start_sluice "$name" "$port" "${SWORKERS[$name]}"
  echo "    restarted as pid ${SPID[$name]}" >>"$PROBLEMS"
}

# Whole-machine CPU (busy% of 200 and steal%) every 10 s, and every 30 s the CPU taken by processes
# that are not part of the benchmark (other%: builds and tests of other people on the box).
BENCH_COMMS='postgres|pgbench|pgbouncer|sluice|python3|valgrind|memcheck|callgrind|strace|psql|top|bash|awk|sleep'
sample_load() {
  local prev cur i=0
  prev=$(head -1 /proc/stat)
  while sleep 10; do
    cur=$(head -1 /proc/stat)
    awk -v a="$prev" -v b="$cur" -v n="$(nproc)" -v now="$(date +%T)" 'BEGIN {
      split(a, x); split(b, y); t = 0
      for (i = 2; i <= 9; i++) t += y[i] - x[i]
      idle = (y[5] - x[5]) + (y[6] - x[6])
      if (t > 0) printf "%s busy%%=%.0f steal%%=%.0f\n", now, 100 * n * (t - idle) / t, 100 * n * (y[9] - x[9]) / t
    }'
    prev=$cur
    if [ $((i++ % 3)) = 0 ]; then
      top -b -n2 -d1 -w 200 | awk -v re="^($BENCH_COMMS)" -v now="$(date +%T)" '
        /^top -/ { blk++ }
        blk == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 0 { if ($12 ~ re) mine += $9; else { other += $9; if ($9 >= 5) who = who " " $12 "=" $9 } }
        END { printf "%s other%%=%.0f bench%%=%.0f top-other:%s\n", now, other, mine, who }'
    fi
    prev=$(head -1 /proc/stat)
  done
}

{
  echo "date=$(date '+%F %T %Z')"
  if [ -n "${SLUICE_COMMIT:-}" ]; then
    echo "commit=$SLUICE_COMMIT (as given by SLUICE_COMMIT)"
  else
    echo "commit=repository HEAD at run time $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD -- proxy protocol config 2>/dev/null || echo ' (+ uncommitted changes)'); the binary may be older"
  fi
  echo "sluice=$SLUICE ($(stat -c '%y' "$SLUICE" | cut -d. -f1))"
  echo "pgbouncer=$(/usr/sbin/pgbouncer --version 2>/dev/null | head -1)"
  echo "args=--reps $REPS --duration $DURATION --scenarios $SCENARIOS"
  echo "cpus=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RES/meta.txt"
top -b -n2 -d1 -w 200 | awk '/^top -/ { blk++ } blk == 2 && (/^ *PID/ || ($1 ~ /^[0-9]+$/ && $9 + 0 >= 1))' | head -12 >"$RES/top-start.txt"
sample_load >"$RES/load.log" 2>/dev/null &
SAMPLER=$!
T_START=$(date +%s)

# --- cluster, PgBouncer, two sluice processes -------------------------------------------------
log "starting PostgreSQL on $PG_PORT (max_connections $PG_MAX_CONNECTIONS)"
PG_UP=1
"$SHARED/pg-up.sh" "$PG_PORT" 10 >&2
read_bench_secrets

PGB_UP+=("$PGB_PORT")
PGB_PID=$("$SHARED/proxy-pgbouncer.sh" start "$PGB_PORT" "$PG_PORT" "$POOL")
log "pgbouncer up: port $PGB_PORT, pid $PGB_PID"
start_sluice sluice1w "$S1_PORT" 1
start_sluice sluice2w "$S2_PORT" 2

# --- pgbench scenarios, one run.sh per scenario so a sluice failure costs one scenario ----------
for s in ${SCENARIOS//,/ }; do
  log "scenario $s"
  targets=(direct="127.0.0.1:$PG_PORT" pgbouncer="127.0.0.1:$PGB_PORT:$PGB_PID"
           sluice1w="127.0.0.1:$S1_PORT:${SPID[sluice1w]}" sluice2w="127.0.0.1:$S2_PORT:${SPID[sluice2w]}")
  [[ $s == sel-prep-* ]] && unset 'targets[1]'  # PgBouncer 1.18: "prepared statement "P_0" already exists"
  rc=0
  "$SHARED/run.sh" --reps "$REPS" --duration "$DURATION" --scenarios "$s" --ref-cpu pgbouncer --out "$RES" \
    "${targets[@]}" >"$WORK/run-$s.md" 2>"$WORK/run-$s.log" || rc=$?
  cat "$WORK/run-$s.log" >>"$RES/progress.log"
  cat "$WORK/run-$s.log" >&2
  if [ "$rc" != 0 ]; then
    problem "run.sh aborted in scenario $s (rc $rc): $(grep -v '^[0-9][0-9]:' "$WORK/run-$s.log" | tail -2 | tr '\n' ' ')"
  fi
  kill -0 "$PGB_PID" 2>/dev/null || die "pgbouncer died during $s"
  check_sluice sluice1w "$s"
  check_sluice sluice2w "$s"
done

# --- the same proxies at an equal, raised priority ------------------------------------------------
if [ "$PRIORITY_NICE" != 0 ]; then
  log "priority: PgBouncer and sluice1w at nice $PRIORITY_NICE ($PRIORITY_SCENARIOS)"
  if renice_all "$PRIORITY_NICE" "$PGB_PID" "${SPID[sluice1w]}"; then
    echo "nice=$PRIORITY_NICE" >"$RES/priority.txt"
    rc=0
    "$SHARED/run.sh" --reps "$REPS" --duration "$DURATION" --scenarios "$PRIORITY_SCENARIOS" --ref-cpu pgbouncer \
      --out "$RES/priority" pgbouncer="127.0.0.1:$PGB_PORT:$PGB_PID" sluice1w="127.0.0.1:$S1_PORT:${SPID[sluice1w]}" \
      >"$WORK/run-priority.md" 2>"$WORK/run-priority.log" || rc=$?
    cat "$WORK/run-priority.log" >>"$RES/progress.log"
    [ "$rc" = 0 ] || problem "run.sh aborted in the priority step (rc $rc): $(tail -2 "$WORK/run-priority.log" | tr '\n' ' ')"
  else
    problem "renice $PRIORITY_NICE failed (root needed): no priority step"
  fi
  renice_all 0 "$PGB_PID" "${SPID[sluice1w]}" || problem "renice back to 0 failed"
  kill -0 "$PGB_PID" 2>/dev/null || die "pgbouncer died during the priority step"
  check_sluice sluice1w priority
fi

# --- the same proxies each on a core of its own -------------------------------------------------
# The proxy on CPU $OWN_CORE, PostgreSQL and pgbench (run.sh's children) on the others: a proxy that
# does not share its core with its clients and the database, as on a machine of its own.
if [ "$OWN_CORE" != off ]; then
  others=$(cpus_except "$OWN_CORE") all=$(all_cpus)
  if [ -z "$others" ]; then
    problem "--own-core $OWN_CORE leaves no CPU for PostgreSQL and pgbench: no own-core step"
  elif pin_all "$OWN_CORE" "$PGB_PID" "${SPID[sluice1w]}" && pin_postgres "$others"; then
    log "own core: PgBouncer and sluice1w on CPU $OWN_CORE, PostgreSQL and pgbench on CPU $others ($PRIORITY_SCENARIOS)"
    echo "proxy_cpu=$OWN_CORE others=$others" >"$RES/own-core.txt"
    rc=0
    taskset -c "$others" "$SHARED/run.sh" --reps "$REPS" --duration "$DURATION" --scenarios "$PRIORITY_SCENARIOS" \
      --ref-cpu pgbouncer --out "$RES/own-core" pgbouncer="127.0.0.1:$PGB_PORT:$PGB_PID" \
      sluice1w="127.0.0.1:$S1_PORT:${SPID[sluice1w]}" >"$WORK/run-own-core.md" 2>"$WORK/run-own-core.log" || rc=$?
    cat "$WORK/run-own-core.log" >>"$RES/progress.log"
    [ "$rc" = 0 ] || problem "run.sh aborted in the own-core step (rc $rc): $(tail -2 "$WORK/run-own-core.log" | tr '\n' ' ')"
  else
    problem "taskset failed: no own-core step"
  fi
  { pin_all "$all" "$PGB_PID" "${SPID[sluice1w]}" && pin_postgres "$all"; } || problem "taskset back to CPU $all failed"
  kill -0 "$PGB_PID" 2>/dev/null || die "pgbouncer died during the own-core step"
  check_sluice sluice1w own-core
fi

# --- syscalls per transaction (strace -c, 4 clients x 2000 tx) ----------------------------------
if [ "$DO_SYSCALLS" = 1 ]; then
  for m in simple extended; do
    for t in pgbouncer:$PGB_PORT:$PGB_PID sluice1w:$S1_PORT:${SPID[sluice1w]} sluice2w:$S2_PORT:${SPID[sluice2w]}; do
      IFS=: read -r name port pid <<<"$t"
      log "syscalls $name $m"
      "$SHARED/syscalls.sh" --mode "$m" "$port" "$pid" >"$RES/syscalls-$name-$m.txt" 2>&1 ||
        problem "syscalls.sh failed for $name ($m): $(tail -2 "$RES/syscalls-$name-$m.txt" | tr '\n' ' ')"
    done
  done
  check_sluice sluice1w syscalls
  check_sluice sluice2w syscalls
fi

# The pgbench-run proxies are done: free their memory and server connections.
stop_sluice sluice1w
stop_sluice sluice2w
"$SHARED/proxy-pgbouncer.sh" stop "$PGB_PORT" >/dev/null

# --- idle clients, each against a freshly started proxy -----------------------------------------
if [ "$DO_IDLE" = 1 ]; then
  start_sluice idle-sluice "$IDLE_S_PORT" 1
  log "idle clients: sluice"
  python3 "$SHARED/idle-clients.py" --port "$IDLE_S_PORT" --pid "${SPID[idle-sluice]}" --pg-port "$PG_PORT" \
    --steps 1000,5000,10000 --query >"$RES/idle-sluice.md" 2>&1 ||
    problem "idle-clients.py against sluice failed: $(tail -2 "$RES/idle-sluice.md" | tr '\n' ' ')"
  cat "$RES/idle-sluice.md" >&2
  check_sluice idle-sluice idle-clients
  stop_sluice idle-sluice
  # 10,000 idle clients and 200 active ones at once, on pool 20: served with no error?
  start_sluice active-sluice "$IDLE_S_PORT" 1
  log "10,000 idle + 200 active: sluice"
  python3 "$REPO/bench/idle_plus_active.py" --shared "$SHARED" --port "$IDLE_S_PORT" --pg-port "$PG_PORT" \
    --duration "$DURATION" >"$RES/idle-active-sluice.txt" 2>&1 ||
    problem "idle_plus_active.py against sluice failed: $(tail -2 "$RES/idle-active-sluice.txt" | tr '\n' ' ')"
  cat "$RES/idle-active-sluice.txt" >&2
  check_sluice active-sluice idle-plus-active
  stop_sluice active-sluice

  PGB_UP+=("$IDLE_PGB_PORT")
  IDLE_PGB_PID=$("$SHARED/proxy-pgbouncer.sh" start "$IDLE_PGB_PORT" "$PG_PORT" "$POOL")
  log "idle clients: pgbouncer"
  python3 "$SHARED/idle-clients.py" --port "$IDLE_PGB_PORT" --pid "$IDLE_PGB_PID" --pg-port "$PG_PORT" \
    --steps 1000,5000,10000 --query >"$RES/idle-pgbouncer.md" 2>&1 ||
    problem "idle-clients.py against pgbouncer failed: $(tail -2 "$RES/idle-pgbouncer.md" | tr '\n' ' ')"
  cat "$RES/idle-pgbouncer.md" >&2
  log "10,000 idle + 200 active: pgbouncer"
  python3 "$REPO/bench/idle_plus_active.py" --shared "$SHARED" --port "$IDLE_PGB_PORT" --pg-port "$PG_PORT" \
    --duration "$DURATION" >"$RES/idle-active-pgbouncer.txt" 2>&1 ||
    problem "idle_plus_active.py against pgbouncer failed: $(tail -2 "$RES/idle-active-pgbouncer.txt" | tr '\n' ' ')"
  cat "$RES/idle-active-pgbouncer.txt" >&2
  "$SHARED/proxy-pgbouncer.sh" stop "$IDLE_PGB_PORT" >/dev/null
fi

# --- what the guard and TLS cost (each script brings up its own cluster and sluice processes) -----
if [ "$DO_FEATURES" = 1 ]; then
  log "guard enforce vs off (guard.sh, $FEATURE_ROUNDS rounds)"
  SLUICE="$SLUICE" PG_PORT=$((PG_PORT + 1)) BASE_PORT=$((BASE_PORT + 5)) "$REPO/bench/guard.sh" --rounds "$FEATURE_ROUNDS" --duration "$DURATION" --workers 1 \
    --out "$RES/guard" >"$RES/guard.txt" 2>&1 || problem "guard.sh failed: $(tail -2 "$RES/guard.txt" | tr '\n' ' ')"
  cat "$RES/guard.txt" >&2
  log "TLS both sides vs plain (tls.sh, $FEATURE_ROUNDS rounds)"
  SLUICE="$SLUICE" PG_PORT=$((PG_PORT + 2)) PLAIN_PORT=$((BASE_PORT + 7)) TLS_PORT=$((BASE_PORT + 8)) "$REPO/bench/tls.sh" --rounds "$FEATURE_ROUNDS" --duration "$DURATION" >"$RES/tls.txt" 2>&1 ||
    problem "tls.sh failed: $(tail -2 "$RES/tls.txt" | tr '\n' ' ')"
  cat "$RES/tls.txt" >&2
fi

# --- user-space instructions per transaction (callgrind, 4 clients) ------------------------------
if [ "$DO_CALLGRIND" = 1 ]; then
  render_sluice_config "$CG_PORT" 1 >"$WORK/callgrind.toml"
  for m in simple extended; do
    log "callgrind sluice $m"
    "$SHARED/callgrind.sh" --mode "$m" --clients 4 --tx "$CG_TX" --rounds "$CG_ROUNDS" --out "$WORK/cg-sluice-$m" \
      "$CG_PORT" -- "$SLUICE" --config "$WORK/callgrind.toml" >"$RES/callgrind-sluice-$m.txt" 2>&1 ||
      problem "callgrind.sh failed for sluice ($m): $(tail -3 "$RES/callgrind-sluice-$m.txt" | tr '\n' ' ')"
    cat "$RES/callgrind-sluice-$m.txt" >&2
    log "callgrind pgbouncer $m"
    PGB_UP+=("$CG_PORT")
    # shellcheck disable=SC2046  # the printed command line is meant to be split
    "$SHARED/callgrind.sh" --mode "$m" --clients 4 --tx "$CG_TX" --rounds "$CG_ROUNDS" --out "$WORK/cg-pgbouncer-$m" \
      "$CG_PORT" -- $("$SHARED/proxy-pgbouncer.sh" cmd "$CG_PORT" "$PG_PORT" "$POOL") \
      >"$RES/callgrind-pgbouncer-$m.txt" 2>&1 ||
      problem "callgrind.sh failed for pgbouncer ($m): $(tail -3 "$RES/callgrind-pgbouncer-$m.txt" | tr '\n' ' ')"
    cat "$RES/callgrind-pgbouncer-$m.txt" >&2
    "$SHARED/proxy-pgbouncer.sh" stop "$CG_PORT" >/dev/null
  done
  # callgrind_annotate top functions of sluice's first full simple run, for the curious
  if [ -f "$WORK/cg-sluice-simple/callgrind.full1.out" ]; then
    callgrind_annotate "$WORK/cg-sluice-simple/callgrind.full1.out" 2>/dev/null | head -60 >"$RES/callgrind-sluice-simple-annotate.txt" || true
  fi
fi

echo "elapsed_s=$(($(date +%s) - T_START))" >>"$RES/meta.txt"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/meta.txt"
rm -f "$RES/summary.md"   # run.sh's per-invocation table, superseded by the summary below
python3 "$REPO/bench/summarize.py" "$RES" >"$SUMMARY"
log "summary: $SUMMARY"
# A full run (no tag) is the project's record.
if [ -z "$TAG" ]; then cp "$SUMMARY" "$REPO/bench/RESULTS.md"; log "record: bench/RESULTS.md"; fi
cat "$SUMMARY"
