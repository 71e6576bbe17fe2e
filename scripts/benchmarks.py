#!/usr/bin/env python3
"""Turns one run of scripts/benchmarks.sh into BENCHMARKS.md.

render RESULTS TEMPLATE   prints BENCHMARKS.md: TEMPLATE with every {{placeholder}}
                          replaced by a table or value computed from RESULTS
goals RESULTS             prints the goal table alone
load-table TSV            prints the summary table of a scripts/load.sh run

Every number written comes from RESULTS, the raw output of one run; a missing or
malformed result stops the script rather than leave a table out or stale.
"""
import glob
import json
import os
import re
import statistics
import sys

# ---------------------------------------------------------------------------------------
# Reading one run.


class Run:
    def __init__(self, d):
        self.dir = d
        self.meta = dict(
            line.rstrip("\n").split("\t", 1) for line in open(os.path.join(d, "meta.tsv")) if "\t" in line
        )
        self.commit = self.meta["commit"]
        self.icount = read_icount(os.path.join(d, "icount.txt"))
        self.time = read_criterion(os.path.join(d, "criterion"))
        self.rounds = sorted(self.time)
        self.load = read_load(os.path.join(d, "load.tsv"))
        self.load_icount = read_load_icount(os.path.join(d, "load_icount.tsv"))
        self.fill = read_fill(os.path.join(d, "memory-fill.txt"))
        self.flood = read_flood(os.path.join(d, "memory-flood.txt"))
        self.redis_time = read_criterion(os.path.join(d, "criterion-redis"))
        self.redis_load = read_redis_load(os.path.join(d, "redis-load.tsv"))

    # Instructions per iteration of one key.
    def ir(self, key):
        if key not in self.icount:
            sys.exit(f"no instruction count for {key}")
        return self.icount[key]

    def ns(self, bench):
        """(median of the per-round medians, min over every sample) in ns."""
        rounds = [self.time[r][bench] for r in self.rounds if bench in self.time[r]]
        if len(rounds) != len(self.rounds):
            sys.exit(f"no time for {bench} in every round")
        return statistics.median(m for m, _ in rounds), min(lo for _, lo in rounds)

    def time_ratio(self, a, b):
        """a ÷ b in time: the median of the per-round ratios of medians (the machine's speed
        drifts between rounds; within a round the two ran a few seconds apart), their range,
        and the ratio of the minimums."""
        per_round = [self.time[r][a][0] / self.time[r][b][0] for r in self.rounds]
        mins = self.ns(a)[1] / self.ns(b)[1]
        return statistics.median(per_round), min(per_round), max(per_round), mins


def read_icount(path):
    counts = {}
    for line in open(path):
        parts = line.split()
        if len(parts) != 5:
            sys.exit(f"{path}: malformed line {line!r}")
        key, n1, ir1, n2, ir2 = parts[0], *map(int, parts[1:])
        counts[key] = (ir2 - ir1) / (n2 - n1)
    return counts


def read_criterion(root):
    rounds = {}
    for bench_json in glob.glob(os.path.join(root, "*", "**", "new", "benchmark.json"), recursive=True):
        rnd = int(os.path.relpath(bench_json, root).split(os.sep)[0])
        bench = json.load(open(bench_json))["full_id"]
        sample = json.load(open(os.path.join(os.path.dirname(bench_json), "sample.json")))
        per_iter = [t / n for t, n in zip(sample["times"], sample["iters"])]
        rounds.setdefault(rnd, {})[bench] = (statistics.median(per_iter), min(per_iter))
    if not rounds:
        sys.exit(f"no criterion results under {root}")
    return rounds


def read_load(path):
    import csv

    rows = list(csv.DictReader(open(path), delimiter="\t"))
    if not rows:
        sys.exit(f"{path}: no runs")
    keys = ("req_per_s", "p50_us", "p99_us", "cpu_us_per_req")
    return {(r["round"], r["mode"]): {k: float(r[k]) for k in keys} for r in rows}


def read_redis_load(path):
    import csv

    rows = list(csv.DictReader(open(path), delimiter="\t"))
    if not rows:
        sys.exit(f"{path}: no runs")
    return {(r["round"], r["mode"]): float(r["req_per_s"]) for r in rows}


def read_load_icount(path):
    per = {}
    for line in open(path):
        mode, idle_ir, idle_n, run_ir, run_n = line.split()
        per[mode] = (int(run_ir) - int(idle_ir)) / (int(run_n) - int(idle_n))
    return per


def grab(text, pattern, path):
    m = re.search(pattern, text)
    if not m:
        sys.exit(f"{path}: no line matching {pattern!r} (has the output of cache_memory changed?)")
    return m.groups()


