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
#   --against BIN    a second sluice binary taking turns with the first, as "sluice-b" (AGAINST):
#                    an A/B of two builds with PgBouncer beside them
#   --warmup S       seconds of load through each proxy before the first repetition (WARMUP, 0):
#                    a proxy loaded right after its start runs its first seconds slower
#   --machine        also a second table: the whole machine's CPU per transaction from /proc/stat
#                    (user, system, softirq, idle), PostgreSQL's preemptions and CPU migrations, and
#                    the inter-processor interrupts (rescheduling, function call) per transaction
#                    (MACHINE=1)
#   --sched-trace S  also a table of who preempted whom: `perf record -a` of the scheduler's switches
#                    and wake-ups for S seconds from 2 s into each run, summarized per run by
#                    bench/sched_trace.py (SCHED_TRACE=S; needs root for perf)
#   --nice N         every proxy's threads at nice N (NICE): sluice and PgBouncer alike, so that the
#                    comparison stays even
#   --proxy-core N   every proxy's threads on CPU N, PostgreSQL and pgbench on the other CPUs
#                    (PROXY_CORE): the proxy on a core of its own, as on a machine where it does not
#                    share cores with its clients and the database
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
# shellcheck source=bench/placement.sh
. "$REPO/bench/placement.sh"

SLUICE=${SLUICE:-$REPO/build/proxy/sluice}
PG_PORT=${PG_PORT:-25550} PORT=${PORT:-26550} POOL=20
REPS=${REPS:-3} DURATION=${DURATION:-8} CLIENTS=${CLIENTS:-50} MODE=${MODE:-simple}
AGAINST=${AGAINST:-} WARMUP=${WARMUP:-0} MACHINE=${MACHINE:-0} SCHED_TRACE=${SCHED_TRACE:-0} NICE=${NICE:-}
PROXY_CORE=${PROXY_CORE:-}
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --against) AGAINST=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --machine) MACHINE=1; shift ;;
    --sched-trace) SCHED_TRACE=$2; shift 2 ;;
    --nice) NICE=$2; shift 2 ;;
    --proxy-core) PROXY_CORE=$2; shift 2 ;;
    -h|--help) bench_usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (set SLUICE)"
[ -z "$AGAINST" ] || [ -x "$AGAINST" ] || die "no sluice binary at $AGAINST (--against)"
case $MODE in simple|extended) ;; *) die "--mode must be simple or extended (PgBouncer 1.18 cannot run prepared)" ;; esac
PGB_PORT=$((PORT + 1)) B_PORT=$((PORT + 2))

