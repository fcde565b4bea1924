# shellcheck shell=bash
# Sourced by the bench scripts: sluice's configuration for a benchmark, from sluice-bench.toml.in.
# Needs REPO, PG_PORT, POOL, BENCH_DB and BENCH_PASSWORD (../shared/bench/lib.sh) set.

# read_bench_secrets: MD5_SECRET and SCRAM_SECRET of the bench users, from the cluster's pg_authid
# (sluice passes them through as PgBouncer's auth_file does).
read_bench_secrets() {
  local role
  for role in bench_md5 bench_scram; do
    local secret
    secret=$(psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
      -c "select rolpassword from pg_authid where rolname = '$role'")
    [ "$role" = bench_md5 ] && MD5_SECRET=$secret || SCRAM_SECRET=$secret
  done
  [[ $MD5_SECRET == md5* && $SCRAM_SECRET == SCRAM-SHA-256* ]] || die "unexpected secrets in pg_authid"
}

# render_sluice_config PORT WORKERS [EXTRA_TOML]: the configuration, on stdout; EXTRA_TOML (e.g. a
# [timeouts] section) is appended.
render_sluice_config() {
  local text
  text=$(<"$REPO/bench/sluice-bench.toml.in")
  text=${text//@PORT@/"$1"}
  text=${text//@WORKERS@/"$2"}
  text=${text//@POOL@/"$POOL"}
  text=${text//@DB@/"$BENCH_DB"}
  text=${text//@PG_PORT@/"$PG_PORT"}
  text=${text//@PASSWORD@/"$BENCH_PASSWORD"}
  text=${text//@MD5_SECRET@/"$MD5_SECRET"}
  text=${text//@SCRAM_SECRET@/"$SCRAM_SECRET"}
  printf '%s\n%s\n' "$text" "${3:-}"
}

# run_pgbench NAME FILE PGBENCH_ARGS...: one pgbench run, its output and "exit=N" in FILE, a log line.
run_pgbench() {
  local name=$1 file=$2 rc
  shift 2
  set +e
  pgbench "$@" >"$file" 2>&1
  rc=$?
  set -e
  echo "exit=$rc" >>"$file"
  if [ "$rc" = 0 ]; then log "$name: $(grep -Eo '^tps = [0-9.]+' "$file")"
  else log "$name: failed (exit $rc: $(grep -m1 -E 'ERROR|aborted|error' "$file"))"; fi
}
