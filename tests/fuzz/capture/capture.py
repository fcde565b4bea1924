#!/usr/bin/env python3
"""Captures real libpq <-> PostgreSQL exchanges through record_relay.py.

Starts a throwaway PostgreSQL (initdb into a temp dir as the `postgres` OS user when run as root;
trust for `trustuser`, md5 for `md5user`, scram-sha-256 for `scramuser`), puts the relay in front of
it, drives psql and pgbench through the relay, and writes each connection as <name>.client and
<name>.server into --out. See README.md in this directory.
"""
import argparse
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd, **kw):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=True, **kw)


class Capture:
    def __init__(self, out):
        self.out = out
        self.tmp = tempfile.mkdtemp(prefix="sluice-capture-")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.tmp, "data")
        self.raw = os.path.join(self.tmp, "raw")
        os.makedirs(self.raw)
        self.pg_port = free_port()
        self.relay_port = free_port()
        self.relay = None
        self.taken = set()

    def start(self):
        as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--locale=C"], stdout=subprocess.DEVNULL)
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    "host all md5user 127.0.0.1/32 md5\n"
                    "host all scramuser 127.0.0.1/32 scram-sha-256\n"
                    "host all all 127.0.0.1/32 trust\n")
        as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.tmp, "pg.log"), "-o",
                     f"-p {self.pg_port} -k {self.tmp} -c listen_addresses=127.0.0.1", "start"],
                    stdout=subprocess.DEVNULL)
        self.sql_direct("SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5pass';"
                        "SET password_encryption = 'scram-sha-256'; CREATE ROLE scramuser LOGIN PASSWORD 'scrampass';"
                        "CREATE ROLE trustuser LOGIN SUPERUSER;")
        self.sql_direct("CREATE DATABASE shop OWNER trustuser")
        self.relay = subprocess.Popen([sys.executable, os.path.join(HERE, "record_relay.py"), "--listen-port",
                                       str(self.relay_port), "--upstream-port", str(self.pg_port), "--out", self.raw],
                                      stdout=subprocess.PIPE, text=True)
        self.relay.stdout.readline()  # "listening"

    def stop(self):
        if self.relay:
            self.relay.send_signal(signal.SIGTERM)
            self.relay.wait(timeout=10)
        subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) +
                       [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "stop"], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sql_direct(self, sql, db="postgres"):
        subprocess.run(["psql", "-X", "-q", "-h", self.tmp, "-p", str(self.pg_port), "-U", "postgres", "-d", db,
                        "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, stdout=subprocess.DEVNULL)

    def env(self, user, password=None, sslmode="disable"):
        e = dict(os.environ)
        e.update(PGHOST="127.0.0.1", PGPORT=str(self.relay_port), PGUSER=user, PGDATABASE="shop",
                 PGSSLMODE=sslmode, PGGSSENCMODE="disable", PGAPPNAME="sluice-capture")
        e.pop("PGPASSWORD", None)
        if password:
            e["PGPASSWORD"] = password
        return e

    def collect(self, name, expect=1):
        """Waits for the connections the last scenario opened and names them name[-k]."""
        deadline = time.time() + 20
        while True:
            done = sorted(p[:-5] for p in glob.glob(os.path.join(self.raw, "*.done")) if p[:-5] not in self.taken)
            if len(done) >= expect or time.time() > deadline:
                break
            time.sleep(0.05)
        if len(done) < expect:
            raise RuntimeError(f"{name}: expected {expect} connections, got {len(done)}")
        for i, base in enumerate(done):
            self.taken.add(base)
            label = name if len(done) == 1 else f"{name}-{i}"
            for side in ("client", "server"):
                shutil.copyfile(f"{base}.{side}", os.path.join(self.out, f"{label}.{side}"))
            print(f"captured {label}: {os.path.getsize(base + '.client')} client bytes, "
                  f"{os.path.getsize(base + '.server')} server bytes")

    def psql(self, name, user, script, password=None, sslmode="disable", stdin=None):
        subprocess.run(["psql", "-X", "-f", "-", "-v", "ON_ERROR_STOP=0"], input=script + (stdin or ""), text=True,
                       env=self.env(user, password, sslmode), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.collect(name)


SIMPLE = """
SELECT 1 AS one, NULL::text AS nothing, 'x'::text AS ex;
CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text, price numeric);
INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', NULL) ON CONFLICT DO NOTHING;
SELECT * FROM items ORDER BY id;
SELECT 1/0;
SELEC broken syntax;
BEGIN;
SELECT count(*) FROM items;
SELECT missing_column FROM items;
ROLLBACK;
DO $$ BEGIN RAISE NOTICE 'hello from a notice'; RAISE WARNING 'and a warning'; END $$;
LISTEN jobs;
NOTIFY jobs, 'payload-1';
SET application_name = 'renamed';
SHOW server_version_num;
"""

COPY = """
CREATE TABLE IF NOT EXISTS copied (id int, note text);
COPY copied FROM STDIN;
1\tone
2\t\\N
3\tthree with a tab\\tinside
\\.
COPY copied TO STDOUT;
COPY (SELECT id FROM copied) TO STDOUT WITH (FORMAT binary);
COPY copied FROM STDIN WITH (FORMAT csv);
4,four
bad line without a comma
\\.
SELECT count(*) FROM copied;
"""

FASTPATH = """
\\lo_import /etc/hostname
SELECT lo_unlink(:LASTOID);
"""


def run(out):
    os.makedirs(out, exist_ok=True)
    c = Capture(out)
    try:
        c.start()
        c.psql("psql_simple", "trustuser", SIMPLE)
        c.psql("psql_copy", "trustuser", COPY)
        c.psql("psql_fastpath", "trustuser", FASTPATH)
        c.psql("psql_ssl_prefer", "trustuser", "SELECT current_user;", sslmode="prefer")
        c.psql("login_md5", "md5user", "SELECT current_user;", password="md5pass")
        c.psql("login_scram", "scramuser", "SELECT current_user;", password="scrampass")
        c.psql("login_md5_wrong", "md5user", "SELECT 1;", password="wrong")
        c.psql("login_scram_wrong", "scramuser", "SELECT 1;", password="wrong")

        # pgbench: initialise directly (not captured: megabytes of COPY), then run through the relay.
        subprocess.run(["pgbench", "-i", "-q", "-s", "1", "-h", c.tmp, "-p", str(c.pg_port), "-U", "postgres",
                        "shop"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for mode in ("extended", "prepared"):
            subprocess.run(["pgbench", "-n", "-M", mode, "-c", "1", "-t", "5", "shop"], env=c.env("trustuser"),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c.collect(f"pgbench_{mode}", expect=2)  # a setup connection, then the client

        # Cancel: psql sends a CancelRequest on a second connection when interrupted.
        p = subprocess.Popen(["psql", "-X", "-c", "SELECT pg_sleep(30)"], env=c.env("trustuser"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=20)
        c.collect("cancel", expect=2)
    finally:
        c.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    run(ap.parse_args().out)
