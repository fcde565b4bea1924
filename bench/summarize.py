#!/usr/bin/env python3
"""Markdown summary of one bench/run-comparison.sh run (python3 stdlib only).

  summarize.py RESULTS_DIR > summary.md

Reads what run-comparison.sh left in RESULTS_DIR: raw.jsonl (one record per pgbench run, from
../shared/bench/bench.py), idle-*.md, callgrind-*.txt, syscalls-*.txt, problems.txt, meta.txt,
load.log and the sluice logs. Ratios are paired: per repetition target/reference, then the median.
"""
import glob, json, os, re, statistics, sys

PROXIES = ["pgbouncer", "sluice1w", "sluice2w"]
TARGETS = ["direct"] + PROXIES


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0, suffix=""):
    return "-" if x is None else f"{x:,.{nd}f}{suffix}"


def ok(r):
    return r.get("rc") == 0 and not r.get("failed") and r.get("tps") is not None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class Runs:
    def __init__(self, recs):
        self.recs = recs
        self.scenarios = list(dict.fromkeys(r["scenario"] for r in recs))

    def cell(self, s, t):
        return [r for r in self.recs if r["scenario"] == s and r["target"] == t]

    def good(self, s, t):
        return [r for r in self.cell(s, t) if ok(r)]

    def median(self, s, t, key):
        return med([r.get(key) for r in self.good(s, t)])

    def spread(self, s, t, key):
        xs = [r.get(key) for r in self.good(s, t) if r.get(key) is not None]
        if len(xs) < 2 or not statistics.median(xs):
            return None
        return 100.0 * (max(xs) - min(xs)) / statistics.median(xs)

    def paired(self, s, t, ref, key):
        """Median over repetitions of t/ref, both from the same repetition."""
        vals = []
        for r in self.good(s, t):
            o = [q for q in self.good(s, ref) if q["rep"] == r["rep"]]
            if o and o[0].get(key) and r.get(key) is not None:
                vals.append(r[key] / o[0][key])
        return med(vals)

    def okruns(self, s, t):
        return f"{len(self.good(s, t))}/{len(self.cell(s, t))}"


def workers_verdict(ratio):
    if ratio is None:
        return "n/a"
    if ratio >= 1.05:
        return "grows"
    if ratio <= 0.95:
        return "drops"
    return "flat"


def callgrind_ir(res):
    """Median Ir/tx per (proxy, mode) from the callgrind outputs."""
    irs = {}
    for proxy in ("sluice", "pgbouncer"):
        for mode in ("simple", "extended"):
            rounds = re.findall(r"round \d+: .*?\((\d+) tx.*Ir/tx=(\d+)",
                                read(os.path.join(res, f"callgrind-{proxy}-{mode}.txt")) or "")
            if rounds:
                irs[(proxy, mode)] = med([int(ir) for _, ir in rounds])
    return irs


def idle_kib_per_client(res, name):
    """KiB of proxy RSS per idle client at 10k clients (idle-clients.py's table), or None."""
    text = read(os.path.join(res, f"idle-{name}.md")) or ""
    table = [l for l in text.splitlines() if re.match(r"\| \d", l)]
    if not table:
        return None
    cells = [c.strip() for c in table[-1].strip().strip("|").split("|")]
    try:
        return float(cells[3])
    except (IndexError, ValueError):
        return None


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def idle_active(res, name):
    """idle_plus_active.py's key=value lines for one proxy, or None."""
    text = read(os.path.join(res, f"idle-active-{name}.txt"))
    if text is None:
        return None
    return dict(l.split("=", 1) for l in text.splitlines() if re.match(r"^[a-z_]+=", l))


def paired_rounds(pairs):
    """Median of per-round ratios and the number of rounds, from {round: (value, reference)}."""
    ratios = [v / ref for v, ref in pairs.values() if v is not None and ref]
    return (statistics.median(ratios), len(ratios)) if ratios else None