def read_fill(path):
    t = open(path).read()
    ids, = grab(t, r"mode fill: (\d+) distinct ids", path)
    entries, weighed = grab(t, r"entries held (\d+), weighed ([\d.]+) MiB", path)
    before, after, grown = grab(t, r"VmRSS ([\d.]+) MiB -> ([\d.]+) MiB \(\+([\d.]+) MiB\)", path)
    payload, = grab(t, r"payload ([\d.]+) MiB", path)
    ratio, wratio, per_entry = grab(
        t, r"resident growth / payload ([\d.]+)x, weighed / payload ([\d.]+)x, resident per entry (\d+) B", path
    )
    runs, = grab(t, r"handler runs (\d+)", path)
    return dict(
        ids=int(ids), entries=int(entries), weighed=float(weighed), before=float(before), after=float(after),
        grown=float(grown), payload=float(payload), ratio=float(ratio), wratio=float(wratio),
        per_entry=int(per_entry), runs=int(runs),
    )


def read_flood(path):
    t = open(path).read()
    ids, budget = grab(t, r"mode flood: (\d+) distinct ids of \d+ B, budget ([\d.]+) MiB", path)
    entries, weighed = grab(t, r"entries held (\d+), weighed ([\d.]+) MiB", path)
    before, after, grown = grab(t, r"VmRSS ([\d.]+) MiB -> ([\d.]+) MiB \(\+([\d.]+) MiB\)", path)
    requested, held, _, within = grab(
        t, r"requested ([\d.]+) MiB of bodies; store holds ([\d.]+) MiB by weight \(budget ([\d.]+) MiB, (\w+)\)", path
    )
    rss_ratio, = grab(t, r"resident growth / budget ([\d.]+)x", path)
    phases = [(int(a), float(b), int(c)) for a, b, c in re.findall(r"after\s+(\d+) ids: VmRSS ([\d.]+) MiB, (\d+) entries", t)]
    if len(phases) != 4:
        sys.exit(f"{path}: expected 4 phase lines")
    return dict(
        ids=int(ids), budget=float(budget), entries=int(entries), weighed=float(weighed), before=float(before),
        after=float(after), grown=float(grown), requested=float(requested), held=float(held),
        within=within, rss_ratio=float(rss_ratio), phases=phases,
    )


# ---------------------------------------------------------------------------------------
# Formatting.


def n(x):
    return f"{round(x):,}"


def r2(x):
    return f"{x:.2f}"


