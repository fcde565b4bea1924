#!/usr/bin/env bash
# Installs the Debian (bookworm) packages sluice needs to build, test and fuzz. Idempotent: asks
# dpkg which are missing and runs apt-get only for those, so a provisioned machine costs nothing.
#
#   scripts/install-deps.sh            install what is missing
#   scripts/install-deps.sh --check    only list what is missing (exit 1 if anything is)
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git ca-certificates
  # libraries
  libboost1.81-dev libssl-dev libpq-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libpg-query-dev libprotobuf-c-dev
  liburing-dev  # only for the experimental -DSLUICE_IO_URING=ON build
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 pgbouncer
  python3 python3-asyncpg python3-psycopg python3-psycopg2
  nodejs npm  # the prepared-statement driver tests install pg, postgres, drizzle-orm from npm
  default-jre-headless libpostgresql-jdbc-java  # pgjdbc test: java runs JdbcCases.java from source
  golang-go golang-github-jackc-pgx-v4-dev  # pgx test: built offline (GOPATH mode) against Debian's pgx v4
  procps util-linux valgrind
  strace linux-perf  # bench/ only: syscall counts (strace -c), the scheduler trace (cpu-split.sh --sched-trace)
  openssl  # the TLS tests make their throwaway CA and certificates with the openssl command
)

# A package whose command is already on the PATH from elsewhere counts as present: NodeSource's
# nodejs ships npm itself and conflicts with Debian's npm package; any java 11+ on the PATH
# (openjdk-17-jre-headless without the default-jre-headless metapackage) runs the pgjdbc test.
provided_by_command() {
  case $1 in
    npm) command -v npm >/dev/null ;;
    nodejs) command -v node >/dev/null ;;
    default-jre-headless) command -v java >/dev/null ;;
    *) return 1 ;;
  esac
}

missing=()
for p in "${packages[@]}"; do
  provided_by_command "$p" && continue
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: missing: ${missing[*]}"
[[ "${1:-}" == "--check" ]] && exit 1

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} packages"