def pgbench_tps(path):
    """tps of one pgbench output kept by on-off.sh (None if the run failed)."""
    text = read(path) or ""
    m = re.search(r"^tps = ([\d.]+)", text, re.M)
    f = re.search(r"number of failed transactions: (\d+)", text)
    return float(m.group(1)) if m and "exit=0" in text and (not f or f.group(1) == "0") else None


def guard_ratio(res):
    """guard.sh's rounds: median of on/off per round."""
    pairs = {}
    for path in glob.glob(os.path.join(res, "guard", "sluice-guard-on-r*.txt")):
        r = re.search(r"-r(\d+)\.txt$", path).group(1)
        pairs[r] = (pgbench_tps(path), pgbench_tps(os.path.join(res, "guard", f"sluice-guard-off-r{r}.txt")))
    return paired_rounds(pairs)


def tls_ratio(res):
    """tls.sh's rounds: median of TLS-both-sides / plain per round."""
    rounds = re.findall(r"round (\d+): plain ([\d.]+) tps, TLS both sides ([\d.]+) tps", read(os.path.join(res, "tls.txt")) or "")
    return paired_rounds({r: (float(t), float(p)) for r, p, t in rounds})


def features_section(res, out):
    """The raw lines of the guard, TLS and idle-plus-active steps."""
    parts = []
    for name in ("sluice", "pgbouncer"):
        text = read(os.path.join(res, f"idle-active-{name}.txt"))
        if text:
            parts.append(f"<details><summary>idle_plus_active.py, {name}</summary>\n\n```\n{text.strip()}\n```\n</details>\n")
    guard = read(os.path.join(res, "guard", "summary.md"))
    if guard:
        parts.append(guard.strip() + "\n")
    tls = read(os.path.join(res, "tls.txt"))
    if tls:
        lines = [l for l in tls.splitlines() if re.search(r"round \d+:|median|handshake flood|pgbench -S", l)]
        parts.append("### TLS on both sides (bench/tls.sh)\n\n```\n" + "\n".join(lines) + "\n```\n")
    if parts:
        out.append("## Guard, TLS, and 10,000 idle + 200 active clients\n")
        out.extend(parts)


def step_runs(res, step):
    """A step after the scenarios (PgBouncer and sluice 1 worker placed alike: "priority", "own-core"):
    its runs and its settings file (priority.txt: nice=N; own-core.txt: proxy_cpu=N others=LIST)."""
    raw = os.path.join(res, step, "raw.jsonl")
    if not os.path.exists(raw):
        return None, ""
    return Runs([json.loads(l) for l in open(raw) if l.strip()]), read(os.path.join(res, step + ".txt")) or ""


def setting(text, key):
    m = re.search(key + r"=(\S+)", text)
    return m.group(1) if m else "?"


def step_label(res, step):
    """How the step placed the proxies, as the target rows name it."""
    runs, text = step_runs(res, step)
    if step == "priority":
        return runs, f"both proxies at nice {setting(text, 'nice')}"
    return runs, f"each proxy on a core of its own (CPU {setting(text, 'proxy_cpu')})"


def step_sections(res, out):
    prio, text = step_runs(res, "priority")
    if prio is not None:
        out.append(f"## PgBouncer and sluice (1 worker) both at nice {setting(text, 'nice')}\n")
        out.append("The same proxies right after the scenarios above, every thread of each reniced, interleaved "
                   "repetitions as above. On cores shared with pgbench and PostgreSQL, a proxy's send that wakes "
                   "one of them on its own core may preempt it; at a raised priority the proxy keeps its turn "
                   "(bench/analysis.md, first point).\n")
        step_table(prio, out)
    own, text = step_runs(res, "own-core")
    if own is not None:
        out.append("## PgBouncer and sluice (1 worker), each on a core of its own\n")
        out.append(f"The same proxies after the priority step, at the default priority, every thread of each on CPU "
                   f"{setting(text, 'proxy_cpu')} and PostgreSQL and pgbench on CPU {setting(text, 'others')}: "
                   "no proxy shares its core with the processes it wakes, as on a machine of its own (both "
                   "proxies then have a core for themselves; PostgreSQL and pgbench have one less, so the "
                   "TPS is lower than in the rows above).\n")
        step_table(own, out)


