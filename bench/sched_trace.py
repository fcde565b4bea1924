#!/usr/bin/env python3
"""Who ran when, per transaction: the scheduler's view of a proxy, pgbench and PostgreSQL sharing cores.

  sched_trace.py [--label NAME] PERF_DATA...

Reads `perf record -a -e sched:sched_switch,sched:sched_wakeup,syscalls:sys_enter_sendto,
syscalls:sys_exit_epoll_wait` files (bench/cpu-split.sh --sched-trace records one per run) and prints
one markdown row per file. A transaction is one pgbench sendto. What the columns say:

  proxy preempted/tx   times the proxy was switched out while runnable; almost all right after it
                       woke a process onto its own core (counted next), which then ran first
  after waking pgbench / PostgreSQL   those preemptions, split by whom the proxy had just woken
  proxy slept/tx       times it blocked in epoll_wait
  µs per turn          the proxy's CPU time per turn on a core (a turn ends with either of the above)
  pgbench woken/tx     times a pgbench thread had nothing to read and slept: each later response
                       wakes it, and woken on the proxy's core (…on proxy's core) it preempts the proxy
  events/epoll_wait    what one epoll_wait returned to the proxy, on average
  switches/tx          context switches on the whole machine per transaction

python3's standard library only; needs `perf script`.
"""
import collections
import re
import subprocess
import sys

LINE = re.compile(r"\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
PROXIES = ("sluice", "pgbouncer")


def role(comm):
    if comm.startswith("postgres"):
        return "pg"
    if comm.startswith("pgbench"):
        return "pgbench"
    if comm in PROXIES or comm.startswith("sluice"):
        return "proxy"
    return "idle" if comm.startswith("swapper") else "other"


def analyze(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,pid,cpu,time,event,trace"],
                         capture_output=True, text=True, check=True).stdout
    n = collections.Counter()
    last = {}      # cpu -> what happened last on it: ("woke", role) or None
    turn_in = {}   # cpu -> time the proxy was switched in there
    proxy_time = 0.0
    events = []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        comm, _, cpu, t, event, rest = m.groups()
        who = role(comm.strip())
        if event == "syscalls:sys_enter_sendto":
            if who == "pgbench":
                n["tx"] += 1
        elif event == "syscalls:sys_exit_epoll_wait":
            r = re.search(r"0x([0-9a-f]+)", rest)
            if who == "proxy" and r and int(r.group(1), 16) < 1 << 31:
                events.append(int(r.group(1), 16))
        elif event == "sched:sched_wakeup":
            target = role(re.search(r"comm=(\S+)", rest).group(1))
            same = re.search(r"target_cpu=(\d+)", rest).group(1) == cpu
            if target == "pgbench":
                n["pgbench woken"] += 1
                if who == "proxy" and same:
                    n["pgbench woken on proxy core"] += 1
            last[cpu] = ("woke", target) if who == "proxy" and same else None
        elif event == "sched:sched_switch":
            prev = role(re.search(r"prev_comm=(\S+)", rest).group(1))
            state = re.search(r"prev_state=(\S+)", rest).group(1)
            nxt = role(re.search(r"next_comm=(\S+)", rest).group(1))
            n["switches"] += 1
            if prev == "proxy":
                if cpu in turn_in:
                    proxy_time += float(t) - turn_in.pop(cpu)
                    n["turns"] += 1
                if state.startswith("R"):
                    n["preempted"] += 1
                    woke = last.get(cpu)
                    if woke:
                        n[f"preempted after waking {woke[1]}"] += 1
                else:
                    n["slept"] += 1
            if nxt == "proxy":
                turn_in[cpu] = float(t)
            last[cpu] = None
    return n, proxy_time, events


def main():
    args = sys.argv[1:]
    label = None
    if args[:1] == ["--label"]:
        label, args = args[1], args[2:]
    if not args:
        sys.exit(__doc__)
    print("| run | transactions | proxy preempted/tx | after waking pgbench | after waking PostgreSQL | "
          "proxy slept/tx | µs per turn | pgbench woken/tx | …on proxy's core | events/epoll_wait | switches/tx |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in args:
        n, proxy_time, events = analyze(path)
        tx = n["tx"] or 1
        per = lambda k: f"{n[k] / tx:.3f}"
        turn = f"{proxy_time * 1e6 / n['turns']:.1f}" if n["turns"] else "-"
        ev = f"{sum(events) / len(events):.1f}" if events else "-"
        name = label or re.sub(r"\.data$", "", path.rsplit("/", 1)[-1])
        print(f"| {name} | {n['tx']:,} | {per('preempted')} | {per('preempted after waking pgbench')} | "
              f"{per('preempted after waking pg')} | {per('slept')} | {turn} | {per('pgbench woken')} | "
              f"{per('pgbench woken on proxy core')} | {ev} | {per('switches')} |")


if __name__ == "__main__":
    main()
