#!/usr/bin/env python3
"""Where a proxy's RSS per idle client comes from: VmRSS split into anonymous memory (heap and
stacks, what grows with clients) and file-backed pages (the binary's and libraries' code paged in
as it first runs, shared with any other process mapping the same files).

Opens N authenticated connections (../shared/bench/idle-clients.py's login), runs one SELECT 1 on
each, waits --settle seconds (the proxy's upkeep runs), and prints one Markdown table row of the
growth per client over the proxy's state before the first login.

  idle_rss_split.py --shared DIR --port PORT --pid PID --clients N [--settle S] [--label NAME]
"""
import argparse, asyncio, sys, time

import idle_logins  # next to this script

FIELDS = ("VmRSS", "RssAnon", "RssFile")


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in FIELDS:
                out[key] = int(value.split()[0])
    return out


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    idle_logins.add_login_options(ap)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--settle", type=float, default=2.5)
    ap.add_argument("--label", default="proxy")
    args = ap.parse_args()
    clients = idle_logins.idle_clients_module(args.shared)

    before = status(args.pid)
    conns = await idle_logins.log_in(clients, args)
    for conn in conns:
        await clients.simple_query(conn, "SELECT 1")
    time.sleep(args.settle)
    after = status(args.pid)
    cells = " | ".join(f"{(after[k] - before[k]) * 1024 / args.clients:,.0f}" for k in FIELDS)
    print(f"| {args.label} | {args.clients:,} | {cells} |")
    for _, writer in conns:
        writer.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