def step_table(runs, out):
    out.append("| scenario | pgbouncer | sluice1w | s1w/pgb | proxy CPU µs/tx p/1 | s1w/pgb CPU | spread p/1 | ok runs p/1 |")
    out.append("|---|---|---|---|---|---|---|---|")
    for s in runs.scenarios:
        out.append(f"| {s} | {fmt(runs.median(s, 'pgbouncer', 'tps'))} | {fmt(runs.median(s, 'sluice1w', 'tps'))} | "
                   f"{fmt(runs.paired(s, 'sluice1w', 'pgbouncer', 'tps'), 3)} | "
                   + " / ".join(fmt(runs.median(s, t, "proxy_cpu_ms_per_1k"), 1) for t in ("pgbouncer", "sluice1w"))
                   + f" | {fmt(runs.paired(s, 'sluice1w', 'pgbouncer', 'proxy_cpu_ms_per_1k'), 3)}"
                   + " | " + " / ".join(fmt(runs.spread(s, t, "tps"), 0, "%") for t in ("pgbouncer", "sluice1w"))
                   + " | " + " ".join(runs.okruns(s, t) for t in ("pgbouncer", "sluice1w")) + " |")
    out.append("")


def targets_section(runs, res, out):
    """Issue 12's targets, each with what this run measured and whether it holds."""
    out.append("## Targets (issue 12) against this run\n")
    out.append("Ratios are paired per repetition, then the median. \"held\" means the median meets the target "
               "in this run; on a shared 2-core machine a ratio near its bound can flip between runs.\n")
    out.append("| target | measured | verdict |")
    out.append("|---|---|---|")

    def row(name, value, held):
        verdict = "-" if held is None else ("**held**" if held else "not held")
        out.append(f"| {name} | {value} | {verdict} |")

    def ratio_row(name, s, t, ref, key, bound, higher_is_better=True):
        r = runs.paired(s, t, ref, key) if s in runs.scenarios else None
        held = None if r is None else (r >= bound if higher_is_better else r <= bound)
        row(name, fmt(r, 3), held)

    for s in ("sel-simple-c50", "sel-simple-c500", "sel-ext-c50"):
        ratio_row(f"{s}: sluice 1 worker TPS ≥ 1.0× PgBouncer", s, "sluice1w", "pgbouncer", "tps", 1.0)
        ratio_row(f"{s}: sluice 2 workers TPS ≥ 1.15× PgBouncer", s, "sluice2w", "pgbouncer", "tps", 1.15)
    for step in ("priority", "own-core"):
        placed, label = step_label(res, step)
        for s in (placed.scenarios if placed else []):
            r = placed.paired(s, "sluice1w", "pgbouncer", "tps")
            row(f"{s}, {label}: sluice 1 worker TPS ≥ 1.0× PgBouncer", fmt(r, 3), None if r is None else r >= 1.0)
    for s in ("sel-simple-c50", "sel-ext-c50"):
        ratio_row(f"{s}: proxy CPU/tx, sluice 1 worker ≤ 0.7× PgBouncer", s, "sluice1w", "pgbouncer",
                  "proxy_cpu_ms_per_1k", 0.7, higher_is_better=False)
    irs = callgrind_ir(res)
    for mode in ("simple", "extended"):
        sv, pv = irs.get(("sluice", mode)), irs.get(("pgbouncer", mode))
        row(f"Ir/tx ({mode}) ≤ 1.0× PgBouncer", f"{sv:,.0f} vs {pv:,.0f} = {sv / pv:.2f}×" if sv and pv else "-",
            None if not (sv and pv) else sv / pv <= 1.0)
    if "sel-simple-c1" in runs.scenarios:
        d = runs.median("sel-simple-c1", "direct", "lat_ms")
        added = {t: (runs.median("sel-simple-c1", t, "lat_ms") or 0) - (d or 0) for t in ("pgbouncer", "sluice1w")}
        if d is not None:
            row("added latency at 1 client ≤ PgBouncer's", f"sluice1w {added['sluice1w'] * 1000:+.0f} µs, "
                f"PgBouncer {added['pgbouncer'] * 1000:+.0f} µs", added["sluice1w"] <= added["pgbouncer"])
    for s in ("churn-md5-c20", "churn-scram-c20"):
        ratio_row(f"{s}: TPS ≥ 1.0× PgBouncer", s, "sluice1w", "pgbouncer", "tps", 1.0)
        ratio_row(f"{s}: TPS ≥ 3× direct", s, "sluice1w", "direct", "tps", 3.0)
    if "sel-prep-c50" in runs.scenarios:
        for t, label in (("sluice1w", "1 worker"), ("sluice2w", "2 workers")):
            ratio_row(f"sel-prep-c50: sluice {label} ≥ 0.8× direct -M prepared", "sel-prep-c50", t, "direct",
                      "tps", 0.8)
            # Two scenarios, so two invocations: the medians' ratio (no pairing across them).
            p, e = runs.median("sel-prep-c50", t, "tps"), runs.median("sel-ext-c50", t, "tps")
            r = p / e if p and e else None
            row(f"sel-prep-c50: sluice {label} ≥ 1.1× its own -M extended (sel-ext-c50, medians)", fmt(r, 3),
                None if r is None else r >= 1.1)
    sk, pk = idle_kib_per_client(res, "sluice"), idle_kib_per_client(res, "pgbouncer")
    row("RSS per idle client at 10k ≤ PgBouncer's", f"{fmt(sk, 2)} vs {fmt(pk, 2)} KiB" if sk and pk else "-",
        None if not (sk and pk) else sk <= pk)
    active = idle_active(res, "sluice")
    if active is not None:
        backends = active.get("pg_backends_max", "-")
        row("10,000 idle + 200 active clients on pool 20: 0 errors",
            f"{active.get('errors', '-')} errors, {active.get('idle_clients', '-')} idle + "
            f"{active.get('active_clients', '-')} active at {fmt(num(active.get('pgbench_tps')))} tps, "
            f"≤ {backends} PG backends", active.get("errors") == "0" and backends != "-" and int(backends) <= 20)
    guard = guard_ratio(res)
    if guard is not None:
        row("guard in enforce, default rules: TPS ≥ 0.95× guard off", f"{guard[0]:.3f} ({guard[1]} rounds)",
            guard[0] >= 0.95)
    tls = tls_ratio(res)
    if tls is not None:
        out.append(f"| TLS on both sides: overhead reported vs plain | TLS/plain TPS {tls[0]:.3f} ({tls[1]} rounds) "
                   "| reported |")
    out.append("")


