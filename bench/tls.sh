#!/usr/bin/env bash
# tls.sh [--rounds N] [--duration S] [--clients C]
# pgbench -S through sluice with and without TLS (both sides: client to sluice and sluice to
# PostgreSQL), same cluster, same run, alternating rounds; prints each round's tps and the
# medians. Then a handshake flood: the TLS sluice's established clients (-c C/2) alone, and again
# while as many others connect anew for every transaction (pgbench -C: a full TLS handshake and
# login each), alternating; the medians of the established clients' tps show what the flood costs
# them. Self-contained: a throwaway cluster (ssl=on) with a throwaway CA, stopped on exit.
# Environment: SLUICE (default build/proxy/sluice), PG_BIN (/usr/lib/postgresql/15/bin),
# PG_PORT (25560), PLAIN_PORT (26560), TLS_PORT (26561), POOL (10).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE=${SLUICE:-$REPO/build/proxy/sluice}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${PG_PORT:-25560} PLAIN_PORT=${PLAIN_PORT:-26560} TLS_PORT=${TLS_PORT:-26561} POOL=${POOL:-10}
ROUNDS=5 DURATION=10 CLIENTS=50
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
[ -x "$SLUICE" ] || { echo "no sluice binary at $SLUICE" >&2; exit 1; }
SLUICE=$(realpath "$SLUICE")  # the script works in its own directory

WORK=$(mktemp -d /tmp/sluice-tls-bench-XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(runuser -u postgres --)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$(date +%T) $*" >&2; }

# A CA and a certificate for localhost, 127.0.0.1.
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile server.ext >/dev/null 2>&1
chmod 600 server.key
[ "$(id -u)" = 0 ] && chown postgres: server.key server.crt ca.crt

mkdir data && [ "$(id -u)" = 0 ] && chown postgres: data
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
cat >>data/postgresql.conf <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK'
max_connections = 200
fsync = off
synchronous_commit = off
ssl = on
ssl_cert_file = '$WORK/server.crt'
ssl_key_file = '$WORK/server.key'
CONF
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start >/dev/null
pgbench -i -q -s 10 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >/dev/null 2>&1

# sluice as PostgreSQL's trust: only "postgres", pool POOL; the TLS one with TLS both sides.
config() {  # PORT SSLMODE [CLIENT_TLS]
  cat <<TOML
[listen]
address = "127.0.0.1"
port = $1
workers = 1
[auth]
method = "trust"
[pool]
size = $POOL
[logging]
log_connections = false
[[databases]]
name = "postgres"
url = "postgres://localhost:$PG_PORT/postgres?sslmode=$2&sslrootcert=$WORK/ca.crt"
${3:-}
TOML
}
config "$PLAIN_PORT" disable >plain.toml
config "$TLS_PORT" verify-full "$(printf '[client_tls]\nmode = "require"\ncert_file = "%s"\nkey_file = "%s"\n' \
  "$WORK/server.crt" "$WORK/server.key")" >tls.toml
for name in plain tls; do
  "$SLUICE" --config "$WORK/$name.toml" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
done
sleep 1

run() {  # PORT SSLMODE -> tps
  PGSSLMODE=$2 PGSSLROOTCERT=$WORK/ca.crt pgbench -n -S -c "$CLIENTS" -j 2 -T "$DURATION" -h localhost -p "$1" \
    -U postgres postgres 2>&1 | awk '/^tps = / {print $3}'
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
plain=() tls=()
for r in $(seq "$ROUNDS"); do
  plain+=("$(run "$PLAIN_PORT" disable)")
  tls+=("$(run "$TLS_PORT" verify-full)")
  log "round $r: plain ${plain[-1]} tps, TLS both sides ${tls[-1]} tps"
done
HALF=$((CLIENTS / 2))
established() {  # -> tps of HALF established TLS clients
  PGSSLMODE=verify-full PGSSLROOTCERT=$WORK/ca.crt pgbench -n -S -c "$HALF" -j 1 -T "$DURATION" -h localhost \
    -p "$TLS_PORT" -U postgres postgres 2>&1 | awk '/^tps = / {print $3}'
}
alone=() flooded=() handshakes=()
for r in $(seq "$ROUNDS"); do
  alone+=("$(established)")
  PGSSLMODE=verify-full PGSSLROOTCERT=$WORK/ca.crt pgbench -n -S -C -c "$HALF" -j 1 -T "$DURATION" -h localhost \
    -p "$TLS_PORT" -U postgres postgres >"$WORK/flood.out" 2>&1 &
  flood=$!
  flooded+=("$(established)")
  wait "$flood" || true
  handshakes+=("$(awk '/^tps = / {print $3}' "$WORK/flood.out")")
  log "flood round $r: established alone ${alone[-1]} tps, during the flood ${flooded[-1]} tps (flood: ${handshakes[-1]} connections/s)"
done
echo "pgbench -S -c $CLIENTS -j 2 -T $DURATION, pool $POOL, 1 worker, $ROUNDS rounds (alternating)"
echo "median tps plain:          $(printf '%s\n' "${plain[@]}" | median)"
echo "median tps TLS both sides: $(printf '%s\n' "${tls[@]}" | median)"
echo "handshake flood: $HALF established TLS clients, median tps alone $(printf '%s\n' "${alone[@]}" | median)," \
  "during $HALF clients reconnecting per transaction $(printf '%s\n' "${flooded[@]}" | median)" \
  "(flood median $(printf '%s\n' "${handshakes[@]}" | median) connections/s)"
