#!/usr/bin/env bash
# Runs the criterion dispatch benchmark ROUNDS times and summarizes it the way
# BENCHMARKS.md reports it: per implementation and case, the minimum over every sample of
# every round (ns per request) and the median of the per-round medians, with the ratios
# ours/bare and ours/axum of both.
#
#   scripts/bench.sh [ROUNDS]        # default 5 rounds
#
# Each round: --warm-up-time 1 --measurement-time 2 (the machine is shared; short rounds,
# repeated, say more than one long one). Set TASKSET="taskset -c 1" to pin the process.
# Needs python3 for the summary.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo bench --no-run --bench dispatch
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds" >&2
  ${TASKSET:-} cargo bench --bench dispatch -- --warm-up-time 1 --measurement-time 2 >/dev/null
  python3 scripts/bench_summary.py collect target/criterion >>"$out"
done
python3 scripts/bench_summary.py report "$out"
