#!/usr/bin/env bash
# login-costs.sh [options]
# User-space instructions per client connection in the proxy, the cost behind the churn scenarios:
# pgbench -C -S (each transaction a new connection: login, SELECT, close), 4 clients, with the md5
# user (bench_md5) and the SCRAM user (bench_scram). Ir/login = (Ir of a run with a warm-up and N
# connections per client - Ir of a run with the warm-up only) / (4 N), as ../shared/bench/callgrind.sh
# does per transaction. sluice runs with 1 worker, PgBouncer 1.18 with the harness's setup, both in
# front of one throwaway cluster from ../shared/bench/pg-up.sh, which is removed on exit.
#
# Options (environment variable in brackets):
#   --logins N       connections per client in the measured run (LOGINS, 300)
#   --rounds R       repetitions (ROUNDS, 2)
#   --users "U ..."  (USERS, "bench_md5 bench_scram")
#   --no-pgbouncer   sluice only
#   --out DIR        keep the callgrind files (default: a temporary directory, removed)
# Environment: SLUICE (binary, default $REPO/build/proxy/sluice), PG_PORT (25530), PORT (26530).
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
PG_PORT=${PG_PORT:-25530} PORT=${PORT:-26530} POOL=20
LOGINS=${LOGINS:-300} ROUNDS=${ROUNDS:-2} USERS=${USERS:-bench_md5 bench_scram}
NO_PGBOUNCER=0 OUT=
while [ $# -gt 0 ]; do
  case $1 in
    --logins) LOGINS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --no-pgbouncer) NO_PGBOUNCER=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) bench_usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (set SLUICE)"

# shellcheck disable=SC2317  # runs from the EXIT trap
bench_on_exit() {
  if [ -n "$OUT" ]; then mkdir -p "$OUT" && cp "$WORK"/*.out "$OUT"/ 2>/dev/null; fi
}
bench_setup login-costs

"$SHARED/pg-up.sh" "$PG_PORT" 1 >&2
PG_UP=1
read_bench_secrets
export PGPASSWORD=$BENCH_PASSWORD
render_sluice_config "$PORT" 1 >"$WORK/sluice.toml"

# churn USER N: N connections per client, 4 clients; fails unless every one succeeded.
churn() {
  local out
  out=$(pgbench -n -C -S -h 127.0.0.1 -p "$PORT" -U "$1" -c 4 -j 2 -t "$2" "$BENCH_DB" 2>&1) || { echo "$out" >&2; return 1; }
  grep -q "actually processed: $((4 * $2))/$((4 * $2))" <<<"$out" || { echo "$out" | tail -3 >&2; return 1; }
}

# one_run LABEL USER N CMD...: Ir of the proxy over a warm-up (50 per client) and N more per client.
one_run() {
  local label=$1 user=$2 n=$3; shift 3
  "${USER_EXEC[@]}" valgrind --tool=callgrind --vgdb=no --callgrind-out-file="$WORK/$label.out" "$@" \
    >"$WORK/$label.log" 2>&1 &
  VPID=$!
  wait_port 127.0.0.1 "$PORT" 120 || { tail -5 "$WORK/$label.log" >&2; die "proxy under valgrind did not listen"; }
  churn "$user" 50 || die "warm-up failed ($label)"
  if [ "$n" -gt 0 ]; then churn "$user" "$n" || die "measured run failed ($label)"; fi
  kill -TERM "$VPID"; wait "$VPID" 2>/dev/null || true; VPID=
  awk '/^totals:/ {print $2}' "$WORK/$label.out"
}

# 78824 -> 78,824
commas() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta' <<<"$1"; }

echo "| proxy | user | Ir per connection (login + SELECT 1 + close), rounds |"
echo "|---|---|---|"
targets=(sluice); [ "$NO_PGBOUNCER" = 1 ] || targets+=(pgbouncer)
for t in "${targets[@]}"; do
  for u in $USERS; do
    cells=''
    for r in $(seq "$ROUNDS"); do
      if [ "$t" = sluice ]; then cmd=("$SLUICE" --config "$WORK/sluice.toml")
      else read -r -a cmd <<<"$("$SHARED/proxy-pgbouncer.sh" cmd "$PORT" "$PG_PORT" "$POOL")"; fi
      base=$(one_run "$t-$u-r$r-base" "$u" 0 "${cmd[@]}")
      full=$(one_run "$t-$u-r$r-full" "$u" "$LOGINS" "${cmd[@]}")
      cells+="${cells:+ · }$(commas $(((full - base) / (4 * LOGINS))))"
    done
    echo "| $t | $u | $cells |"
  done
done
