# shellcheck shell=bash
# Sourced by the bench scripts that raise the proxies' priority (cpu-split.sh --nice,
# run-comparison.sh's priority step).

# renice_all N PID...: every thread of each process at nice N (a Linux nice value is per thread);
# fails at the first thread the system refuses (no root, RLIMIT_NICE).
renice_all() {
  local n=$1 pid task; shift
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do renice -n "$n" -p "${task##*/}" >/dev/null || return 1; done
  done
}
