#!/usr/bin/python3
"""psycopg 3 prepared statements through a transaction pool (issue #8).

Each of CONNS threads, with a connection of its own (run concurrently):
  prepare_true   cur.execute(..., prepare=True) in TXS transactions;
  threshold_0    conn.prepare_threshold = 0 and conn.prepared_max = 5, cycling through 8 distinct
                 queries, so psycopg evicts its own statements (it sends DEALLOCATE for them);
  pipeline       conn.pipeline() with prepared statements, several per sync, in transactions.
Every result is checked. Connects with the PG* environment variables; table prep_psycopg
exists and is empty. Prints "FAIL <reason>" lines and exits 1 on any wrong value or error.
"""
import os
import sys
import threading

import psycopg

CONNS = int(os.environ.get("CONNS", "6"))
TXS = int(os.environ.get("TXS", "60"))
failures = []
lock = threading.Lock()


def fail(what):
    with lock:
        failures.append(what)


def check(cond, what):
    if not cond:
        fail(what)
        raise AssertionError(what)


def prepare_true(c):
    with psycopg.connect() as conn:
        for i in range(TXS):
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT %s::int + %s::int", (i, c), prepare=True)
                check(cur.fetchone()[0] == i + c, f"prepare_true c{c} i{i}: sum")
                cur.execute("INSERT INTO prep_psycopg (owner, kind, n) VALUES (%s, 'p', %s)", (c, i), prepare=True)
                cur.execute("SELECT count(*), sum(n) FROM prep_psycopg WHERE owner = %s AND kind = 'p'", (c,),
                            prepare=True)
                check(cur.fetchone() == (i + 1, i * (i + 1) // 2), f"prepare_true c{c} i{i}: count/sum")


def threshold_0(c):
    with psycopg.connect() as conn:
        conn.prepare_threshold = 0
        conn.prepared_max = 5
        for i in range(TXS):
            with conn.transaction(), conn.cursor() as cur:
                k = i % 8  # 8 distinct queries, 5 kept: psycopg keeps evicting and re-preparing
                cur.execute(f"SELECT %s::int * {k + 1} AS v, '{k}'::text AS k", (i,))
                check(cur.fetchone() == (i * (k + 1), str(k)), f"threshold_0 c{c} i{i}: query {k}")
        with conn.cursor() as cur:
            cur.execute("SELECT %s::text", (f"done{c}",))
            check(cur.fetchone()[0] == f"done{c}", f"threshold_0 c{c}: final")


def pipeline(c):
    with psycopg.connect() as conn:
        conn.prepare_threshold = 0
        for i in range(TXS // 2):
            with conn.pipeline() as p, conn.transaction(), conn.cursor() as cur1, conn.cursor() as cur2:
                cur1.execute("INSERT INTO prep_psycopg (owner, kind, n) VALUES (%s, 'l', %s) RETURNING n", (c, i),
                             prepare=True)
                cur2.execute("SELECT %s::text || ':' || %s::int", (f"c{c}", i), prepare=True)
                p.sync()
                check(cur1.fetchone()[0] == i, f"pipeline c{c} i{i}: returning")
                check(cur2.fetchone()[0] == f"c{c}:{i}", f"pipeline c{c} i{i}: concat")
            with conn.pipeline(), conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM prep_psycopg WHERE owner = %s AND kind = 'l'", (c,), prepare=True)
                check(cur.fetchone()[0] == i + 1, f"pipeline c{c} i{i}: count")


def run(case, c):
    try:
        case(c)
    except AssertionError:
        pass
    except Exception as e:  # noqa: BLE001 - every error is a failure, reported with its SQLSTATE
        fail(f"{case.__name__} c{c}: {type(e).__name__} sqlstate={getattr(e, 'sqlstate', None)}: {e}")


threads = [threading.Thread(target=run, args=(case, c))
           for c in range(CONNS) for case in (prepare_true, threshold_0, pipeline)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if not failures:
    with psycopg.connect() as conn:
        got = conn.execute("SELECT kind, count(*) FROM prep_psycopg GROUP BY kind ORDER BY kind").fetchall()
        expected = [("l", CONNS * (TXS // 2)), ("p", CONNS * TXS)]
        if got != expected:
            failures.append(f"rows per kind {got}, expected {expected}")
for f in failures[:20]:
    print("FAIL", f)
if failures:
    print(f"psycopg: {len(failures)} failures")
    sys.exit(1)
print(f"OK psycopg conns={CONNS} txs={TXS} threads={len(threads)}")