def ns(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def ratio_cell(t):
    med, lo, hi, mins = t
    rng = f" ({lo:.2f}–{hi:.2f})" if lo != hi else ""
    return f"{med:.2f}{rng}; min {mins:.2f}"


def table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def caption(run, how):
    return f"_At `{run.commit}` ({run.meta['date']}): {how}_\n\n"


# ---------------------------------------------------------------------------------------
# The tables.

CASES = ["GET", "HEAD", "OPTIONS", "405"]
IMPLS = ["route_handlers", "axum_method_router", "bare_service_fn"]


def dispatch_ir(run, imp, case):
    return run.ir(f"dispatch/{imp}/{case}") - run.ir(f"dispatch/request_only/{case}")


def route_ir(run, who, kind, size):
    return run.ir(f"routes/{who}-dispatch/{kind}/{size}") - run.ir(f"routes/{who}-req-only/{kind}/{size}")


def cache_ir(run, v):
    return run.ir(f"cache/{v}") - run.ir("cache/setup")


def dispatch_icount_table(run):
    rows = []
    for case in CASES:
        ours, axum, bare = (dispatch_ir(run, i, case) for i in IMPLS)
        rows.append([case, n(ours), n(axum), n(bare), r2(ours / bare), f"**{r2(ours / axum)}**"])
    req = run.ir("dispatch/request_only/GET")
    return caption(
        run,
        f"instructions per request, cachegrind, (I({n(int(run.meta['N2']))}) − I({n(int(run.meta['N1']))})) / "
        f"{n(int(run.meta['N2']) - int(run.meta['N1']))}, net of building and dropping the request "
        f"({n(req)} instructions, subtracted).",
    ) + table(["case", "route_handlers", "axum `MethodRouter`", "bare `service_fn`", "ours ÷ bare", "ours ÷ axum"], rows)


def dispatch_time_table(run):
    rows = []
    for case in CASES:
        ids = [f"dispatch/{case}/{i}" for i in IMPLS]
        cells = [f"{ns(run.ns(b)[0])} ({ns(run.ns(b)[1])})" for b in ids]
        rows.append([case, *cells, f"**{ratio_cell(run.time_ratio(ids[0], ids[1]))}**", ratio_cell(run.time_ratio(ids[0], ids[2]))])
    return caption(run, time_how(run) + " A cell is the median of the rounds' medians in ns, the minimum over every "
                   "sample in brackets.") + table(
        ["case", "route_handlers", "axum `MethodRouter`", "bare `service_fn`", "ours ÷ axum", "ours ÷ bare"], rows
    )


def time_how(run):
    r = len(run.rounds)
    return (
        f"criterion, {r} round{'s' if r > 1 else ''} of `--warm-up-time {run.meta['WARMUP']} --measurement-time "
        f"{run.meta['MEASURE']} --sample-size {run.meta['SAMPLES']}`, pinned to CPU 1. Times are medians of the "
        "rounds' medians; a ratio is the median of the rounds' ratios of medians (their range in brackets) and "
        "the ratio of the minimums over every sample."
    )


SIZES = [10, 1000, 10000]


def routes_icount_table(run):
    rows = []
    for size in SIZES:
        row = [n(size)]
        for kind in ("static", "dynamic"):
            ours, axum = route_ir(run, "table", kind, size), route_ir(run, "axum", kind, size)
            row += [n(ours), n(axum), f"**{r2(ours / axum)}**" if size == 1000 else r2(ours / axum)]
        rows.append(row)
    row = ["10,000 ÷ 10"]
    for kind in ("static", "dynamic"):
        row += [r2(route_ir(run, w, kind, 10000) / route_ir(run, w, kind, 10)) for w in ("table", "axum")] + [""]
    rows.append(row)
    req = run.ir("routes/table-req-only/static/1000"), run.ir("routes/axum-req-only/static/1000")
    return caption(
        run,
        "dispatch instructions per request (`clone().oneshot(req)`), cachegrind, net of building the request "
        f"(at 1,000 routes, static path: {n(req[0])} for the table's request, {n(req[1])} for axum's).",
    ) + table(
        ["routes", "table static", "axum static", "ratio", "table dynamic", "axum dynamic", "ratio"], rows
    )


def routes_lookup_table(run):
    rows = []
    for size in SIZES:
        rows.append(
            [n(size)]
            + [n(run.ir(f"routes/{w}-lookup/{k}/{size}")) for k in ("static", "dynamic") for w in ("table", "matchit")]
        )
    return caption(run, "lookup instructions per call, cachegrind.") + table(
        ["routes", "table static", "matchit static", "table dynamic", "matchit dynamic"], rows
    )


def routes_time_table(run):
    rows = []
    for size in SIZES:
        row = [n(size)]
        for kind in ("static", "dynamic"):
            a, b = f"dispatch/table/{kind}/{size}", f"dispatch/axum/{kind}/{size}"
            cell = ratio_cell(run.time_ratio(a, b))
            row += [ns(run.ns(a)[0]), ns(run.ns(b)[0]), f"**{cell}**" if size == 1000 else cell]
        rows.append(row)
    row = ["10,000 ÷ 10"]
    for kind in ("static", "dynamic"):
        row += [
            ratio_cell(run.time_ratio(f"dispatch/{w}/{kind}/10000", f"dispatch/{w}/{kind}/10")) for w in ("table", "axum")
        ] + [""]
    rows.append(row)
    return caption(run, "dispatch time, ns. " + time_how(run)) + table(
        ["routes", "table static", "axum static", "table ÷ axum", "table dynamic", "axum dynamic", "table ÷ axum"], rows
    )


def routes_lookup_time_table(run):
    rows = []
    for size in SIZES:
        rows.append(
            [n(size)] + [ns(run.ns(f"lookup/{w}/{k}/{size}")[0]) for k in ("static", "dynamic") for w in ("table", "matchit")]
        )
    return caption(run, "lookup time, ns (median of the rounds' medians).") + table(
        ["routes", "table static", "matchit static", "table dynamic", "matchit dynamic"], rows
    )


# Each cache variant and the floor it is measured against (the same response, called the
# same way), and the Content-Type-only floor called the same way where there is one.
CACHE_VARIANTS = [
    ("floor/bare", None, None),
    ("floor/headers", None, None),
    ("floor/call", None, None),
    ("floor/oneshot", None, None),
    ("floor/type_only_call", None, None),
    ("floor/type_only_oneshot", None, None),
    ("hit/table_call", "floor/call", "floor/type_only_call"),
    ("hit/table_oneshot", "floor/oneshot", "floor/type_only_oneshot"),
    ("hit/route", "floor/headers", None),
    ("hit/route_unlisted_path", "floor/headers", None),
    ("hit/layer", "floor/headers", None),
    ("handler/uncached_route", "floor/headers", None),
]


def cache_icount_table(run):
    rows = [["setup (build and drop the request)", n(run.ir("cache/setup")), "–", "", "", ""]]
    for v, floor, type_only in CACHE_VARIANTS:
        net = cache_ir(run, v)
        bold = "**" if v.startswith("hit/table") else ""
        rows.append(
            [
                f"`{v}`",
                n(run.ir(f"cache/{v}")),
                n(net),
                f"`{floor}`" if floor else "",
                f"{bold}{r2(net / cache_ir(run, floor))}{bold}" if floor else "",
                r2(net / cache_ir(run, type_only)) if type_only else "",
            ]
        )
    return caption(
        run,
        "instructions per iteration, cachegrind, (I(N2) − I(N1)) / (N2 − N1); net = the variant − `setup`.",
    ) + table(["variant", "instructions", "net", "its floor", "net ÷ floor", "net ÷ `Content-Type`-only floor"], rows)


def cache_time_table(run):
    rows = []
    for v, floor, type_only in CACHE_VARIANTS:
        med, lo = run.ns(f"cache/{v}")
        bold = "**" if v.startswith("hit/table") else ""
        rows.append(
            [
                f"`{v}`",
                ns(med),
                ns(lo),
                f"`{floor}`" if floor else "",
                f"{bold}{ratio_cell(run.time_ratio(f'cache/{v}', f'cache/{floor}'))}{bold}" if floor else "",
                ratio_cell(run.time_ratio(f"cache/{v}", f"cache/{type_only}")) if type_only else "",
            ]
        )
    return caption(run, time_how(run)) + table(
        ["variant", "median ns", "min ns", "its floor", "÷ floor", "÷ `Content-Type`-only floor"], rows
    )


HELPERS = [
    ("guard/floor: boxed handler", None),
    ("guard/route, unnamed", "guard/floor: boxed handler"),
    ("guard/route", "guard/floor: boxed handler"),
    ("guard/route with max_duration", "guard/floor: boxed handler"),
    ("json/baseline: collect and serde_json::from_slice", None),
    ("json/NextRequest::json", "json/baseline: collect and serde_json::from_slice"),
    ("cookies/baseline: split by hand", None),
    ("cookies/NextRequest::cookies", "cookies/baseline: split by hand"),
    ("cookies/Cookies::from_headers", "cookies/baseline: split by hand"),
]


def helpers_time_table(run):
    rows = []
    for bench, base in HELPERS:
        med, lo = run.ns(bench)
        rows.append(
            [f"`{bench}`", ns(med), ns(lo), f"`{base}`" if base else "", ratio_cell(run.time_ratio(bench, base)) if base else ""]
        )
    return caption(run, time_how(run)) + table(["bench", "median ns", "min ns", "baseline", "÷ baseline"], rows)


MODES = ["bare", "floor", "axum", "dynamic", "cached", "cached_tower", "table1000", "axum1000"]


def load_summary(runs, icount=None):
    """Medians over rounds, and medians of the per-round ratios to bare."""
    rounds = sorted({r for r, _ in runs}, key=int)
    modes = [m for m in MODES if (rounds[0], m) in runs] or sorted({m for _, m in runs})
    base = "bare" if "bare" in modes else modes[0]

    def med(m, k):
        return statistics.median(runs[(r, m)][k] for r in rounds)

    def ratio(m, k):
        return statistics.median(runs[(r, m)][k] / runs[(r, base)][k] for r in rounds)

    return rounds, modes, base, med, ratio


def load_table_text(runs, icount=None):
    rounds, modes, base, med, ratio = load_summary(runs)
    head = ["mode", "req/s", "p50 µs", "p99 µs", "server CPU µs/req"]
    if icount:
        head += ["instructions/req"]
    head += [f"req/s ÷ {base}", f"CPU ÷ {base}"]
    if icount:
        head += [f"instructions ÷ {base}", "instructions ÷ axum"]
    rows = []
    for m in modes:
        row = [m, n(med(m, "req_per_s")), n(med(m, "p50_us")), n(med(m, "p99_us")), r2(med(m, "cpu_us_per_req"))]
        if icount:
            row += [n(icount[m])]
        bold = "**" if m == "cached" else ""
        row += [f"{bold}{r2(ratio(m, 'req_per_s'))}{bold}", r2(ratio(m, "cpu_us_per_req"))]
        if icount:
            row += [f"{bold}{r2(icount[m] / icount[base])}{bold}", r2(icount[m] / icount["axum"]) if "axum" in icount else ""]
        rows.append(row)
    return table(head, rows)


def load_table(run):
    rounds = sorted({r for r, _ in run.load}, key=int)
    return caption(
        run,
        f"{len(rounds)} interleaved round{'s' if len(rounds) > 1 else ''} of wrk `-t1 -c50`, "
        f"{run.meta['LOAD_WARMUP']} s warm-up + {run.meta['LOAD_DURATION']} s measured per mode, server "
        "pinned to CPU 0 with one worker, wrk to CPU 1. Values are medians over rounds; ratios are medians of "
        f"the per-round ratios. Instructions: the server under callgrind, {run.meta['ICOUNT_DURATION']} s of "
        "wrk, (Ir(run) − Ir(idle)) / requests, user space only.",
    ) + load_table_text(run.load, run.load_icount)


def load_rounds_table(run):
    rounds, modes, base, _, _ = load_summary(run.load)
    rows = []
    for r in rounds:
        rows.append([r, n(run.load[(r, base)]["req_per_s"])] + [r2(run.load[(r, m)]["req_per_s"] / run.load[(r, base)]["req_per_s"]) for m in modes if m != base])
    return caption(run, f"req/s of {base} and every mode's req/s ÷ {base}, per round.") + table(
        ["round", f"{base} req/s"] + [m for m in modes if m != base], rows
    )


def memory_table(run):
    f, fl = run.fill, run.flood
    rows = [
        [
            "fill",
            f"{n(f['ids'])} distinct",
            n(f["entries"]),
            f"{f['weighed']:.1f} MiB",
            f"+{f['grown']:.1f} MiB ({f['before']:.1f} → {f['after']:.1f})",
            f"**{r2(f['ratio'])}× the {f['payload']:.1f} MiB payload** ({n(f['per_entry'])} B per entry); weighed {r2(f['wratio'])}×",
        ],
        [
            "flood",
            f"{n(fl['ids'])} distinct ({fl['requested']:.1f} MiB of bodies)",
            n(fl["entries"]),
            f"{fl['held']:.1f} MiB (budget {fl['budget']:.0f} MiB, {fl['within']})",
            f"+{fl['grown']:.1f} MiB ({fl['before']:.1f} → {fl['after']:.1f})",
            f"**{r2(fl['rss_ratio'])}× the budget**",
        ],
    ]
    phases = ", ".join(f"{p[1]:.1f} MiB ({n(p[2])} entries)" for p in fl["phases"])
    return (
        caption(run, "`examples/cache_memory.rs`, `VmRSS` before and after the fill, the store's weighed size.")
        + table(["run", "ids", "entries held", "weighed", "VmRSS growth", "ratio"], rows, ["---"] * 6)
        + f"\n\nFlood, resident size after each quarter of the ids: {phases}."
    )


# ---------------------------------------------------------------------------------------
# Where the instructions go: callgrind profiles of this run, inclusive instructions per
# request, (profile of the long run − profile of the short run) ÷ (requests between them).


def callgrind_inclusive(path):
    import subprocess

    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
        check=True, capture_output=True, text=True,
    ).stdout
    fns = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \([ \d.]+%\)\s+(.*?)(?: \[[^\]]*\])?$", line)
        if not m or m.group(2) == "PROGRAM TOTALS":
            continue
        name = m.group(2)
        name = name[4:] if name.startswith("???:") else re.sub(r"^\S*?\.(?:c|S|h):", "", name)
        fns[name] = fns.get(name, 0) + int(m.group(1).replace(",", ""))
    return fns


