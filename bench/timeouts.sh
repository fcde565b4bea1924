#!/usr/bin/env bash
# timeouts.sh [options of on-off.sh]
# Issue 9's cost check: pgbench -S through sluice with every timeout on (statement 30s,
# transaction 5m, idle_in_transaction 60s, client_idle 10m) against the same sluice with them off.
# Target: on/off >= 0.97. Options and environment: bench/on-off.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/on-off.sh" --feature timeouts --target 0.97 --on-toml '[timeouts]
statement = "30s"
transaction = "5m"
idle_in_transaction = "60s"
client_idle = "10m"' "$@"
