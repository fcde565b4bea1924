# shellcheck shell=bash
# Sourced by the bench scripts that place the processes of a run: the proxies' priority
# (cpu-split.sh --nice, run-comparison.sh's priority step) and which CPUs each party runs on
# (cpu-split.sh --proxy-core, run-comparison.sh's own-core step).

# renice_all N PID...: every thread of each process at nice N (a Linux nice value is per thread);
# fails at the first thread the system refuses (no root, RLIMIT_NICE).
renice_all() {
  local n=$1 pid task; shift
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do renice -n "$n" -p "${task##*/}" >/dev/null || return 1; done
  done
}

# pin_all CPUS PID...: every thread of each process on CPUS (a taskset list, "1" or "0,2-3").
pin_all() {
  local cpus=$1 pid; shift
  for pid in "$@"; do taskset -a -p -c "$cpus" "$pid" >/dev/null || return 1; done
}

# pin_postgres CPUS: every PostgreSQL process on CPUS; the postmaster's backends forked later inherit it.
pin_postgres() {
  local pid
  # shellcheck disable=SC2046  # one pid per word
  pin_all "$1" $(pgrep -x postgres)
}

# cpus_except CPU: this process's CPUs but CPU, as a taskset list (empty when CPU is the only one).
cpus_except() { python3 -c "import os; print(','.join(str(c) for c in sorted(os.sched_getaffinity(0)) if c != $1))"; }
# all_cpus: this process's CPUs, as a taskset list.
all_cpus() { python3 -c "import os; print(','.join(str(c) for c in sorted(os.sched_getaffinity(0))))"; }
