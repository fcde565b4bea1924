#!/usr/bin/env bash
# The README's "run" command: installs what is missing, builds sluice, and starts it on port 6432.
# Without an upstream (no argument, no DATABASE_URL, no --config) it first starts a throwaway local
# PostgreSQL 15 and pools in front of that; Ctrl-C stops both and removes the throwaway cluster.
#
#   scripts/run.sh                                # embedded PostgreSQL
#   scripts/run.sh postgres://user:pw@host/db     # your upstream
#   scripts/run.sh --config sluice.toml           # full configuration
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PORT="${SLUICE_PORT:-6432}"
BUILD="${SLUICE_BUILD_DIR:-$ROOT/build-release}"

bash scripts/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target sluice -j"$(nproc)"
SLUICE="$BUILD/proxy/sluice"

if [ "$#" -gt 0 ] || [ -n "${DATABASE_URL:-}" ]; then
  echo "sluice: listening on 127.0.0.1:$PORT"
  exec "$SLUICE" --listen 127.0.0.1 --port "$PORT" "$@"
fi

# ---- embedded throwaway PostgreSQL ----
# shellcheck source=scripts/lib/throwaway-pg.sh
. scripts/lib/throwaway-pg.sh
cleanup() { throwaway_pg_stop; }
trap cleanup EXIT INT TERM
throwaway_pg_start

cat <<MSG

sluice is starting on port $PORT in front of the embedded PostgreSQL. Connect with:

    psql "postgres://app:app@127.0.0.1:$PORT/app"

Press Ctrl-C to stop sluice and remove the throwaway database.

MSG
"$SLUICE" --listen 127.0.0.1 --port "$PORT" "postgres://app:app@127.0.0.1:$PGPORT/app" &
SLUICE_PID=$!
trap 'kill $SLUICE_PID 2>/dev/null || true; wait $SLUICE_PID 2>/dev/null || true; cleanup' EXIT INT TERM
wait $SLUICE_PID
