#!/usr/bin/python3
"""asyncpg with its default statement cache through a transaction pool (issue #8).

CONNS connections run concurrently, each TXS transactions that reuse the same 10 prepared
queries (fetch/fetchval/fetchrow with arguments, execute, and a statement from conn.prepare()
made once per connection), some outside an explicit transaction; then executemany twice (the
second reuses the first one's cached statement). Every result is checked against what the
connection itself computed. Connects with the PG* environment variables; tables
prep_asyncpg_rows, prep_asyncpg_counters, prep_asyncpg_many exist and are empty.
Prints "FAIL <reason>" lines and exits 1 on any wrong value or error; "OK ..." and 0 otherwise.
"""
import asyncio
import os
import sys

import asyncpg

CONNS = int(os.environ.get("CONNS", "20"))
TXS = int(os.environ.get("TXS", "200"))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        raise AssertionError(what)


async def worker(c):
    conn = await asyncpg.connect()  # default statement_cache_size (100): named statements
    try:
        doubled = await conn.prepare("SELECT $1::int * 2 AS d")
        await conn.execute("INSERT INTO prep_asyncpg_counters (owner, total) VALUES ($1, 0)", c)
        total = 0
        for i in range(TXS):
            explicit = i % 10 != 9  # every tenth round runs each statement in its own transaction
            tx = conn.transaction() if explicit else None
            if tx:
                await tx.start()
            check(await conn.fetchval("SELECT $1::int + $2::int", i, c) == i + c, f"c{c} i{i}: sum")
            check(await conn.fetchval("SELECT upper($1::text)", f"c{c}-{i}") == f"C{c}-{i}", f"c{c} i{i}: upper")
            await conn.execute("INSERT INTO prep_asyncpg_rows (owner, n, note) VALUES ($1, $2, $3)", c, i, f"n{i}")
            check(await conn.fetchval("SELECT count(*) FROM prep_asyncpg_rows WHERE owner = $1", c) == i + 1,
                  f"c{c} i{i}: count")
            last = await conn.fetch("SELECT n FROM prep_asyncpg_rows WHERE owner = $1 ORDER BY n DESC LIMIT 3", c)
            check([r["n"] for r in last] == list(range(i, max(-1, i - 3), -1)), f"c{c} i{i}: last rows {last}")
            total += i
            got = await conn.fetchval(
                "UPDATE prep_asyncpg_counters SET total = total + $2 WHERE owner = $1 RETURNING total", c, i)
            check(got == total, f"c{c} i{i}: counter {got} != {total}")
            check(await doubled.fetchval(i) == 2 * i, f"c{c} i{i}: conn.prepare() statement")
            row = await conn.fetchrow("SELECT $1::text || '-' || $2::int AS k, $2::int % 7 AS m", f"c{c}", i)
            check(row["k"] == f"c{c}-{i}" and row["m"] == i % 7, f"c{c} i{i}: fetchrow {row}")
            check(await conn.fetchval("SELECT sum(n) FROM prep_asyncpg_rows WHERE owner = $1", c) == total,
                  f"c{c} i{i}: sum(n)")
            check(await conn.fetchval("SELECT $1::bigint * 1000", i) == i * 1000, f"c{c} i{i}: bigint")
            if tx:
                await tx.commit()
        # executemany: the second reuses the statement the first prepared.
        for batch in range(2):
            await conn.executemany("INSERT INTO prep_asyncpg_many (owner, k, v) VALUES ($1, $2, $3)",
                                   [(c, batch * 50 + k, k * k) for k in range(50)])
        got = await conn.fetchrow("SELECT count(*) AS n, sum(v) AS s FROM prep_asyncpg_many WHERE owner = $1", c)
        check(got["n"] == 100 and got["s"] == 2 * sum(k * k for k in range(50)), f"c{c}: executemany {got}")
    except AssertionError:
        pass
    except Exception as e:  # noqa: BLE001 - every error is a failure, reported with its SQLSTATE
        failures.append(f"c{c}: {type(e).__name__} sqlstate={getattr(e, 'sqlstate', None)}: {e}")
    finally:
        await conn.close()


async def main():
    await asyncio.gather(*(worker(c) for c in range(CONNS)))
    if not failures:
        conn = await asyncpg.connect()
        rows = await conn.fetchval("SELECT count(*) FROM prep_asyncpg_rows")
        per_owner = await conn.fetch("SELECT owner, count(*) AS n FROM prep_asyncpg_rows GROUP BY owner")
        counters = await conn.fetch("SELECT owner, total FROM prep_asyncpg_counters")
        await conn.close()
        if rows != CONNS * TXS or any(r["n"] != TXS for r in per_owner):
            failures.append(f"rows: {rows} in all, expected {CONNS * TXS}")
        expected_total = TXS * (TXS - 1) // 2
        if len(counters) != CONNS or any(r["total"] != expected_total for r in counters):
            failures.append(f"counters: {[tuple(r) for r in counters]} expected {expected_total} each")
    for f in failures[:20]:
        print("FAIL", f)
    if failures:
        print(f"asyncpg: {len(failures)} failures")
        sys.exit(1)
    print(f"OK asyncpg conns={CONNS} txs={TXS} transactions={CONNS * TXS}")


asyncio.run(main())
