#!/usr/bin/env python3
"""Issue 12's "10,000 idle + 200 active on pool 20 served with 0 errors", for one proxy.

Logs N clients in and leaves them idle (../shared/bench/idle-clients.py's login), then runs
`pgbench -S -c ACTIVE` through the same proxy while they sit there, counting PostgreSQL's client
backends of the bench user each second (a transaction pooler must stay within its pool). Then
every idle client runs SELECT 1: it must still be connected and served. Prints key=value lines
(what summarize.py reads) and a one-line verdict; exit status 0 whatever was measured.

  idle_plus_active.py --shared DIR --port PORT --pg-port PG [--clients N] [--active C] [--duration S]
"""
import argparse, asyncio, os, re, subprocess, sys

import idle_logins  # next to this script


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    idle_logins.add_login_options(ap)
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--active", type=int, default=200)
    ap.add_argument("--duration", type=int, default=8)
    args = ap.parse_args()
    clients = idle_logins.idle_clients_module(args.shared)

    logins = await idle_logins.log_in(clients, args, return_exceptions=True)
    idle = [c for c in logins if not isinstance(c, BaseException)]
    login_errors = [c for c in logins if isinstance(c, BaseException)]

    # The active clients, while the idle ones stay connected; backends sampled meanwhile.
    env = dict(os.environ, PGPASSWORD=args.password)
    pgbench = await asyncio.create_subprocess_exec(
        "pgbench", "-n", "-S", "-c", str(args.active), "-j", "2", "-T", str(args.duration),
        "-h", "127.0.0.1", "-p", str(args.port), "-U", args.user, args.db,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    backends = []
    out_task = asyncio.ensure_future(pgbench.communicate())
    while not out_task.done():
        count = await asyncio.to_thread(pg_backends, args)
        if isinstance(count, int):
            backends.append(count)
        await asyncio.wait([out_task], timeout=1.0)
    output = out_task.result()[0].decode(errors="replace")
    tps = re.search(r"^tps = ([\d.]+)", output, re.M)
    done = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    pgbench_errors = len(re.findall(r"(?m)^.*(error|ERROR|aborted).*$", output))

    # Every idle client, after all that: still connected, and served.
    qgate = asyncio.Semaphore(64)

    async def q(c):
        async with qgate:
            return await clients.simple_query(c, "SELECT 1")

    answers = await asyncio.gather(*[q(c) for c in idle], return_exceptions=True)
    idle_errors = [a for a in answers if isinstance(a, BaseException) or a != [["1"]]]
    for _, writer in idle:
        writer.close()

    errors = len(login_errors) + len(idle_errors) + pgbench_errors + (int(failed.group(1)) if failed else 0)
    errors += 0 if pgbench.returncode == 0 else 1
    print(f"idle_clients={len(idle)}")
    print(f"idle_login_errors={len(login_errors)}")
    print(f"active_clients={args.active}")
    print(f"pgbench_rc={pgbench.returncode}")
    print(f"pgbench_tps={tps.group(1) if tps else '-'}")
    print(f"pgbench_tx={done.group(1) if done else '-'}")
    print(f"pgbench_failed_tx={failed.group(1) if failed else '0'}")
    print(f"pgbench_error_lines={pgbench_errors}")
    print(f"idle_query_errors={len(idle_errors)}")
    print(f"pg_backends_max={max(backends) if backends else '-'}")
    print(f"errors={errors}")
    first = (login_errors or idle_errors or [None])[0]
    if first is not None:
        print(f"first_error={first!r}")
    if pgbench.returncode != 0 or pgbench_errors:
        print("pgbench_output_tail=" + " | ".join(output.strip().splitlines()[-3:]))


def pg_backends(args):
    sql = ("select count(*) from pg_stat_activity where backend_type = 'client backend' "
           f"and datname = '{args.db}' and usename = '{args.user}'")
    out = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres",
                          "-d", "postgres", "-c", sql], capture_output=True, text=True)
    return int(out.stdout.strip()) if out.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
