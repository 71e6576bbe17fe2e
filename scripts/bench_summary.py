#!/usr/bin/env python3
"""Summarizes rounds of `benches/dispatch.rs` (see scripts/bench.sh).

collect CRITERION_DIR   prints one JSON line: {bench: {"min": ns, "median": ns}} for the
                        round just run, read from criterion's sample.json files
report FILE             reads the collected lines and prints the table of BENCHMARKS.md
"""
import glob
import json
import os
import statistics
import sys

IMPLS = ["route_handlers", "axum_method_router", "bare_service_fn"]
CASES = ["GET", "HEAD", "OPTIONS", "405"]


def collect(root):
    round_ = {}
    for path in glob.glob(os.path.join(root, "dispatch_*", "*", "new", "sample.json")):
        parts = path.split(os.sep)
        case, impl = parts[-4][len("dispatch_"):], parts[-3]
        with open(path) as f:
            sample = json.load(f)
        per_iter = [t / n for t, n in zip(sample["times"], sample["iters"])]
        round_[f"{case}/{impl}"] = {"min": min(per_iter), "median": statistics.median(per_iter)}
    print(json.dumps(round_))


def report(path):
    with open(path) as f:
        rounds = [json.loads(line) for line in f if line.strip()]
    print(f"{len(rounds)} rounds; ns per request: min over all samples / median of round medians")
    print()
    print("| case | route_handlers | axum MethodRouter | bare service_fn "
          "| ours/bare (min, median) | ours/axum (min, median) |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        stats = {}
        for impl in IMPLS:
            key = f"{case}/{impl}"
            mins = [r[key]["min"] for r in rounds if key in r]
            medians = [r[key]["median"] for r in rounds if key in r]
            stats[impl] = (min(mins), statistics.median(medians))
        ours, axum, bare = (stats[i] for i in IMPLS)
        cell = lambda s: f"{s[0]:.0f} / {s[1]:.0f}"
        ratio = lambda a, b: f"{a[0] / b[0]:.2f}, {a[1] / b[1]:.2f}"
        print(f"| {case} | {cell(ours)} | {cell(axum)} | {cell(bare)} "
              f"| {ratio(ours, bare)} | {ratio(ours, axum)} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "collect":
        collect(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        sys.exit(__doc__)