def projection_section(runs, out):
    """Projection, from this run's proxy CPU per transaction, of what each proxy can carry on more cores."""
    out.append("## Projection to 16 cores (a model, not a measurement)\n")
    out.append("PgBouncer runs one thread: whatever the machine, one core carries all its transactions, so its "
               "ceiling is 10⁶ / (its µs of CPU per transaction). sluice runs one worker per core; the model takes "
               "the CPU per transaction measured with 2 workers (it includes the cost of sharing pools between "
               "threads) and assumes it stays flat as workers are added, with PostgreSQL and the clients on other "
               "machines. Real scaling will be lower where the shared pool mutex or the kernel's network stack "
               "saturate; treat these as upper bounds for both.\n")
    out.append("| scenario | PgBouncer µs/tx | ceiling tx/s (any core count) | sluice µs/tx (2w) | sluice ceiling 1 core "
               "| 4 cores | 16 cores | 16 cores vs PgBouncer |")
    out.append("|---|---|---|---|---|---|---|---|")
    for s in runs.scenarios:
        p = runs.median(s, "pgbouncer", "proxy_cpu_ms_per_1k")
        q = runs.median(s, "sluice2w", "proxy_cpu_ms_per_1k")
        if not p or not q:
            continue
        pc, sc = 1e6 / p, 1e6 / q
        out.append(f"| {s} | {p:.1f} | {pc:,.0f} | {q:.1f} | {sc:,.0f} | {4 * sc:,.0f} | {16 * sc:,.0f} | "
                   f"{16 * sc / pc:.1f}× |")
    out.append("")


