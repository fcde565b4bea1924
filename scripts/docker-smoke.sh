#!/usr/bin/env bash
# docker-smoke.sh [IMAGE]: builds the Docker image and checks that it works the way the README
# says, against a throwaway PostgreSQL 15 on this machine. Not part of scripts/test.sh.
#
#   1. build IMAGE (default sluice:smoke) from this tree, unless SMOKE_SKIP_BUILD=1
#   2. initdb + start PostgreSQL on a free 127.0.0.1 port; role "app" with a SCRAM password
#   3. run the image with nothing but DATABASE_URL (host networking), as the README's first
#      `docker run` line does
#   4. check: the container keeps running, runs as a non-root user, listens on 0.0.0.0:6432,
#      `psql -c 'select 1'` through it returns 1, and its HEALTHCHECK passes
#   then one line "docker-smoke: PASS" or "docker-smoke: FAIL (<reason>)"; exit 0 / 1.
#
# Env:
#   CONTAINER_ENGINE       podman or docker (default: podman if installed, else docker)
#   CONTAINER_BUILD        build command run as `$CONTAINER_BUILD CONTEXT IMAGE` (default: with
#                          podman, ../shared/tools/container-build.sh if it exists, which makes
#                          the Debian base images locally; otherwise `$ENGINE build -t IMAGE .`)
#   SMOKE_SKIP_BUILD=1     use IMAGE as it is
#   PGBIN                  PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#
# Needs port 6432 free on this machine: the image listens there and host networking shares it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
IMAGE=${1:-sluice:smoke}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SLUICE_PORT=6432

ENGINE=${CONTAINER_ENGINE:-}
if [[ -z $ENGINE ]]; then
  if command -v podman >/dev/null; then ENGINE=podman; else ENGINE=docker; fi
fi

say() { printf '== %s\n' "$*"; }
fail() {
  echo "docker-smoke: FAIL ($*)"
  exit 1
}

container=
pgdir=
cleanup() {
  if [[ -n $container ]]; then
    if [[ ${SMOKE_FAILED:-0} == 1 ]]; then
      echo "-- container log:"
      "$ENGINE" logs "$container" 2>&1 | tail -n 40
    fi
    "$ENGINE" rm -f "$container" >/dev/null 2>&1
  fi
  if [[ -n $pgdir ]]; then
    as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$pgdir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# From here on a failure also prints the container's log.
check() {  # check CONDITION-EXIT-CODE REASON
  if [[ $1 != 0 ]]; then
    SMOKE_FAILED=1
    fail "$2"
  fi
}

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

command -v "$ENGINE" >/dev/null || fail "no container engine: install podman or docker"
command -v psql >/dev/null || fail "psql not found (apt-get install postgresql-client)"
[[ -x $PGBIN/initdb ]] || fail "no PostgreSQL server in $PGBIN (apt-get install postgresql-15)"
port_open "$SLUICE_PORT" && fail "port $SLUICE_PORT is already in use on this machine"

# 1. Build.
if [[ ${SMOKE_SKIP_BUILD:-0} != 1 ]]; then
  build=${CONTAINER_BUILD:-}
  if [[ -z $build && $ENGINE == podman && -x $ROOT/../shared/tools/container-build.sh ]]; then
    build=$ROOT/../shared/tools/container-build.sh
  fi
  say "building $IMAGE"
  if [[ -n $build ]]; then
    "$build" "$ROOT" "$IMAGE" || fail "image build failed"
  elif [[ $ENGINE == podman ]]; then
    # OCI images have no HEALTHCHECK: keep it with the docker format.
    podman build --format docker -t "$IMAGE" "$ROOT" || fail "image build failed"
  else
    docker build -t "$IMAGE" "$ROOT" || fail "image build failed"
  fi
fi
"$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1 || fail "no image $IMAGE"

# 2. A throwaway PostgreSQL: local connections trusted, TCP ones need the SCRAM password.
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pgdir=$(mktemp -d /tmp/sluice-smoke-pg.XXXXXX)
[[ $(id -u) == 0 ]] && chown postgres "$pgdir"
say "PostgreSQL on 127.0.0.1:$pgport ($pgdir)"
as_pg "$PGBIN/initdb" -D "$pgdir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 \
  --no-sync >"$pgdir/initdb.log" 2>&1 || { cat "$pgdir/initdb.log"; fail "initdb failed"; }
as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w \
  -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
  { cat "$pgdir/postgres.log"; fail "PostgreSQL did not start"; }
psql -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$pgport" -U postgres -d postgres \
  -c "CREATE ROLE app LOGIN PASSWORD 'smoke-secret'" -c "CREATE DATABASE app OWNER app" >/dev/null ||
  fail "could not create the role and database"

# 3. The image with DATABASE_URL and nothing else: no arguments, no config file.
database_url="postgres://app:smoke-secret@127.0.0.1:$pgport/app"
say "$ENGINE run --network host -e DATABASE_URL=postgres://app:***@127.0.0.1:$pgport/app $IMAGE"
# podman schedules health checks with systemd timers and complains where there is no systemd;
# the check is run by hand below, so that complaint is left out.
container=$("$ENGINE" run -d --network host -e DATABASE_URL="$database_url" "$IMAGE" \
  2> >(grep -v 'unable to get systemd connection' >&2)) ||
  fail "$ENGINE run failed"

# 4. Checks.
running() { [[ $("$ENGINE" inspect --format '{{.State.Running}}' "$container" 2>/dev/null) == true ]]; }
for _ in $(seq 1 100); do
  port_open "$SLUICE_PORT" && break
  running || break
  sleep 0.1
done
running
check $? "the container exited: $("$ENGINE" inspect --format 'exit code {{.State.ExitCode}}' "$container")"
port_open "$SLUICE_PORT"
check $? "nothing listens on 127.0.0.1:$SLUICE_PORT after 10 s"

user=$("$ENGINE" exec "$container" id -u)
[[ -n $user && $user != 0 ]]
check $? "the container runs as uid '${user}', not as a non-root user"

# Host networking reaches a 127.0.0.1 listener too: the log says what a published port would see.
log=$("$ENGINE" logs "$container" 2>&1)
[[ $log == *"listening on 0.0.0.0:$SLUICE_PORT"* ]]
check $? "sluice does not listen on 0.0.0.0:$SLUICE_PORT, so a published port could not reach it"

# In DATABASE_URL mode sluice asks clients for no password; the URL's logs in to PostgreSQL.
answer=$(PGCONNECT_TIMEOUT=10 psql -X -At -h 127.0.0.1 -p "$SLUICE_PORT" -U app -d app -c 'select 1' 2>&1)
[[ $answer == 1 ]]
check $? "psql through sluice: expected 1, got: $answer"
say "psql -h 127.0.0.1 -p $SLUICE_PORT -U app -d app -c 'select 1' -> $answer"

if [[ $ENGINE == podman ]]; then
  health=$(podman healthcheck run "$container" 2>&1)
  check $? "HEALTHCHECK failed: ${health:-unhealthy}"
  say "podman healthcheck run -> ${health:-healthy}"
else
  # Docker runs the first check only after --interval (30 s): run the same command by hand.
  health_cmd=$(docker inspect --format '{{index .Config.Healthcheck.Test 3}}' "$container")
  docker exec "$container" bash -c "$health_cmd"
  check $? "HEALTHCHECK command failed"
  say "HEALTHCHECK command -> healthy"
fi

echo "docker-smoke: PASS"
