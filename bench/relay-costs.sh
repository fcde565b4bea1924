#!/usr/bin/env bash
# relay-costs.sh [options]
# The three relay costs that issue 6 sets targets for, for one sluice binary, with PgBouncer 1.18
# measured in the same run as a reference (skip it with --no-pgbouncer):
#   (a) user-space instructions per pgbench -S transaction   callgrind.sh, 4 clients, simple + extended
#   (b) syscalls per transaction                             syscalls.sh (strace -c), 4 clients, same
#   (c) RSS KiB per idle client at 10,000 idle clients        idle-clients.py, fresh proxy each round
# Every figure is measured --rounds times (2) to show that it repeats. sluice runs with 1 worker,
# pool size 20, transaction mode and the bench users (bench/sluice-bench.toml.in), in front of a
# throwaway cluster from ../shared/bench/pg-up.sh. Everything it starts (cluster, sluice, PgBouncer,
# valgrind) is stopped on exit, also on failure or Ctrl-C, and the cluster is removed. About 6 min on
# a quiet box (callgrind dominates); 14-17 min were measured with other builds loading both cores.
# --rounds 1 --tx 2000 for a quick look.
# Prints a markdown table (also written to OUT/summary.md); raw outputs stay in OUT.
#
# Options (environment variable in brackets):
#   --tx N            transactions per client in callgrind runs (TX, 10000; 4 clients)
#   --syscall-tx N    transactions per client in strace runs (SYSCALL_TX, 2000; 4 clients)
#   --rounds R        repetitions of each figure (ROUNDS, 2)
#   --out DIR         keep the raw outputs here (OUT, default $BENCH_TMP/relay-costs-<date>-<time>)
#   --clients C       pgbench clients in (a) and (b) (CLIENTS, 4; the issue 6 targets are for 4; 50
#                     with pool 20 makes clients queue for servers: the pool's wait path)
#   --skip-idle --skip-callgrind --skip-syscalls   (SKIP_IDLE=1 ...)
#   --modes "M ..."   pgbench -M modes for (a) and (b) (MODES, "simple extended"; add prepared for
#                     issue 8's figures: PgBouncer 1.18 is skipped there, it cannot run it)
#   --no-pgbouncer    sluice only (NO_PGBOUNCER=1)
#   --cache-sim       (a) with callgrind's cache simulation (CACHE_SIM=1): also the simulated L1
#                     instruction and data misses per transaction, how many cache lines of code and
#                     data the proxy touches anew each time (repeatable, unlike hardware counters,
#                     which this VM does not have). Slower; try --clients 50, where every client's
#                     state is cold when its turn comes.
#   --summarize DIR   only print the table of an earlier run's DIR
# Environment:
#   SLUICE         sluice binary (default $REPO/../build-bench/proxy/sluice). To measure exactly one
#                  commit while the tree changes: git archive COMMIT | tar -x -C DIR, build DIR.
#   SLUICE_COMMIT  label for the table (default: none)
#   SLUICE_EXTRA_TOML  appended to sluice's configuration (e.g. a [timeouts] section: the cost of
#                  the timers, issue 9)
#   SHARED_BENCH   harness dir (../shared/bench); PG_PORT (25490); BASE_PORT (26490, uses +0..+9);
#                  SCALE (pgbench scale, 10); plus the knobs of ../shared/bench/lib.sh.
#   Ports stay below the ephemeral range (32768-60999), which 10,000 idle clients would crowd.
# Run as root (PostgreSQL, PgBouncer, sluice and valgrind then run as $BENCH_OSUSER, postgres) or as
# a user who can start PostgreSQL.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "${SHARED_BENCH:-$REPO/../shared/bench}" && pwd)
# shellcheck source=/dev/null  # the harness lives outside the repository
. "$SHARED/lib.sh"
# shellcheck source=bench/sluice-config.sh
. "$REPO/bench/sluice-config.sh"

SLUICE=${SLUICE:-$REPO/../build-bench/proxy/sluice}
PG_PORT=${PG_PORT:-25490}
BASE_PORT=${BASE_PORT:-26490}
SCALE=${SCALE:-10}
TX=${TX:-10000}
SYSCALL_TX=${SYSCALL_TX:-2000}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-}
SKIP_IDLE=${SKIP_IDLE:-0} SKIP_CALLGRIND=${SKIP_CALLGRIND:-0} SKIP_SYSCALLS=${SKIP_SYSCALLS:-0}
MODES=${MODES:-simple extended}
NO_PGBOUNCER=${NO_PGBOUNCER:-0}
CACHE_SIM=${CACHE_SIM:-0}
IDLE_STEPS=1000,5000,10000
POOL=20 CLIENTS=${CLIENTS:-4}
SUMMARIZE_ONLY=