def throughput_section(runs, out):
    out.append("## Throughput (pgbench TPS, median of repetitions; ratios paired per repetition)\n")
    out.append("| scenario | direct | pgbouncer | sluice1w | sluice2w | pgb/direct | s1w/direct | s2w/direct "
               "| s1w/pgb | s2w/pgb | s2w/s1w | ok runs d/p/1/2 |")
    out.append("|---|" + "---|" * 11)
    for s in runs.scenarios:
        row = [s] + [fmt(runs.median(s, t, "tps")) for t in TARGETS]
        row += [fmt(runs.paired(s, t, "direct", "tps"), 3) for t in PROXIES]
        row += [fmt(runs.paired(s, t, "pgbouncer", "tps"), 3) for t in ("sluice1w", "sluice2w")]
        row.append(fmt(runs.paired(s, "sluice2w", "sluice1w", "tps"), 3))
        row.append(" ".join(runs.okruns(s, t) for t in TARGETS))
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("TPS spread (max−min)/median per cell, and mean latency (ms):\n")
    out.append("| scenario | spread d/p/1/2 | latency ms d/p/1/2 |")
    out.append("|---|---|---|")
    for s in runs.scenarios:
        sp = " / ".join(fmt(runs.spread(s, t, "tps"), 0, "%") for t in TARGETS)
        lat = " / ".join(fmt(runs.median(s, t, "lat_ms"), 2) for t in TARGETS)
        out.append(f"| {s} | {sp} | {lat} |")
    out.append("")


def cpu_section(runs, out):
    out.append("## Proxy CPU per transaction (µs/tx = utime+stime from /proc per 1000 tx), RSS after the run\n")
    out.append("| scenario | pgbouncer µs/tx | sluice1w µs/tx | sluice2w µs/tx | s1w/pgb | s2w/pgb "
               "| %core p/1/2 | RSS MiB p/1/2 |")
    out.append("|---|---|---|---|---|---|---|---|")
    for s in runs.scenarios:
        row = [s] + [fmt(runs.median(s, t, "proxy_cpu_ms_per_1k"), 1) for t in PROXIES]
        row += [fmt(runs.paired(s, t, "pgbouncer", "proxy_cpu_ms_per_1k"), 3) for t in ("sluice1w", "sluice2w")]
        row.append(" / ".join(fmt(runs.median(s, t, "proxy_core_pct")) for t in PROXIES))
        row.append(" / ".join(fmt((runs.median(s, t, "proxy_rss_kb") or 0) / 1024 or None, 1) for t in PROXIES))
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("For churn scenarios one transaction = one new connection + login + one SELECT.\n")