# shellcheck disable=SC2317  # runs from the EXIT trap
bench_on_exit() {
  "$SHARED/proxy-pgbouncer.sh" stop "$PGB_PORT" "$PG_PORT" "$POOL" >/dev/null 2>&1 || true
  [ -z "${BPID:-}" ] || kill -KILL "$BPID" 2>/dev/null || true
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
TARGETS="sluice pgbouncer" BPID=''
if [ -n "$AGAINST" ]; then
  render_sluice_config "$B_PORT" 1 >"$WORK/sluice-b.toml"
  "${USER_EXEC[@]}" "$AGAINST" --config "$WORK/sluice-b.toml" >"$WORK/sluice-b.log" 2>&1 &
  BPID=$!
  wait_port 127.0.0.1 "$B_PORT" 15 || die "sluice ($AGAINST) did not listen on $B_PORT"
  TARGETS="sluice sluice-b pgbouncer"
fi
PGB_PID=$("$SHARED/proxy-pgbouncer.sh" start "$PGB_PORT" "$PG_PORT" "$POOL" | tail -1)
wait_port 127.0.0.1 "$PGB_PORT" 15 || die "PgBouncer did not listen on $PGB_PORT"
if [ -n "$NICE" ]; then
  # shellcheck disable=SC2086  # BPID is empty without --against
  renice_all "$NICE" $VPID $BPID $PGB_PID || die "renice $NICE failed (root needed)"
  echo "every proxy at nice $NICE"
fi
# With --proxy-core, RUN runs pgbench on the other CPUs, and every PostgreSQL process is moved
# there (the backends the postmaster forks later inherit its CPUs).
RUN=()
if [ -n "$PROXY_CORE" ]; then
  OTHERS=$(cpus_except "$PROXY_CORE")
  [ -n "$OTHERS" ] || die "--proxy-core $PROXY_CORE leaves no CPU for PostgreSQL and pgbench"
  # shellcheck disable=SC2086  # BPID is empty without --against
  pin_all "$PROXY_CORE" $VPID $BPID $PGB_PID || die "taskset -c $PROXY_CORE failed for a proxy"
  pin_postgres "$OTHERS" || die "taskset -c $OTHERS failed for PostgreSQL"
  RUN=(taskset -c "$OTHERS")
  echo "every proxy on CPU $PROXY_CORE, PostgreSQL and pgbench on CPU $OTHERS"
fi

# ticks PID: its user and system clock ticks so far.
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
# What the rest of the machine spends on the same transactions: every PostgreSQL process's ticks
# (the pools' backends live through a run), and the children this shell has waited for (pgbench).
pg_ticks() { for p in $(pgrep -x postgres); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{t += $1} END {print t + 0}'; }
child_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
# Times a process slept waiting (voluntary context switches): a proxy that sleeps makes whoever
# sends to it pay the wake-up. For PostgreSQL, summed over its processes.
sleeps() { awk '/^voluntary_ctxt_switches/ {t += $2} END {print t + 0}' "$@" 2>/dev/null; }
pg_sleeps() {
  local files=() p
  for p in $(pgrep -x postgres); do files+=("/proc/$p/status"); done
  sleeps "${files[@]}"
}
# Times the proxy was preempted (involuntary context switches): by a process its own send woke.
preempts() { awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$1"; }
hz=$(getconf CLK_TCK)
# machine: the whole machine's user, system, softirq and idle ticks (/proc/stat's first line),
# PostgreSQL's preemptions and migrations, and the rescheduling and function-call IPIs so far.
machine() {
  local files=() sched=() p
  for p in $(pgrep -x postgres); do files+=("/proc/$p/status"); sched+=("/proc/$p/sched"); done
  awk '/^cpu / {print $2 + $3, $4, $8, $5 + $6}' /proc/stat
  awk '/^nonvoluntary_ctxt_switches/ {t += $2} END {print t + 0}' "${files[@]}" 2>/dev/null
  awk '/^se.nr_migrations/ {t += $3} END {print t + 0}' "${sched[@]}" 2>/dev/null
  awk '/^ *RES:/ {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) r += $i} /^ *CAL:/ {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) c += $i} END {print r + 0, c + 0}' /proc/interrupts
}
MACHINE_ROWS=()

# target_of NAME: its pid and port.
target_of() {
  case $1 in
    sluice) pid=$VPID port=$PORT ;;
    sluice-b) pid=$BPID port=$B_PORT ;;
    pgbouncer) pid=$PGB_PID port=$PGB_PORT ;;
  esac
}
if [ "$WARMUP" -gt 0 ]; then
  for target in $TARGETS; do
    target_of "$target"
    "${RUN[@]}" pgbench -n -S -M "$MODE" -h 127.0.0.1 -p "$port" -U bench -c "$CLIENTS" -j 2 -T "$WARMUP" "$BENCH_DB" >/dev/null 2>&1 ||
      die "the warm-up through $target failed"
  done
fi