while [ $# -gt 0 ]; do
  case $1 in
    --tx) TX=$2; shift 2 ;;
    --syscall-tx) SYSCALL_TX=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --skip-idle) SKIP_IDLE=1; shift ;;
    --modes) MODES=$2; shift 2 ;;
    --skip-callgrind) SKIP_CALLGRIND=1; shift ;;
    --skip-syscalls) SKIP_SYSCALLS=1; shift ;;
    --no-pgbouncer) NO_PGBOUNCER=1; shift ;;
    --cache-sim) CACHE_SIM=1; shift ;;
    --summarize) SUMMARIZE_ONLY=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# ------------------------------------------------------------------------------------------------
# summarize DIR: the markdown table from the raw files, plus per-function callgrind breakdowns
# (DIR/callgrind-TARGET-MODE-functions.md) when the annotate outputs are there.
summarize() {
  python3 - "$1" <<'PY'
import glob, os, re, statistics, sys

d = sys.argv[1]
TARGETS = [("sluice", "sluice"), ("pgbouncer", "PgBouncer")]
GOAL = {"ir": 8000, "sys": 5.0, "kib": 4.0}   # issue 6 targets for sluice


def read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None


def num(x, nd=0):
    return "-" if x is None else f"{x:,.{nd}f}"


def runs(xs, nd=0):
    return " · ".join(num(x, nd) for x in xs) if xs else "-"


def ratio(a, b):
    a, b = [x for x in a if x is not None], [x for x in b if x is not None]
    if not a or not b or not statistics.median(b):
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.2f}×"


