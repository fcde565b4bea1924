# shellcheck shell=bash
# Sourced by the bench scripts that start their own throwaway cluster and proxies: their work
# directory, what their EXIT trap undoes, and their --help. Needs lib.sh ($BENCH_TMP, mkdir_owned)
# and $SHARED, $PORT, $PG_PORT set.

# bench_setup NAME: WORK=$BENCH_TMP/NAME-$PG_PORT, made fresh, and the traps. On exit: the proxy
# in $VPID (if the script still has one running) is killed, PgBouncer on $PORT and the cluster on
# $PG_PORT (once the script set PG_UP=1) are stopped, bench_on_exit runs if the script defines it,
# and WORK is removed.
bench_setup() {
  WORK=$BENCH_TMP/$1-$PG_PORT
  rm -rf "$WORK"; mkdir_owned "$WORK"
  VPID='' PG_UP=0
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317  # runs from the EXIT trap
bench_cleanup() {
  set +e
  [ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
  "$SHARED/proxy-pgbouncer.sh" stop "$PORT" >/dev/null 2>&1
  [ "$PG_UP" = 1 ] && "$SHARED/pg-down.sh" "$PG_PORT" >/dev/null 2>&1
  declare -F bench_on_exit >/dev/null && bench_on_exit
  rm -rf "$WORK"
}

# The script's header comment, as its --help.
bench_usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