def per_request(long_path, short_path, requests):
    a, b = callgrind_inclusive(long_path), callgrind_inclusive(short_path)
    return {k: (v - b.get(k, 0)) / requests for k, v in a.items()}


def short_name(name, width=110):
    name = name.replace("route_handlers::", "")
    return name if len(name) <= width else name[: width - 1] + "…"


def crate_functions(profile, limit):
    rows = sorted(((v, k) for k, v in profile.items() if "route_handlers::" in k and v >= 5), reverse=True)
    return [[f"`{short_name(k)}`", n(v)] for v, k in rows[:limit]]


# Stages of a request end to end, by the function that holds each (inclusive).
E2E_STAGES = [
    ("hyper reads and parses the request head", "hyper::proto::h1::conn::Conn<I,B,T>::poll_read_head"),
    ("hyper encodes the response head", "hyper::proto::h1::conn::Conn<I,B,T>::write_head"),
    ("the service future (`TowerToHyperService`: clone + `oneshot`)",
     "<hyper_util::service::oneshot::Oneshot<S,Req> as core::future::future::Future>::poll"),
    ("`RouteTable::dispatch`", "route_handlers::routes::table::RouteTable::dispatch"),
    ("dropping the `Request<Body>`", "core::ptr::drop_in_place<http::request::Request<route_handlers::body::Body>>"),
    ("`memcpy`", "__memcpy_avx_unaligned_erms"),
    ("`malloc`", "malloc"),
    ("`free`", "free"),
]
E2E_MODES = ["bare", "floor", "dynamic", "cached"]


