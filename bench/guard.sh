#!/usr/bin/env bash
# guard.sh [options of on-off.sh]
# Issue 11's cost check: pgbench -S through sluice with [guard] mode = "enforce" and the default
# rules against the same sluice with the guard off. Target: on/off >= 0.95 (at most 5% of tps).
# Options and environment: bench/on-off.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/on-off.sh" --feature guard --target 0.95 --on-toml '[guard]
mode = "enforce"
audit_log = "off"' "$@"