def workers_section(runs, out):
    out.append("## Does sluice throughput grow from 1 to 2 workers?\n")
    out.append("Paired TPS ratio sluice2w/sluice1w per scenario (grows ≥ 1.05, drops ≤ 0.95, else flat):\n")
    verdicts = []
    for s in runs.scenarios:
        r = runs.paired(s, "sluice2w", "sluice1w", "tps")
        c1 = runs.median(s, "sluice1w", "proxy_core_pct")
        verdicts.append(workers_verdict(r))
        out.append(f"- {s}: {fmt(r, 3)} → **{verdicts[-1]}** (sluice1w used {fmt(c1)}% of one core)")
    out.append("")
    n_grow = verdicts.count("grows")
    out.append(f"Grows in {n_grow} of {len(verdicts)} scenarios. On this 2-core box PostgreSQL and pgbench share "
               "the same cores, so a single sluice worker that is not saturated cannot gain from a second one; "
               "a second worker only helps where sluice1w's %core approaches 100.\n")


def load_section(runs, res, out):
    out.append("## Machine load during the pgbench runs\n")
    out.append("busy% = whole-machine CPU during each pgbench run (200 = both cores), steal% = host steal. "
               "Other work on the box shows up as busy% not explained by pgbench + PG + proxy.\n")
    out.append("| scenario | busy% median (min–max) | steal% median (max) |")
    out.append("|---|---|---|")
    for s in runs.scenarios:
        rs = [r for r in runs.recs if r["scenario"] == s]
        b = [r.get("sys_busy_pct") for r in rs]
        st = [r.get("sys_steal_pct") for r in rs]
        out.append(f"| {s} | {fmt(med(b))} ({fmt(min(b))}–{fmt(max(b))}) | {fmt(med(st))} ({fmt(max(st))}) |")
    out.append("")
    load = read(os.path.join(res, "load.log")) or ""
    other = [float(x) for x in re.findall(r"other%=([\d.]+)", load)]
    steal = [float(x) for x in re.findall(r"steal%=([\d.]+)", load)]
    who = {}
    for names in re.findall(r"top-other:(.*)", load):
        for w in names.split():
            who[w.split("=")[0]] = who.get(w.split("=")[0], 0) + 1
    if other:
        out.append(f"Foreign CPU (processes that are not part of the benchmark, sampled every 30 s with top, "
                   f"% of one core): median {fmt(med(other))}%, max {fmt(max(other))}% over {len(other)} samples; "
                   f"host steal over the whole run: median {fmt(med(steal))}%, max {fmt(max(steal) if steal else None)}%. "
                   "Most frequent: " + (", ".join(f"{k} ({n}×)" for k, n in sorted(who.items(), key=lambda x: -x[1])[:6])
                                        or "none") + ".\n")
    top = read(os.path.join(res, "top-start.txt"))
    if top:
        out.append("Busiest processes when the run started (top, %CPU of one core):\n")
        out.append("```\n" + top.strip() + "\n```\n")