def e2e_profiles(run):
    profiles = {}
    for mode in E2E_MODES:
        d = os.path.join(run.dir, "load-icount")
        long_path, short_path = os.path.join(d, f"{mode}.run.out"), os.path.join(d, f"{mode}.idle.out")
        for line in open(os.path.join(run.dir, "load_icount.tsv")):
            m, _, idle_n, _, run_n = line.split()
            if m == mode:
                profiles[mode] = per_request(long_path, short_path, int(run_n) - int(idle_n))
    return profiles


def e2e_profile_table(run):
    profiles = e2e_profiles(run)
    rows = [["all of the server's user space", *(n(run.load_icount[m]) for m in E2E_MODES)]]
    for label, fn in E2E_STAGES:
        cells = [n(profiles[m][fn]) if profiles[m].get(fn, 0) >= 1 else "–" for m in E2E_MODES]
        # A stage no mode has a function of its own for (inlined into hyper's call when the
        # table is served by reference) says nothing.
        if any(c != "–" for c in cells):
            rows.append([label, *cells])
    top = crate_functions(profiles["cached"], 12)
    return (
        caption(run, "callgrind profiles of the load-instruction runs, inclusive instructions per request "
                "(a row's instructions include those of the functions it calls, so rows overlap).")
        + table(["stage", *E2E_MODES], rows)
        + "\n\nThe crate's functions on the `cached` route, inclusive per request:\n\n"
        + table(["function (`route_handlers::` left out)", "instructions"], top, ["---", "---:"])
    )