def goal(key, xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    m = statistics.median(xs)
    return f"≤ {fmt(GOAL[key])}: " + ("met" if m <= GOAL[key] else "not met")


def callgrind(t, m):
    """Ir/tx per round from callgrind.sh's output."""
    txt = read(f"{d}/callgrind-{t}-{m}.txt") or ""
    out = []
    for mm in re.finditer(r"round (\d+): base Ir=(\d+), full Ir=(\d+) \((\d+) tx, [\d.]+ s under valgrind\), Ir/tx=(-?\d+)", txt):
        out.append(float(mm.group(5)) if int(mm.group(4)) > 0 else None)
    return out


def cache_misses(t, m):
    """Simulated L1 misses per transaction, {"I1mr": x, "D1": y} from the first round's files
    (--cache-sim), as Ir/tx: the difference of the full and the base run."""
    files = [f"{d}/cg-{t}-{m}/callgrind.{r}.out" for r in ("base1", "full1")]
    mt = re.search(r"^tx=(\d+) syscall_tx=(\d+) clients=(\d+)", read(f"{d}/meta.txt") or "", re.M)
    if not mt or not all(os.path.exists(f) for f in files):
        return None
    totals = []
    for f in files:
        txt = read(f) or ""
        ev, tot = re.search(r"^events: (.*)$", txt, re.M), re.search(r"^totals: (.*)$", txt, re.M)
        if not ev or not tot or "D1mr" not in ev.group(1):
            return None
        totals.append(dict(zip(ev.group(1).split(), map(int, tot.group(1).split()))))
    ntx = int(mt.group(1)) * int(mt.group(3))
    diff = {k: (totals[1][k] - totals[0][k]) / ntx for k in totals[0]}
    return {"I1mr": diff["I1mr"], "D1": diff["D1mr"] + diff["D1mw"]}


def syscalls(t, m):
    """[{name: per tx}] per round from syscalls.sh's output; None for a failed round."""
    out = []
    for p in sorted(glob.glob(f"{d}/syscalls-{t}-{m}-r*.txt")):
        txt = read(p)
        mm = re.match(r"(\d+)/(\d+) transactions", txt or "")
        if not mm or mm.group(1) != mm.group(2) or int(mm.group(1)) == 0:
            out.append(None)
            continue
        out.append({a: float(b) for a, b in re.findall(r"^\s+(\S+)\s+([\d.]+) /tx$", txt, re.M)})
    return out


def idle(t):
    """(KiB/client idle, KiB/client after SELECT 1, PG backends, clients, base KiB) per round."""
    out = []
    for p in sorted(glob.glob(f"{d}/idle-{t}-r*.md")):
        txt = read(p) or ""
        rows = [r for r in txt.splitlines() if re.match(r"\|\s*\d+\s*\|", r)]
        if not rows or "failed" in txt:
            out.append(None)
            continue
        c = [x.strip() for x in rows[-1].strip("|").split("|")]
        f = lambda s: float(s) if re.match(r"^[\d.]+$", s) else None
        base = re.search(r"baseline: proxy RSS (\d+) KiB", txt)
        out.append(dict(n=int(c[0]), idle=f(c[3]), query=f(c[6]), backends=c[7], base=int(base.group(1)) if base else None,
                        rss=f(c[5])))
    return out


meta = read(f"{d}/meta.txt") or ""
have_pgb = any(os.path.exists(p) for p in glob.glob(f"{d}/*pgbouncer*"))
cols = [t for t in TARGETS if t[0] == "sluice" or have_pgb]
lines = []
label = re.search(r"^sluice_label=(.*)$", meta, re.M)
lines.append(f"### relay costs: {label.group(1) if label else 'sluice'}" + (" vs PgBouncer" if have_pgb else ""))
lines.append("")
hdr = "| figure | " + " | ".join(n for _, n in cols) + (" | sluice / PgBouncer" if have_pgb else "") + " | issue 6 target (sluice, median) |"
lines.append(hdr)
lines.append("|" + "---|" * (hdr.count("|") - 1))


def row(name, vals, nd, gkey=None, gfmt=None, ratio_ok=True):
    cells = [runs(vals[t], nd) for t, _ in cols]
    r = [ratio(vals["sluice"], vals["pgbouncer"]) if ratio_ok else ""] if have_pgb else []
    g = goal(gkey, vals["sluice"], gfmt) if gkey else ""
    lines.append(f"| {name} | " + " | ".join(cells + r) + f" | {g} |")


mt = re.search(r"^tx=(\d+) syscall_tx=(\d+) clients=(\d+)", meta, re.M)
tx, stx, cl = (mt.groups() if mt else ("?", "?", "?"))
for m in ("simple", "extended", "prepared"):
    v = {t: callgrind(t, m) for t, _ in TARGETS}
    if any(v.values()):
        row(f"**Ir/tx**, pgbench -S -M {m}, {cl} clients × {tx} tx", v, 0, "ir", lambda x: f"{x:,}")
    c = {t: cache_misses(t, m) for t, _ in TARGETS}
    if any(c.values()):
        row("    simulated L1 instruction misses/tx (round 1)", {t: [c[t]["I1mr"]] if c[t] else [] for t in c}, 1)
        row("    simulated L1 data misses/tx, reads + writes (round 1)", {t: [c[t]["D1"]] if c[t] else [] for t in c}, 1)
for m in ("simple", "extended", "prepared"):
    v = {t: syscalls(t, m) for t, _ in TARGETS}
    if not any(v.values()):
        continue
    tot = {t: [r.get("total") if r else None for r in v[t]] for t in v}
    row(f"**syscalls/tx**, -M {m}, {cl} clients × {stx} tx, 1 worker", tot, 2, "sys", lambda x: f"{x:g}")
    names = {}
    for t in v:
        for r in v[t]:
            for k, x in (r or {}).items():
                if k != "total":
                    names[k] = max(names.get(k, 0), x)
    # connection set-up (accept, setsockopt, ...) is spread over all transactions: leave out < 0.03/tx
    for k in sorted((k for k in names if names[k] >= 0.03), key=lambda k: -names[k]):
        row(f"    {k}", {t: [r.get(k, 0.0) if r else None for r in v[t]] for t in v}, 2, ratio_ok=names[k] >= 0.1)
v = {t: idle(t) for t, _ in TARGETS}
if any(v.values()):
    n = next((r["n"] for t in v for r in v[t] if r), 0)
    row(f"**KiB RSS per idle client** at {n:,} clients (logged in, idle)", {t: [r["idle"] if r else None for r in v[t]] for t in v}, 2, "kib", lambda x: f"{x:g}")
    row("    same, after each ran SELECT 1", {t: [r["query"] if r else None for r in v[t]] for t in v}, 2)
    row(f"    proxy RSS MiB at {n:,} (after SELECT 1)", {t: [r["rss"] if r else None for r in v[t]] for t in v}, 1)
    row("    proxy RSS MiB before the first client", {t: [r["base"] / 1024 if r and r["base"] else None for r in v[t]] for t in v}, 1)
    lines.append(f"| PG backends at {n:,} clients (≤ pool 20) | " + " | ".join(
        " · ".join(r["backends"] if r else "-" for r in v[t]) or "-" for t, _ in cols) + (" | " if have_pgb else "") + " | |")
lines.append("")
lines.append("Each cell lists the rounds (·). Ratios compare medians. Ir = user-space instructions inside the proxy "
             "(callgrind, difference of a run with and without the transactions); syscalls = strace -c on the "
             "proxy's threads; RSS = VmRSS growth / clients.")
problems = (read(f"{d}/problems.txt") or "").strip()
if problems:
    lines += ["", "**Problems:**", "", *("    " + p for p in problems.splitlines())]
print("\n".join(lines))

# ---- per-function breakdown from callgrind_annotate (full1 minus base1, per transaction) ----------
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$")


def annotate(p):
    res = {}
    for ln in (read(p) or "").splitlines():
        mm = LINE.match(ln)
        if mm and "PROGRAM TOTALS" not in mm.group(2):
            res[mm.group(2)] = res.get(mm.group(2), 0) + int(mm.group(1).replace(",", ""))
    return res


def strip_nested(s, o, c):
    out, depth = [], 0
    i = 0
    while i < len(s):
        ch = s[i]
        if s.startswith("operator" + o, i) or s.startswith("operator" + c, i):
            out.append(s[i:i + 9]); i += 9; continue
        if ch == o:
            depth += 1
        elif ch == c and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
        i += 1
    return "".join(out)


def split_obj(key):
    mm = re.match(r"^(.*) \[([^\]]*)\]$", key)
    return (mm.group(1), os.path.basename(mm.group(2))) if mm else (key, "")


def bare(key):
    """'file:function [obj]' -> function name without template arguments and parameter lists."""
    key, _ = split_obj(key)
    fn = key.split(":", 1)[1] if re.match(r"^[^:]*\.(c|S|cc|cpp|h|hpp):|^\?\?\?:", key) else key
    fn = fn.replace("{lambda(", "{lambda#(")
    fn = strip_nested(fn, "<", ">")
    fn = strip_nested(fn, "(", ")")
    fn = fn.replace("{lambda#", "{lambda")
    return re.sub(r"\s+", " ", fn).strip()


HINTS = [("async_receive", "recv"), ("async_send", "send"), ("write_op", "write"), ("async_wait", "wait"),
         ("co_spawn", "co_spawn"), ("strand<", "strand"), ("io_context::basic_executor_type", "io_context"),
         ("any_io_executor", "any_io_executor")]


def short(key):
    """bare() without the boost::asio:: prefix, plus a hint of what the stripped template arguments
    were about (recv/send/strand/...) so that instantiations of one template can be told apart."""
    k, obj = split_obj(key)
    fn = bare(key)
    rest = k.replace(fn.split("::")[-1].split(" ")[0], "", 1) if fn else k
    hint = next((h for needle, h in HINTS if needle in rest and h not in fn), "")
    fn = fn.replace("boost::asio::", "asio::")
    return fn[:140] + (f" ⟨{hint}⟩" if hint and "<" in k else "") + \
        (f"  [{obj}]" if obj and not obj.startswith(("sluice", "pgbouncer")) else "")


SKIP_INCL = re.compile(r"^(|main|0x[0-9a-f]+|__libc_start_\w+(@@\S+)?|\(below main\)|start_thread|clone3?)$")


CATS = [
    ("session-parameter sync (GUC maps, tolower)", r"tolower|sync_statement|GucNameLess|session_param|SessionParam"),
    ("allocation (malloc/free, memalign, asio recycling allocator)",
     r"malloc|_int_free|\bfree\b|cfree|operator new|operator delete|tcache|realloc|memalign|thread_info_base::(de)?allocate"),
    ("mutex / shared_ptr refcounts / atomics", r"pthread_mutex|pthread_cond|futex|_Sp_counted|lll_|atomic|std::mutex"),
    ("memcpy / memset / memmove / strings", r"mem(cpy|set|move|cmp|chr)|strlen|__strn?cmp|basic_string"),
    ("clock reads (steady_clock::now)", r"clock_gettime|steady_clock::now|system_clock::now"),
    ("asio strand / any_executor plumbing",
     r"strand|any_executor|any_io_executor|executor_function|executor_op|prefer|execution::|work_dispatcher|handler_work|basic_executor_type"),
    ("asio coroutines (awaitable frames, co_spawn, async initiation)", r"awaitable|co_spawn|coroutine|async_result|await_"),
    ("asio reactor / scheduler / socket ops",
     r"epoll_reactor|scheduler|reactive_socket|socket_ops|write_op|read_op|reactor_op|timer_queue|conditionally_enabled|op_queue"),
    ("libc syscall wrappers", r"\b(recv|send|recvfrom|sendto|sendmsg|recvmsg|epoll_wait|epoll_ctl|__libc_\w+|syscall|ioctl)\b|asynccancel|__errno_location"),
    ("sluice protocol (scanner, decoder, writer)", r"sluice::protocol"),
    ("sluice proxy (session, relay, pool, stream)", r"sluice::"),
    ("std::map / rb-tree (other)", r"_Rb_tree"),
]


def cat(key):
    b = bare(key)
    for name, rx in CATS:
        if re.search(rx, b):
            return name
    return "other"


def calls(p):
    """Calls per callee and per (caller, callee) from a callgrind out file (name compression resolved)."""
    names, res, pairs, fn, cfn = {}, {}, {}, None, None
    rx = re.compile(r"^(c?fn)=\((\d+)\)(?: (.*))?$")
    with open(p, errors="replace") as f:
        for ln in f:
            if ln.startswith(("fn=", "cfn=")):
                mm = rx.match(ln.rstrip("\n"))
                if not mm:
                    continue
                if mm.group(3) is not None:
                    names[mm.group(2)] = mm.group(3)
                if mm.group(1) == "cfn":
                    cfn = names.get(mm.group(2))
                else:
                    fn = names.get(mm.group(2))
            elif ln.startswith("calls=") and cfn:
                n = int(ln[6:].split()[0])
                res[cfn] = res.get(cfn, 0) + n
                pairs[(fn, cfn)] = pairs.get((fn, cfn), 0) + n
    return res, pairs


CALLERS_OF = re.compile(r"^(pthread_mutex_lock|malloc|memalign|aligned_alloc|operator new|clock_gettime|__strcmp|strcmp)")


for t, tname in cols:
    for m in ("simple", "extended", "prepared"):
        base_s, full_s = f"{d}/cg-{t}-{m}/annotate.base1.self.txt", f"{d}/cg-{t}-{m}/annotate.full1.self.txt"
        base_i, full_i = f"{d}/cg-{t}-{m}/annotate.base1.incl.txt", f"{d}/cg-{t}-{m}/annotate.full1.incl.txt"
        txt = read(f"{d}/callgrind-{t}-{m}.txt") or ""
        mm = re.search(r"round 1: base Ir=(\d+), full Ir=(\d+) \((\d+) tx", txt)
        if not (mm and os.path.exists(full_s) and os.path.exists(base_s)) or int(mm.group(3)) == 0:
            continue
        ntx = int(mm.group(3))
        total = (int(mm.group(2)) - int(mm.group(1))) / ntx
        o = [f"### {tname}, pgbench -S -M {m}: where the instructions of one transaction go",
             "", f"callgrind round 1: full run minus base run, divided by {ntx:,} transactions = {total:,.0f} Ir/tx.",
             "Self = instructions in the function itself; inclusive = with its callees (coroutine resumption makes",
             "inclusive figures of scheduler/handler frames overlap; read them as 'reached through').", ""]
        bs, fs = annotate(base_s), annotate(full_s)
        self_tx = {k: (fs.get(k, 0) - bs.get(k, 0)) / ntx for k in set(fs) | set(bs)}
        cats = {}
        for k, x in self_tx.items():
            cats[cat(k)] = cats.get(cat(k), 0) + x
        o += ["| category (self Ir) | Ir/tx | % |", "|---|---|---|"]
        for k, x in sorted(cats.items(), key=lambda kv: -kv[1]):
            if abs(x) >= 0.5:
                o.append(f"| {k} | {x:,.0f} | {100 * x / total:.1f} |")
        o += ["", "| # | self Ir/tx | % | function |", "|---|---|---|---|"]
        for i, (k, x) in enumerate(sorted(self_tx.items(), key=lambda kv: -kv[1])[:25], 1):
            o.append(f"| {i} | {x:,.0f} | {100 * x / total:.1f} | `{short(k)}` |")
        if os.path.exists(full_i) and os.path.exists(base_i):
            bi, fi = annotate(base_i), annotate(full_i)
            incl_tx = {k: (fi.get(k, 0) - bi.get(k, 0)) / ntx for k in set(fi) | set(bi)}
            o += ["", "| # | inclusive Ir/tx | % | function |", "|---|---|---|---|"]
            top = [kv for kv in sorted(incl_tx.items(), key=lambda kv: -kv[1]) if not SKIP_INCL.match(bare(kv[0]))]
            for i, (k, x) in enumerate(top[:30], 1):
                o.append(f"| {i} | {x:,.0f} | {100 * x / total:.1f} | `{short(k)}` |")
        cb, cf = f"{d}/cg-{t}-{m}/callgrind.base1.out", f"{d}/cg-{t}-{m}/callgrind.full1.out"
        if os.path.exists(cb) and os.path.exists(cf):
            (b, bp), (f_, fp) = calls(cb), calls(cf)
            c_tx = {k: (f_.get(k, 0) - b.get(k, 0)) / ntx for k in set(f_) | set(b)}
            o += ["", "| # | calls/tx | callee |", "|---|---|---|"]
            for i, (k, x) in enumerate(sorted(c_tx.items(), key=lambda kv: -kv[1])[:30], 1):
                o.append(f"| {i} | {x:.2f} | `{short(k)}` |")
            p_tx = {k: (fp.get(k, 0) - bp.get(k, 0)) / ntx for k in set(fp) | set(bp)}
            for callee in sorted((k for k in c_tx if CALLERS_OF.match(bare(k)) and c_tx[k] >= 0.5), key=lambda k: -c_tx[k]):
                o += ["", f"Callers of `{short(callee)}` ({c_tx[callee]:.2f} calls/tx):", "",
                      "| calls/tx | caller |", "|---|---|"]
                for (caller, ce), x in sorted(p_tx.items(), key=lambda kv: -kv[1]):
                    if ce == callee and x >= 0.05:
                        o.append(f"| {x:.2f} | `{short(caller or '?')}` |")
        with open(f"{d}/callgrind-{t}-{m}-functions.md", "w") as fo:
            fo.write("\n".join(o) + "\n")
PY
}

