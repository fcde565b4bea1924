#!/usr/bin/env bash
# A profile-guided build of sluice: builds a binary that records which code runs, runs it in
# front of a throwaway PostgreSQL under pgbench (simple, extended and prepared queries, tpcb,
# reconnecting clients; one worker, then two), and builds again with that profile, so that the
# compiler lays out and inlines the relay's paths for how they run. Measured against the same
# code without it (bench/analysis.md): ~10 % fewer instructions per transaction and per login.
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
pgbench -i -q -s 1 -h 127.0.0.1 -p "$PGPORT" -U app app >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bench() { pgbench -n -h 127.0.0.1 -p "$PORT" -U app "$@" app >"$PROFILE/pgbench.log" 2>&1 || { tail -5 "$PROFILE/pgbench.log" >&2; exit 1; }; }
# start_sluice WORKERS LOG: the built binary in front of the throwaway database, on PORT.
start_sluice() {
  "$BUILD/proxy/sluice" --workers "$1" --listen 127.0.0.1 --port "$PORT" "postgres://app:app@127.0.0.1:$PGPORT/app" >"$2" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && return 0; sleep 0.1; done
  tail -5 "$2" >&2
  echo "error: sluice did not start" >&2
  exit 1
}
for workers in 1 2; do
  start_sluice "$workers" "$PROFILE/sluice-$workers.log"
  echo "sluice --workers $workers: pgbench -S simple / extended / prepared, tpcb, reconnecting clients"
  bench -S -M simple -c 50 -j 2 -T 4
  bench -S -M extended -c 50 -j 2 -T 4
  bench -S -M simple -c 4 -j 2 -T 2
  bench -S -M extended -c 4 -j 2 -T 2
  bench -S -M prepared -c 20 -j 2 -T 2
  bench -c 10 -j 2 -T 2
  bench -S -C -c 4 -j 2 -T 2
  # The profile is written when sluice exits: a clean shutdown, not a kill.
  kill -TERM "$SLUICE_PID"
  wait "$SLUICE_PID" || { tail -5 "$PROFILE/sluice-$workers.log" >&2; echo "error: sluice did not shut down cleanly" >&2; exit 1; }
  SLUICE_PID=
done
ls "$PROFILE"/*.gcda >/dev/null 2>&1 || { echo "error: the training run wrote no profile to $PROFILE" >&2; exit 1; }

echo "== 3/3 optimized build"
configure use
cmake --build "$BUILD" --target sluice -j"$(nproc)"
start_sluice 1 "$PROFILE/sluice-optimized.log"
bench -S -M extended -c 8 -j 2 -T 2
answer=$(psql -X -At "postgres://app:app@127.0.0.1:$PORT/app" -c "SELECT 40 + 2") ||
  { echo "error: psql through the optimized build failed" >&2; exit 1; }
[ "$answer" = 42 ] || { echo "error: psql through the optimized build answered '$answer'" >&2; exit 1; }
echo "built $BUILD/proxy/sluice (profile-guided); it served pgbench and psql"