def hit_profile_table(run):
    d = os.path.join(run.dir, "profile")
    n1, n2 = int(run.meta["N1"]), int(run.meta["N2"])
    gross = {}

    def net(v):
        prof = per_request(os.path.join(d, f"{v}.{n2}.out"), os.path.join(d, f"{v}.{n1}.out"), n2 - n1)
        gross[v] = prof
        return {k: x - setup.get(k, 0) for k, x in prof.items()}

    setup = per_request(os.path.join(d, f"setup.{n2}.out"), os.path.join(d, f"setup.{n1}.out"), n2 - n1)
    hit, floor = net("hit_table_call"), net("floor_call")
    total = cache_ir(run, "hit/table_call")
    # The frames around every iteration (the loop, the runtime) hold all of it: left out.
    outer = 0.9 * run.ir("cache/hit/table_call")
    top = sorted(
        ((v, k) for k, v in hit.items() if v >= 5 and gross["hit_table_call"][k] < outer), reverse=True
    )[:20]
    rows = [["all of it", n(total), n(cache_ir(run, "floor/call"))]]
    rows += [[f"`{short_name(k)}`", n(v), n(floor.get(k, 0))] for v, k in top]
    return (
        caption(run, "callgrind on `cache_icount hit/table_call` and `floor/call`, net of `setup` (building and "
                "dropping the request): the functions of the hit with the most inclusive instructions per iteration, "
                "(profile at N2 − profile at N1) ÷ (N2 − N1); rows overlap, as a function's count includes those it calls.")
        + table(["function (`route_handlers::` left out)", "`hit/table_call`", "`floor/call`"], rows)
    )


# ---------------------------------------------------------------------------------------
# The goals of the performance issue, each a ratio of this run.