def idle_section(res, out):
    out.append("## Idle clients (idle-clients.py on a fresh proxy: 1000 → 5000 → 10000 clients, md5/trust login "
               "+ one SELECT 1 each)\n")
    rows = []
    for name in ("sluice", "pgbouncer"):
        text = read(os.path.join(res, f"idle-{name}.md"))
        if text is None:
            continue
        base = re.search(r"baseline: proxy RSS (\d+) KiB", text)
        table = [l for l in text.splitlines() if re.match(r"\| \d", l)]
        fails = [l.strip() for l in text.splitlines() if "failed" in l]
        last = [c.strip() for c in table[-1].strip("|").split("|")] if table else None
        rss = {int(c.split("|")[1]): c.split("|")[3].strip() for c in table} if table else {}
        rows.append((name, base, rss, last, fails, text))
    if not rows:
        out.append("(not run)\n")
        return
    out.append("| proxy | RSS before MiB | RSS @1k | @5k | @10k | KiB/client @10k | after SELECT 1: KiB/client "
               "| PG backends @10k | failures |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for name, base, rss, last, fails, _ in rows:
        b = f"{int(base.group(1)) / 1024:.1f}" if base else "-"
        cells = [name, b] + [rss.get(n, "-") for n in (1000, 5000, 10000)]
        if last and len(last) >= 8:
            cells += [last[3], last[6], last[7]]
        else:
            cells += ["-", "-", "-"]
        cells.append("; ".join(fails)[:200] or "none")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for name, _, _, _, _, text in rows:
        out.append(f"<details><summary>idle-clients.py output, {name}</summary>\n\n```\n{text.strip()}\n```\n</details>\n")


def callgrind_section(res, out):
    out.append("## User-space instructions per transaction (callgrind, pgbench -S, 4 clients, 1 sluice worker)\n")
    found = False
    out.append("| proxy | mode | Ir/tx per round | tx per round |")
    out.append("|---|---|---|---|")
    irs = {}
    for proxy in ("sluice", "pgbouncer"):
        for mode in ("simple", "extended"):
            text = read(os.path.join(res, f"callgrind-{proxy}-{mode}.txt"))
            if text is None:
                continue
            found = True
            rounds = re.findall(r"round \d+: .*?\((\d+) tx.*Ir/tx=(\d+)", text)
            if rounds:
                irs[(proxy, mode)] = med([int(ir) for _, ir in rounds])
                out.append(f"| {proxy} | {mode} | {', '.join(f'{int(ir):,}' for _, ir in rounds)} | "
                           f"{', '.join(n for n, _ in rounds)} |")
            else:
                err = " ".join(l for l in text.splitlines() if "error" in l.lower())[:200]
                out.append(f"| {proxy} | {mode} | FAILED: {err} | - |")
    if not found:
        out.append("| (not run) | | | |")
    out.append("")
    for mode in ("simple", "extended"):
        s, p = irs.get(("sluice", mode)), irs.get(("pgbouncer", mode))
        if s and p:
            out.append(f"- {mode}: sluice/pgbouncer Ir ratio **{s / p:.2f}**")
    out.append("")


def syscalls_section(res, out):
    out.append("## Syscalls per transaction (strace -c -f, pgbench -S, 4 clients × 2000 tx)\n")
    files = sorted(glob.glob(os.path.join(res, "syscalls-*.txt")))
    if not files:
        out.append("(not run)\n")
        return
    out.append("| proxy | mode | total /tx | breakdown |")
    out.append("|---|---|---|---|")
    for f in files:
        m = re.match(r"syscalls-(.+)-(simple|extended)\.txt", os.path.basename(f))
        if not m:
            continue
        text = read(f) or ""
        calls = re.findall(r"^\s+(\S+)\s+([\d.]+) /tx", text, re.M)
        calls = [(n, float(v)) for n, v in calls if n != "total"]
        total = sum(v for _, v in calls)
        top = ", ".join(f"{n} {v:.2f}" for n, v in sorted(calls, key=lambda x: -x[1]) if v >= 0.01)
        ntx = re.search(r"^(\d+)/(\d+) transactions", text, re.M)
        done = f"{ntx.group(1)}/{ntx.group(2)} tx" if ntx else "? tx"
        if ntx and int(ntx.group(1)) < int(ntx.group(2)):
            done += " — **pgbench clients aborted** (see the proxy's log)"
        if not calls:
            out.append(f"| {m.group(1)} | {m.group(2)} | FAILED | {text.strip()[:150]} |")
        else:
            out.append(f"| {m.group(1)} | {m.group(2)} | {total:.2f} | {top} ({done}) |")
    out.append("")


def problems_section(runs, res, out):
    out.append("## Problems\n")
    items = []
    text = (read(os.path.join(res, "problems.txt")) or "").rstrip()
    if text:
        items.append("Recorded by run-comparison.sh:\n\n```\n" + text + "\n```")
    for r in runs.recs:
        if not ok(r):
            items.append(f"pgbench failed: {r['scenario']} {r['target']} rep{r['rep']}: rc={r.get('rc')} "
                         f"failed={r.get('failed')} error: `{r.get('error', '')}`")
    for log in sorted(glob.glob(os.path.join(res, "*.log"))):
        name = os.path.basename(log)
        if name in ("progress.log", "load.log"):
            continue
        lines = (read(log) or "").splitlines()
        bad = [l for l in lines if re.search(r" (warning|error|critical) ", l)]
        if bad:
            items.append(f"{name}: {len(bad)} warning/error lines, last ones:\n\n```\n" + "\n".join(bad[-10:]) + "\n```")
        # Connection ends that a clean benchmark should never produce (info level in sluice's log).
        odd = [l for l in lines if re.search(r"closed: (?!shutting down|closed or expired while idle)|closing because", l)]
        if odd:
            reasons = {}
            for l in odd:
                key = re.sub(r"\b[CS]\d+\b", "#", l.split(" info ", 1)[-1])
                reasons[key] = reasons.get(key, 0) + 1
            items.append(f"{name}: {len(odd)} unexpected connection ends:\n\n```\n" +
                         "\n".join(f"{n:5d} × {k}" for k, n in sorted(reasons.items(), key=lambda x: -x[1])) +
                         "\n```\nfirst: `" + odd[0] + "`")
    out.append("\n".join(f"- {i}" for i in items) + "\n" if items else "None: every pgbench run succeeded, "
               "every sluice process answered after every scenario, no warnings or errors in sluice's logs.\n")


def main():
    res = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
    recs = []
    raw = os.path.join(res, "raw.jsonl")
    if os.path.exists(raw):
        recs = [json.loads(l) for l in open(raw) if l.strip()]
    runs = Runs(recs)
    meta = dict(l.split("=", 1) for l in (read(os.path.join(res, "meta.txt")) or "").splitlines() if "=" in l)
    out = [f"# sluice vs PgBouncer vs direct PostgreSQL — {meta.get('date', '?')}\n"]
    # Paths relative to the repository: the record must read the same on any checkout.
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = meta.get('sluice', '?')
    if binary.startswith('/'):
        path, _, when = binary.partition(' ')
        binary = os.path.relpath(path, repo) + (' ' + when if when else '')
    out.append(f"- sluice: {meta.get('commit', '?')}; binary {binary}")
    out.append(f"- {meta.get('pgbouncer', 'PgBouncer ?')}; PostgreSQL 15 throwaway cluster (scale 10, fsync off, "
               "max_connections 800)")
    out.append(f"- {meta.get('args', '')}; run took {int(meta.get('elapsed_s', 0)) // 60} min; "
               f"load average at start {meta.get('loadavg_start', '?')}, at end {meta.get('loadavg_end', '?')}")
    out.append(f"- machine: {meta.get('cpus', '?')}; every process (pgbench, PG, proxies, other builds) shares it")
    out.append("- targets: direct = PostgreSQL itself; pgbouncer = PgBouncer 1.18 (transaction mode, pool 20, "
               "auth_type hba); sluice1w / sluice2w = sluice with `--workers 1` / `2` (transaction mode, pool 20, "
               "auth md5: bench plaintext, bench_md5 md5 secret, bench_scram SCRAM secret, so churn-md5 logs in "
               "with md5 and churn-scram with SCRAM, as through PgBouncer)")
    out.append("- difference: the bench role logs in to sluice with md5 (sluice has no per-user trust), "
               "to PgBouncer and PG with trust; this only affects connection set-up.\n")
    targets_section(runs, res, out)
    # The explanation of the targets not held, kept by hand next to this script.
    analysis = read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md"))
    if analysis:
        out.append(analysis)
    if runs.recs:
        projection_section(runs, out)
        throughput_section(runs, out)
        cpu_section(runs, out)
        workers_section(runs, out)
    step_sections(res, out)
    idle_section(res, out)
    features_section(res, out)
    callgrind_section(res, out)
    syscalls_section(res, out)
    if runs.recs:
        load_section(runs, res, out)
    problems_section(runs, res, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
