#!/usr/bin/env python3
"""Recording TCP relay for capturing real PostgreSQL protocol exchanges.

Listens on --listen-port, connects each accepted client to --upstream-host:--upstream-port and
forwards bytes both ways unchanged, writing what the client sent to <out>/<NNN>.client and what the
server sent to <out>/<NNN>.server (NNN counts connections from 000). It never parses or alters the
traffic, so the files are exactly what a proxy in that position would have read.

Stop it with SIGTERM/SIGINT; connections in progress are flushed and closed.
"""
import argparse
import asyncio
import itertools
import os
import signal
import sys


async def pump(reader, writer, sink, done):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            sink.write(data)
            sink.flush()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        # Half-close so the peer sees EOF the way it would without the relay in between.
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass
        done.set()


async def handle(client_reader, client_writer, args, counter):
    n = next(counter)
    base = os.path.join(args.out, f"{n:03d}")
    try:
        up_reader, up_writer = await asyncio.open_connection(args.upstream_host, args.upstream_port)
    except OSError as e:
        print(f"relay: connection {n}: upstream connect failed: {e}", file=sys.stderr)
        client_writer.close()
        return
    with open(base + ".client", "wb") as c2s, open(base + ".server", "wb") as s2c:
        d1, d2 = asyncio.Event(), asyncio.Event()
        t1 = asyncio.create_task(pump(client_reader, up_writer, c2s, d1))
        t2 = asyncio.create_task(pump(up_reader, client_writer, s2c, d2))
        await asyncio.gather(t1, t2)
    for w in (up_writer, client_writer):
        w.close()
    # Marks the pair complete, so a driver can wait for it before renaming the files.
    open(base + ".done", "w").close()


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen-host", default="127.0.0.1")
    p.add_argument("--listen-port", type=int, required=True)
    p.add_argument("--upstream-host", default="127.0.0.1")
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--out", required=True, help="directory for the NNN.client / NNN.server files")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    counter = itertools.count()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, counter), args.listen_host, args.listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"relay: listening on {args.listen_host}:{args.listen_port}", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