def goals(run):
    g = []

    def add(measure, how, value, op, goal, detail="", met=None):
        g.append((measure, how, value, op, goal, detail, met))

    li = run.load_icount
    _, _, _, _, load_ratio = load_summary(run.load)
    add("cached route end to end, instructions ÷ bare hyper", "callgrind, server under wrk", li["cached"] / li["bare"], "≤", 1.20,
        f"{n(li['cached'])} against {n(li['bare'])}")
    add("cached route end to end, instructions ÷ dynamic route", "callgrind, server under wrk", li["cached"] / li["dynamic"], "<", 1.00,
        f"{n(li['cached'])} against {n(li['dynamic'])}")
    add("cached route end to end, req/s ÷ bare hyper", "wrk, pinned, median of rounds", load_ratio("cached", "req_per_s"), "≥", 0.90)
    # Context, not a goal: the same answer from a `HashMap` under a bare hyper `service_fn`
    # (the hit's headers cloned), the floor any cache that sends these headers stands on.
    add("the floor of a hit end to end (`floor` mode), instructions ÷ bare hyper", "callgrind, server under wrk",
        li["floor"] / li["bare"], "floor", None, f"{n(li['floor'])} against {n(li['bare'])}; the cached route ÷ this floor "
        f"{r2(li['cached'] / li['floor'])}")
    add("the floor of a hit end to end, req/s ÷ bare hyper", "wrk, pinned, median of rounds", load_ratio("floor", "req_per_s"), "floor", None)
    for style, floor, label in (("table_call", "floor/call", "`Service::call(&mut table, req)`"),
                                ("table_oneshot", "floor/oneshot", "`table.clone().oneshot(req)`")):
        h, fl = cache_ir(run, f"hit/{style}"), cache_ir(run, floor)
        add(f"hit through the whole table, {label}, ÷ `service_fn` floor called the same way", "instructions, net of the request",
            h / fl, "≤", 1.30, f"{n(h)} against {n(fl)}")
        t = run.time_ratio(f"cache/hit/{style}", f"cache/{floor}")
        add(f"the same, time", "criterion", t[0], "≤", 1.30, range_text(t))
    get = dispatch_ir(run, "route_handlers", "GET"), dispatch_ir(run, "axum_method_router", "GET")
    add("GET dispatch, instructions ÷ axum `MethodRouter`", "cachegrind, net of the request", get[0] / get[1], "≤", 0.55,
        f"{n(get[0])} against {n(get[1])}")
    for case, goal in (("GET", 0.80), ("HEAD", 0.85)):
        t = run.time_ratio(f"dispatch/{case}/route_handlers", f"dispatch/{case}/axum_method_router")
        add(f"{case} dispatch, time ÷ axum `MethodRouter`", "criterion, same run", t[0], "≤", goal, range_text(t))
    for kind in ("static", "dynamic"):
        a, b = route_ir(run, "table", kind, 1000), route_ir(run, "axum", kind, 1000)
        add(f"1,000-route table, {kind} path, instructions ÷ axum `Router`", "cachegrind, net of the request", a / b, "≤", 0.50,
            f"{n(a)} against {n(b)}")
    for kind in ("static", "dynamic"):
        t = run.time_ratio(f"dispatch/table/{kind}/1000", f"dispatch/axum/{kind}/1000")
        add(f"1,000-route table, {kind} path, time ÷ axum `Router`", "criterion, same run", t[0], "≤", 0.50, range_text(t))
    f, fl = run.fill, run.flood
    add(f"{n(f['ids'])} cached 1 KiB entries, resident ÷ payload", "`cache_memory fill`", f["ratio"], "≤", 1.50,
        f"{n(f['per_entry'])} B per entry")
    # The example prints sizes to 0.1 MiB; its own comparison in bytes says within or OVER.
    add(f"{n(fl['ids'])} ids through a {fl['budget']:.0f} MiB budget, weighed ÷ budget", "`cache_memory flood`",
        fl["held"] / fl["budget"], "within", 1.00,
        f"the store's weight {fl['within']} the budget; resident growth {r2(fl['rss_ratio'])}× the budget",
        fl["within"] == "within")
    return g


def range_text(t):
    return f"rounds {t[1]:.2f}–{t[2]:.2f}; min-based {t[3]:.2f}" if t[1] != t[2] else f"min-based {t[3]:.2f}"


def verdict(value, op, goal, met=None):
    if met is None:
        met = {"≤": value <= goal, "<": value < goal, "≥": value >= goal}[op]
    if met:
        return "met"
    if op == "within":
        return "missed: over the budget"
    return f"missed by {abs(value - goal):.2f}"


def goals_table(run):
    rows = [
        [m, how, f"**{value:.2f}**",
         "≤ 1.00 (in bytes)" if op == "within" else "–" if op == "floor" else f"{op} {goal:.2f}",
         "the floor, no goal" if op == "floor" else verdict(value, op, goal, met), detail]
        for m, how, value, op, goal, detail, met in goals(run)
    ]
    return caption(run, "every ratio below is of this one run.") + table(
        ["measure", "how", "this run", "goal", "result", "detail"], rows, ["---", "---", "---:", "---:", "---", "---"]
    )


# ---------------------------------------------------------------------------------------
# The page.


def versions():
    lock = open("Cargo.lock").read()
    out = []
    for name in ("axum", "hyper", "hyper-util", "http", "tokio", "tower", "quick_cache", "matchit", "criterion"):
        m = re.search(r'\[\[package\]\]\nname = "' + re.escape(name) + r'"\nversion = "([^"]+)"', lock)
        if m:
            out.append(f"{name} {m.group(1)}")
    return ", ".join(out)


def meta_table(run):
    m = run.meta
    mins, secs = divmod(int(m["seconds"]), 60)
    rows = [
        ["commit", f"`{run.commit}`"],
        ["toolchain", f"{m['rustc']}, release profile"],
        ["valgrind", m["valgrind"]],
        ["wrk", m["wrk"]],
        ["crates", versions()],
        ["date", m["date"]],
        ["machine", f"{m['cpu']}; load average {m['load_start']} at the start, {m['load_end']} at the end"],
        ["run", ("QUICK (fewer rounds, shorter runs: a check, not a measurement) " if m["quick"] == "1" else "full ")
         + f"in {mins} min {secs} s: {m['ROUNDS']} criterion round(s), instructions (I({m['N2']}) − I({m['N1']})) / "
         f"{int(m['N2']) - int(m['N1'])}, {m['LOAD_ROUNDS']} load round(s)"],
    ]
    return table(["", ""], rows, ["---", "---"])


