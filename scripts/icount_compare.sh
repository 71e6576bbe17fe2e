#!/usr/bin/env bash
# Instructions per request of dispatch, the route table and cache hits, for the working
# tree and a base revision, in the same run:
#
#   scripts/icount_compare.sh 7b204a2      # base revision (default: HEAD~1)
#
# Builds the `icount`, `routes` and `cache_icount` bench binaries of both trees (the base
# in a temporary worktree with its own target directory), then counts with valgrind
# cachegrind, (I(12000) - I(2000)) / 10000: dispatch and the route table minus building the
# request, cache variants per iteration with the request (`setup` is that alone). A cache
# variant the base does not have (or names otherwise: its older names are tried) shows as 0.
# Counts repeat to a few instructions. For the tables of BENCHMARKS.md, run
# scripts/benchmarks.sh. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD~1}
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-target}

benches=(--bench icount --bench routes --bench cache_icount)
cargo bench --no-run "${benches[@]}" >/dev/null 2>&1
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$wt" "$base" >/dev/null 2>&1
base_target=${BASE_TARGET:-$target/icount-base}
[[ $base_target == /* ]] || base_target=$PWD/$base_target
(cd "$wt" && CARGO_TARGET_DIR="$base_target" cargo bench --no-run "${benches[@]}" >/dev/null 2>&1)

bin() { ls -t "$1"/release/deps/"$2"-* | grep -v '\.d$' | head -1; }
cg() { valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
  sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d ,; }
per() { local a b; a=$(cg "$@" 2000) && b=$(cg "$@" 12000) && [[ -n $a && -n $b ]] && echo $(( (b - a) / 10000 )); }

# The cache variants, with the names older revisions gave them.
cache_variants=(setup:setup floor/headers:floor_headers floor/call: floor/oneshot: hit/route:hit_route
  hit/route_unlisted_path:hit_route_unlisted hit/table_call: hit/table_oneshot: hit/layer:hit_layer
  handler/uncached_route:handler)

measure() { # TARGET_DIR -> lines "what count"
  local ic rt ci req v
  ic=$(bin "$1" icount) rt=$(bin "$1" routes) ci=$(bin "$1" cache_icount)
  rper() { local a b; a=$(ROUTES_ICOUNT=$1:1000:2000 cg "$rt"); b=$(ROUTES_ICOUNT=$1:1000:12000 cg "$rt"); echo $(( (b - a) / 10000 )); }
  req=$(per "$ic" request_only/GET)
  for c in GET HEAD OPTIONS 405; do
    echo "dispatch/$c/ours $(( $(per "$ic" route_handlers/$c) - req ))"
    echo "dispatch/$c/axum $(( $(per "$ic" axum_method_router/$c) - req ))"
  done
  for kind in static dynamic; do
    echo "table-1000/$kind/ours $(( $(rper table-dispatch-$kind) - $(rper table-req-only-$kind) ))"
    echo "table-1000/$kind/axum $(( $(rper axum-dispatch-$kind) - $(rper axum-req-only-$kind) ))"
  done
  for v in "${cache_variants[@]}"; do
    local name=${v%%:*} old=${v#*:} count
    count=$(per "$ci" "$name" 2>/dev/null) || { [[ -n $old ]] && count=$(per "$ci" "$old" 2>/dev/null); } || count=0
    echo "cache/$name ${count:-0}"
  done
}

measure "$base_target" > "$wt/base.txt"
measure "$target" > "$wt/new.txt"
printf '%-32s %10s %10s %8s\n' "measure" "$(git rev-parse --short "$base")" "$(git rev-parse --short HEAD)+" "change"
paste -d ' ' "$wt/base.txt" "$wt/new.txt" | while read -r what a _ b; do
  if [[ $a -eq 0 ]]; then
    printf '%-32s %10s %10d %8s\n' "$what" - "$b" -
  else
    printf '%-32s %10d %10d %+7.1f%%\n' "$what" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) * 100 / a }')"
  fi
done
