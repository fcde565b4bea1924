# shellcheck shell=bash
# Sourced: a throwaway local PostgreSQL 15 with a role and database "app" (password "app"), for the
# README's run command (scripts/run.sh) and the PGO training run (scripts/build-pgo.sh).
#   throwaway_pg_start   sets PGDIR and PGPORT (SLUICE_EMBEDDED_PG_PORT, or a free port)
#   throwaway_pg_stop    stops it and removes PGDIR; safe to call twice
#   free_port            prints a free TCP port on 127.0.0.1
# PostgreSQL refuses to run as root: as root, it runs as the postgres OS user.
PGBIN=/usr/lib/postgresql/15/bin

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

throwaway_pg_start() {
  PGDIR="$(mktemp -d /tmp/sluice-embedded-pg.XXXXXX)"
  PGPORT="${SLUICE_EMBEDDED_PG_PORT:-$(free_port)}"
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
  echo "starting a throwaway PostgreSQL 15 on 127.0.0.1:$PGPORT ($PGDIR)"
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >"$PGDIR/initdb.log" 2>&1
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres \
    -c "CREATE ROLE app LOGIN PASSWORD 'app'" -c "CREATE DATABASE app OWNER app" >/dev/null
}

throwaway_pg_stop() {
  [ -n "${PGDIR:-}" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
  PGDIR=
}