if [ -n "$SUMMARIZE_ONLY" ]; then
  summarize "$SUMMARIZE_ONLY"
  exit 0
fi

[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (build it, or set SLUICE=...)"
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
if [ $((BASE_PORT + 9)) -ge 32768 ] || [ "$PG_PORT" -ge 32768 ]; then die "keep PG_PORT and BASE_PORT+9 below 32768"; fi
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 3 ]; then die "--rounds must be 1..3 (each idle-clients run gets its own port)"; fi
OUT=${OUT:-$BENCH_TMP/relay-costs-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$BENCH_TMP/relay-costs-work-$PG_PORT   # configs, logs, callgrind files while running
rm -rf "$WORK"; mkdir_owned "$WORK"
PROBLEMS=$OUT/problems.txt
: >"$PROBLEMS"

S_PORT=$BASE_PORT                  # sluice (1 worker) for the strace runs
PGB_PORT=$((BASE_PORT + 1))        # PgBouncer for the strace runs
IDLE_PORT0=$((BASE_PORT + 2))      # +2.. fresh proxies for idle-clients.py, one port per run
CG_PORT=$((BASE_PORT + 9))         # proxies under callgrind

# sluice has no per-user trust: bench logs in with md5 (the cluster and PgBouncer trust it).
export PGPASSWORD=$BENCH_PASSWORD

log() { echo "$(date +%T) $*" >&2; }
problem() { log "PROBLEM: $*"; printf '%s\n' "$*" >>"$PROBLEMS"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

declare -A SPID=()
PGB_UP=() PG_UP=0 CHILD=

# kill_tree PID: a process this script started and all its descendants (by PID, children first
# found through /proc), so that a valgrind started by callgrind.sh does not outlive us.
# shellcheck disable=SC2317  # kill_tree and cleanup run from the EXIT trap
kill_tree() {
  local pid=$1 c
  for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317
cleanup() {
  set +e
  local name p
  if [ -n "$CHILD" ]; then kill_tree "$CHILD"; wait "$CHILD" 2>/dev/null; fi
  for name in "${!SPID[@]}"; do stop_sluice "$name"; done
  for p in "${PGB_UP[@]}"; do "$SHARED/proxy-pgbouncer.sh" stop "$p" >/dev/null 2>&1; done
  [ "$PG_UP" = 1 ] && "$SHARED/pg-down.sh" "$PG_PORT" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bg_wait CMD...: run a long step in the background and wait for it, so that a signal reaches the
# trap (which then stops the step's processes) instead of waiting for the step to finish.
bg_wait() {
  "$@" &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}


start_sluice() {    # NAME PORT
  local name=$1 port=$2 conf=$WORK/$1.toml
  port_in_use "$port" && die "port $port is already in use"
  render_sluice_config "$port" 1 "${SLUICE_EXTRA_TOML:-}" >"$conf"
  "${USER_EXEC[@]}" "$SLUICE" --config "$conf" >>"$WORK/$name.log" 2>&1 &
  SPID[$name]=$!
  if ! wait_port 127.0.0.1 "$port" 15; then
    tail -20 "$WORK/$name.log" >&2
    die "sluice $name did not listen on $port"
  fi
  log "sluice $name up: port $port, pid ${SPID[$name]}"
}

stop_sluice() {     # NAME
  local name=$1 pid=${SPID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 40 || { problem "sluice $name (pid $pid) did not exit within 40 s of SIGTERM; killed"; kill -KILL "$pid" 2>/dev/null; }
  wait "$pid" 2>/dev/null || true
  unset "SPID[$name]"
  cp "$WORK/$name.log" "$OUT/$name.log" 2>/dev/null || true
}

start_pgbouncer() { # PORT -> PGB_PID
  port_in_use "$1" && die "port $1 is already in use"
  PGB_UP+=("$1")
  PGB_PID=$("$SHARED/proxy-pgbouncer.sh" start "$1" "$PG_PORT" "$POOL")
  log "pgbouncer up: port $1, pid $PGB_PID"
}

warm_up() {         # PORT: fill the pool so that strace sees only relaying
  pgbench -n -S -h 127.0.0.1 -p "$1" -U bench -c "$CLIENTS" -j 2 -t 100 "$BENCH_DB" >/dev/null 2>&1 ||
    problem "warm-up pgbench against port $1 failed"
}

TARGETS=(sluice)
[ "$NO_PGBOUNCER" = 1 ] || TARGETS+=(pgbouncer)
for p in "$PG_PORT" "$S_PORT" "$PGB_PORT" "$CG_PORT"; do port_in_use "$p" && die "port $p is already in use"; done

T_START=$(date +%s)
{
  echo "date=$(date '+%F %T %Z')"
  echo "sluice_label=sluice${SLUICE_COMMIT:+ $SLUICE_COMMIT} ($SLUICE, built $(stat -c '%y' "$SLUICE" | cut -d. -f1))"
  echo "pgbouncer=$(/usr/sbin/pgbouncer --version 2>/dev/null | head -1)"
  echo "tx=$TX syscall_tx=$SYSCALL_TX clients=$CLIENTS rounds=$ROUNDS pool=$POOL workers=1 scale=$SCALE"
  echo "cpus=$(nproc) loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

# --- cluster --------------------------------------------------------------------------------------
log "starting PostgreSQL on $PG_PORT (scale $SCALE); raw outputs in $OUT"
PG_UP=1
"$SHARED/pg-up.sh" "$PG_PORT" "$SCALE" >&2
read_bench_secrets

# --- (b) syscalls per transaction: strace -c, 4 clients, 1 worker ----------------------------------
if [ "$SKIP_SYSCALLS" != 1 ]; then
  start_sluice sluice "$S_PORT"
  warm_up "$S_PORT"
  if [ "$NO_PGBOUNCER" != 1 ]; then start_pgbouncer "$PGB_PORT"; warm_up "$PGB_PORT"; fi
  for r in $(seq "$ROUNDS"); do
    for m in $MODES; do
      for t in "${TARGETS[@]}"; do
        [ "$m" = prepared ] && [ "$t" = pgbouncer ] && continue  # PgBouncer 1.18: no prepared statements in transaction mode
        if [ "$t" = sluice ]; then port=$S_PORT pid=${SPID[sluice]}; else port=$PGB_PORT pid=$PGB_PID; fi
        log "syscalls $t $m round $r"
        f=$OUT/syscalls-$t-$m-r$r.txt
        bg_wait "$SHARED/syscalls.sh" --mode "$m" --clients "$CLIENTS" --tx "$SYSCALL_TX" "$port" "$pid" >"$f" 2>&1 ||
          problem "syscalls.sh failed for $t ($m, round $r)"
        grep -qE '^([0-9]+)/\1 transactions' "$f" || problem "syscalls $t $m round $r: not all transactions ran: $(head -1 "$f")"
      done
    done
  done
  stop_sluice sluice
  if [ "$NO_PGBOUNCER" != 1 ]; then "$SHARED/proxy-pgbouncer.sh" stop "$PGB_PORT" >/dev/null; fi
fi

# --- (c) RSS per idle client: a fresh proxy per round -----------------------------------------------
if [ "$SKIP_IDLE" != 1 ]; then
  port=$IDLE_PORT0
  for r in $(seq "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
      f=$OUT/idle-$t-r$r.md
      if [ "$t" = sluice ]; then start_sluice "idle-sluice-r$r" "$port"; pid=${SPID[idle-sluice-r$r]}
      else start_pgbouncer "$port"; pid=$PGB_PID; fi
      log "idle clients: $t round $r (port $port)"
      bg_wait python3 "$SHARED/idle-clients.py" --port "$port" --pid "$pid" --pg-port "$PG_PORT" \
        --steps "$IDLE_STEPS" --query >"$f" 2>&1 || problem "idle-clients.py against $t failed (round $r): $(tail -2 "$f" | tr '\n' ' ')"
      grep -q failed "$f" && problem "idle-clients.py against $t (round $r): $(grep failed "$f" | head -2 | tr '\n' ' ')"
      if [ "$t" = sluice ]; then stop_sluice "idle-sluice-r$r"
      else "$SHARED/proxy-pgbouncer.sh" stop "$port" >/dev/null; fi
      port=$((port + 1))
    done
  done
fi

# --- (a) user-space instructions per transaction: callgrind, 4 clients ------------------------------
if [ "$SKIP_CALLGRIND" != 1 ]; then
  render_sluice_config "$CG_PORT" 1 "${SLUICE_EXTRA_TOML:-}" >"$WORK/callgrind.toml"
  for m in $MODES; do
    for t in "${TARGETS[@]}"; do
      [ "$m" = prepared ] && [ "$t" = pgbouncer ] && continue  # PgBouncer 1.18: no prepared statements in transaction mode
      log "callgrind $t $m ($ROUNDS rounds x $CLIENTS clients x $TX tx)"
      if [ "$t" = sluice ]; then cmd=("$SLUICE" --config "$WORK/callgrind.toml")
      else PGB_UP+=("$CG_PORT"); read -r -a cmd <<<"$("$SHARED/proxy-pgbouncer.sh" cmd "$CG_PORT" "$PG_PORT" "$POOL")"; fi
      # callgrind.sh puts the command after valgrind's own options: a valgrind option goes first
      [ "$CACHE_SIM" = 1 ] && cmd=(--cache-sim=yes "${cmd[@]}")
      f=$OUT/callgrind-$t-$m.txt
      bg_wait "$SHARED/callgrind.sh" --mode "$m" --clients "$CLIENTS" --tx "$TX" --rounds "$ROUNDS" \
        --out "$WORK/cg-$t-$m" "$CG_PORT" -- "${cmd[@]}" >"$f" 2>&1 || problem "callgrind.sh failed for $t ($m)"
      # callgrind.sh reads each run through a process substitution, so a failed run does not fail it
      [ "$(grep -cE "^round [0-9]+: base Ir=[0-9]+, full Ir=[0-9]+ \\($((CLIENTS * TX)) tx" "$f")" = "$ROUNDS" ] ||
        problem "callgrind $t $m: not every round completed: $(grep -v '^callgrind' "$f" | head -3 | tr '\n' ' ')"
      [ "$t" = pgbouncer ] && "$SHARED/proxy-pgbouncer.sh" stop "$CG_PORT" >/dev/null
      mkdir -p "$OUT/cg-$t-$m"
      for run in base1 full1; do
        cgf=$WORK/cg-$t-$m/callgrind.$run.out
        [ -f "$cgf" ] || continue
        cp "$cgf" "$OUT/cg-$t-$m/"
        callgrind_annotate --auto=no --threshold=100 "$cgf" >"$OUT/cg-$t-$m/annotate.$run.self.txt" 2>/dev/null || true
        callgrind_annotate --auto=no --threshold=100 --inclusive=yes "$cgf" >"$OUT/cg-$t-$m/annotate.$run.incl.txt" 2>/dev/null || true
      done
      cp "$WORK/cg-$t-$m"/proxy.*.log "$OUT/cg-$t-$m/" 2>/dev/null || true
      sed -i "s#^callgrind files in .*#callgrind files (base1, full1) and callgrind_annotate outputs in $OUT/cg-$t-$m#" "$f"
    done
  done
fi

echo "elapsed_s=$(($(date +%s) - T_START)) loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
summarize "$OUT" | tee "$OUT/summary.md"
log "raw outputs and per-function callgrind breakdowns (callgrind-*-functions.md) in $OUT"
[ -s "$PROBLEMS" ] && exit 1
exit 0
