#!/usr/bin/env bash
# A profile-guided build of sluice: builds a binary that records which code runs, runs it in
# front of a throwaway PostgreSQL under pgbench (simple, extended and prepared queries, tpcb,
# clients reconnecting with md5 and SCRAM; one worker, then two; then with the query guard on),
# and builds again with that profile, so that the compiler lays out and inlines the relay's paths
# for how they run. Measured against a Release build of the same code (bench/analysis.md): 17 %
# fewer instructions per pgbench -S transaction, 10 % fewer per md5 login.
#
#   scripts/build-pgo.sh [BUILD_DIR]     default build-pgo; the binary is BUILD_DIR/proxy/sluice
#
# Takes two builds of the sluice target and ~1 min of training; the optimized binary then serves
# the same throwaway database once (pgbench and psql, exit status 1 if anything fails: CI runs
# this script). Installs what is missing first. SLUICE_SKIP_DEPS=1 skips that.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="$(realpath -m "${1:-${SLUICE_BUILD_DIR:-build-pgo}}")"
PROFILE="$BUILD/pgo-profile"

[ "${SLUICE_SKIP_DEPS:-0}" = 1 ] || bash scripts/install-deps.sh
configure() { cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF -DSLUICE_PGO="$1" -DSLUICE_PGO_DIR="$PROFILE" >/dev/null; }

echo "== 1/3 instrumented build ($BUILD)"
configure generate
cmake --build "$BUILD" --target sluice -j"$(nproc)"
rm -rf "$PROFILE"
mkdir -p "$PROFILE"

echo "== 2/3 training run"
# shellcheck source=scripts/lib/throwaway-pg.sh
. scripts/lib/throwaway-pg.sh
SLUICE_PID=
stop_all() {
  if [ -n "$SLUICE_PID" ]; then kill "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; fi
  throwaway_pg_stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM
throwaway_pg_start
export PGPASSWORD=app
pgbench -i -q -s 1 -h 127.0.0.1 -p "$PGPORT" -U app app >"$PROFILE/pgbench-init.log" 2>&1 ||
  { tail -5 "$PROFILE/pgbench-init.log" >&2; echo "error: pgbench -i on the throwaway database failed" >&2; exit 1; }
# A second role whose secret is SCRAM, so that both client logins production sees are trained.
psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d app -c "SET password_encryption = 'scram-sha-256'" \
  -c "CREATE ROLE app_scram LOGIN PASSWORD 'app' IN ROLE app" >/dev/null
SCRAM_SECRET=$(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_scram'")
PORT=$(free_port)
# config WORKERS [EXTRA_TOML]: clients log in with md5 (app) or SCRAM (app_scram), as in production.
config() {
  cat <<TOML
[listen]
address = "127.0.0.1"
port = $PORT
workers = $1

[auth]
method = "md5"

[[auth.users]]
name = "app"
password = "app"

[[auth.users]]
name = "app_scram"
password = "$SCRAM_SECRET"

[pool]
mode = "transaction"
size = 20

[[databases]]
name = "app"
url = "postgres://127.0.0.1:$PGPORT/app"
${2:-}
TOML
}
bench() { pgbench -n -h 127.0.0.1 -p "$PORT" "$@" app >"$PROFILE/pgbench.log" 2>&1 || { tail -5 "$PROFILE/pgbench.log" >&2; exit 1; }; }
# start_sluice NAME WORKERS [EXTRA_TOML]: the built binary in front of the throwaway database, on PORT.
start_sluice() {
  config "$2" "${3:-}" >"$PROFILE/$1.toml"
  "$BUILD/proxy/sluice" --config "$PROFILE/$1.toml" >"$PROFILE/$1.log" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && return 0; sleep 0.1; done
  tail -5 "$PROFILE/$1.log" >&2
  echo "error: sluice did not start" >&2
  exit 1
}
# The profile is written when sluice exits: a clean shutdown, not a kill.
stop_sluice() {
  kill -TERM "$SLUICE_PID"
  wait "$SLUICE_PID" || { tail -5 "$PROFILE/$1.log" >&2; echo "error: sluice did not shut down cleanly" >&2; exit 1; }
  SLUICE_PID=
}
for workers in 1 2; do
  start_sluice "train-$workers" "$workers"
  echo "sluice --workers $workers: pgbench -S simple / extended / prepared, tpcb, md5 and SCRAM reconnects"
  bench -U app -S -M simple -c 50 -j 2 -T 4
  bench -U app -S -M extended -c 50 -j 2 -T 4
  bench -U app -S -M simple -c 4 -j 2 -T 2
  bench -U app -S -M extended -c 4 -j 2 -T 2
  bench -U app -S -M prepared -c 20 -j 2 -T 2
  bench -U app -c 10 -j 2 -T 2
  bench -U app -S -C -c 4 -j 2 -T 2
  bench -U app_scram -S -C -c 2 -j 2 -T 1
  stop_sluice "train-$workers"
done
start_sluice train-guard 1 $'[guard]\nmode = "enforce"'
echo "sluice with the guard in enforce: pgbench -S simple / extended"
bench -U app -S -M simple -c 50 -j 2 -T 3
bench -U app -S -M extended -c 4 -j 2 -T 2
stop_sluice train-guard
ls "$PROFILE"/*.gcda >/dev/null 2>&1 || { echo "error: the training run wrote no profile to $PROFILE" >&2; exit 1; }

echo "== 3/3 optimized build"
configure use
cmake --build "$BUILD" --target sluice -j"$(nproc)"
start_sluice check 1
bench -U app -S -M extended -c 8 -j 2 -T 2
answer=$(psql -X -At "postgres://app:app@127.0.0.1:$PORT/app" -c "SELECT 40 + 2") ||
  { echo "error: psql through the optimized build failed" >&2; exit 1; }
[ "$answer" = 42 ] || { echo "error: psql through the optimized build answered '$answer'" >&2; exit 1; }
echo "built $BUILD/proxy/sluice (profile-guided); it served pgbench and psql"