[ -z "$AGAINST" ] || echo "sluice: $SLUICE; sluice-b: $AGAINST"
echo "| rep | proxy | transactions | user µs/tx | kernel µs/tx | total µs/tx | user share | pgbench µs/tx | PostgreSQL µs/tx | proxy sleeps/tx | proxy preempted/tx | PostgreSQL sleeps/tx |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for rep in $(seq "$REPS"); do
  for target in $TARGETS; do
    target_of "$target"
    read -r u0 s0 < <(ticks "$pid")
    g0=$(pg_ticks) c0=$(child_ticks) v0=$(sleeps "/proc/$pid/status") p0=$(preempts "/proc/$pid/status") w0=$(pg_sleeps)
    [ "$MACHINE" = 1 ] && m0=$(machine | tr '\n' ' ')
    if [ "$SCHED_TRACE" -gt 0 ]; then
      "${RUN[@]}" pgbench -n -S -M "$MODE" -h 127.0.0.1 -p "$port" -U bench -c "$CLIENTS" -j 2 -T "$DURATION" "$BENCH_DB" >"$WORK/pgbench.out" 2>&1 &
      sleep 2
      perf record -q -a -o "$WORK/sched-$rep-$target.data" \
        -e sched:sched_switch,sched:sched_wakeup,syscalls:sys_enter_sendto,syscalls:sys_exit_epoll_wait \
        -- sleep "$SCHED_TRACE" >/dev/null 2>&1 || die "perf record failed (root? tracepoints?)"
      wait $!
    else
      "${RUN[@]}" pgbench -n -S -M "$MODE" -h 127.0.0.1 -p "$port" -U bench -c "$CLIENTS" -j 2 -T "$DURATION" "$BENCH_DB" >"$WORK/pgbench.out" 2>&1
    fi
    [ "$MACHINE" = 1 ] && m1=$(machine | tr '\n' ' ')
    read -r u1 s1 < <(ticks "$pid")
    g1=$(pg_ticks) c1=$(child_ticks) v1=$(sleeps "/proc/$pid/status") p1=$(preempts "/proc/$pid/status") w1=$(pg_sleeps)
    tx=$(awk '/actually processed/ {print $NF}' "$WORK/pgbench.out")
    if [ -z "$tx" ] || [ "$tx" -le 0 ]; then die "pgbench through $target processed nothing"; fi
    python3 -c "
u = ($u1 - $u0) * 1e6 / $hz / $tx; s = ($s1 - $s0) * 1e6 / $hz / $tx
b = ($c1 - $c0) * 1e6 / $hz / $tx; g = ($g1 - $g0) * 1e6 / $hz / $tx
print(f'| $rep | $target | {$tx:,} | {u:.2f} | {s:.2f} | {u + s:.2f} | {u / (u + s):.0%} | {b:.2f} | {g:.2f} | {($v1 - $v0) / $tx:.3f} | {($p1 - $p0) / $tx:.3f} | {($w1 - $w0) / $tx:.3f} |')"
    if [ "$MACHINE" = 1 ]; then
      MACHINE_ROWS+=("$(python3 -c "
a, b, tx = [int(x) for x in '$m0'.split()], [int(x) for x in '$m1'.split()], $tx
d = [y - x for x, y in zip(a, b)]
us = lambda t: f'{t * 1e6 / $hz / tx:.2f}'
print(f'| $rep | $target | {tx:,} | {us(d[0])} | {us(d[1])} | {us(d[2])} | {us(d[3])} | {d[4] / tx:.3f} | {d[5] / tx:.4f} | {d[6] / tx:.3f} | {d[7] / tx:.3f} |')")")
    fi
  done
done
if [ "$SCHED_TRACE" -gt 0 ]; then
  echo
  echo "The scheduler's view, ${SCHED_TRACE} s of each run (bench/sched_trace.py; a transaction is one pgbench send):"
  echo
  python3 "$REPO/bench/sched_trace.py" "$WORK"/sched-*.data
fi
if [ "$MACHINE" = 1 ]; then
  echo
  echo "The whole machine per transaction (/proc/stat; user includes nice, idle includes iowait), PostgreSQL's preemptions and migrations, inter-processor interrupts:"
  echo
  echo "| rep | proxy | transactions | user µs/tx | system µs/tx | softirq µs/tx | idle µs/tx | PostgreSQL preempted/tx | PostgreSQL migrations/tx | rescheduling IPIs/tx | function-call IPIs/tx |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${MACHINE_ROWS[@]}"
fi