REDIS_CASES = [
    ("redis/memory/hit", "a hit from a `MemoryStore` (the reference)"),
    ("redis/redis/l1_hit", "a hit from the memory tier (L1) of a `RedisStore`"),
    ("redis/redis/l2_hit", "a hit from Redis (L2): read, decoded, answered"),
    ("redis/handler", "the route uncached: its handler runs"),
]


def redis_time_table(run):
    rounds = sorted(run.redis_time)
    rows = []
    for bench, what in REDIS_CASES:
        per = [run.redis_time[r][bench] for r in rounds if bench in run.redis_time[r]]
        if len(per) != len(rounds):
            sys.exit(f"no redis time for {bench} in every round")
        med = statistics.median(m for m, _ in per)
        lo = min(x for _, x in per)
        ratio = statistics.median(
            run.redis_time[r][bench][0] / run.redis_time[r]["redis/memory/hit"][0] for r in rounds
        )
        rows.append([f"`{bench.split('/', 1)[1]}`", what, ns(med), ns(lo), r2(ratio)])
    how = (
        f"{len(rounds)} criterion round(s) of `benches/redis.rs`, a 1 KiB body through a `RouteTable` "
        "(`Service::call`, current-thread runtime), pinned to CPU 1, `redis-server` on CPU 0 over loopback."
    )
    return caption(run, how) + table(["bench", "what", "median ns", "min ns", "÷ memory hit"], rows, ["---", "---", "---:", "---:", "---:"])


def redis_load_table(run):
    runs = run.redis_load
    rounds = sorted({r for r, _ in runs}, key=int)
    names = {
        "memory": "one instance, `MemoryStore` holding every entry",
        "1": "one instance, `RedisStore` (2 MiB memory tier)",
        "2": "two instances sharing one Redis (2 MiB memory tier each)",
    }
    rows = []
    for mode in ["memory", "1", "2"]:
        med = statistics.median(runs[(r, mode)] for r in rounds)
        vs_memory = statistics.median(runs[(r, mode)] / runs[(r, "memory")] for r in rounds)
        vs_one = statistics.median(runs[(r, mode)] / runs[(r, "1")] for r in rounds)
        rows.append([names[mode], n(med), r2(vs_memory), r2(vs_one)])
    how = (
        f"{len(rounds)} round(s) of wrk (32 connections in all, split evenly between the instances), "
        f"{run.meta['LOAD_WARMUP']} s warm-up + {run.meta['LOAD_DURATION']} s measured, random ids of 20,000 "
        "(1 KiB each, 20 MiB in all); servers, wrk and Redis share the machine's two cores, unpinned. "
        "Every request answered 200 (checked)."
    )
    return caption(run, how) + table(
        ["setup", "req/s", "÷ memory", "÷ one instance on Redis"], rows, ["---", "---:", "---:", "---:"]
    )


def render(run, template):
    values = {
        "meta": meta_table(run),
        "goals": goals_table(run),
        "dispatch_icount": dispatch_icount_table(run),
        "dispatch_time": dispatch_time_table(run),
        "routes_icount": routes_icount_table(run),
        "routes_lookup_icount": routes_lookup_table(run),
        "routes_time": routes_time_table(run),
        "routes_lookup_time": routes_lookup_time_table(run),
        "cache_icount": cache_icount_table(run),
        "cache_time": cache_time_table(run),
        "helpers_time": helpers_time_table(run),
        "load": load_table(run),
        "load_rounds": load_rounds_table(run),
        "memory": memory_table(run),
        "e2e_profile": e2e_profile_table(run),
        "hit_profile": hit_profile_table(run),
        "redis_time": redis_time_table(run),
        "redis_load": redis_load_table(run),
    }
    used = set()

    def sub(m):
        key = m.group(1)
        if key not in values:
            sys.exit(f"template: unknown placeholder {{{{{key}}}}}")
        used.add(key)
        return values[key]

    text = re.sub(r"\{\{(\w+)\}\}", sub, template)
    unused = set(values) - used
    if unused:
        sys.exit(f"template: tables left out: {', '.join(sorted(unused))}")
    return text


def main(argv):
    if len(argv) == 3 and argv[0] == "render":
        sys.stdout.write(render(Run(argv[1]), open(argv[2]).read()))
    elif len(argv) == 2 and argv[0] == "goals":
        print(goals_table(Run(argv[1])))
    elif len(argv) == 2 and argv[0] == "load-table":
        print(load_table_text(read_load(argv[1])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
