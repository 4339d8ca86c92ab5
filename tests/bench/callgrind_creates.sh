#!/usr/bin/env bash
# callgrind_creates.sh - instructions rapport-leads spends on N durable creates,
# counted by valgrind's callgrind: deterministic, so it measures a change even on
# a machine too busy for wall-clock figures (docs/PERFORMANCE.md).
#
#   tests/bench/callgrind_creates.sh [BUILD_DIR] [N] [IN_FLIGHT]   # build 2000 64
#
# It starts rapport-leads under callgrind with fresh keys and data in a temporary
# directory (CURVE on, a JWT on every request), imports an N-row CSV with
# `rapport import leads` at IN_FLIGHT requests in flight, stops the service with
# SIGTERM and prints the instructions of the whole process (all threads). Run it
# once with N=0 for the cost of start-up and shutdown; per create is
# (total - that) / N. The profile is kept as callgrind.out.creates for
# callgrind_annotate.
set -euo pipefail
build=${1:-build}
n=${2:-2000}
inflight=${3:-64}
out=${CALLGRIND_OUT:-callgrind.out.creates}
command -v valgrind >/dev/null || { echo "callgrind_creates.sh: valgrind is not installed" >&2; exit 2; }
[ -x "$build/bin/rapport-leads" ] || { echo "callgrind_creates.sh: no $build/bin/rapport-leads" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/rapport-cg.XXXXXX")
svc=""
cleanup() {
  if [ -n "$svc" ] && kill -0 "$svc" 2>/dev/null; then kill -TERM "$svc"; wait "$svc" || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

export RAPPORT_KEYS=$dir/keys RAPPORT_DATA=$dir/data RAPPORT_LOG_LEVEL=warn
port=$((20000 + RANDOM % 20000))
export RAPPORT_LEADS_ENDPOINT=tcp://127.0.0.1:$port
"$build/bin/rapport" keys init >/dev/null 2>&1
RAPPORT_TOKEN=$("$build/bin/rapport" token mint --sub bench --role manager --branch hq)
export RAPPORT_TOKEN

{
  echo "company,tax_id,region,industry,source,campaign,value,currency"
  for ((i = 0; i < n; i++)); do
    printf 'Bench Company %d,BN%07d,North,Manufacturing,cold_call,bench,12500.00,EUR\n' "$i" "$i"
  done
} > "$dir/leads.csv"

valgrind --tool=callgrind --separate-threads=no --callgrind-out-file="$out" \
  "$build/bin/rapport-leads" --bind "tcp://127.0.0.1:$port" --pub "tcp://127.0.0.1:$((port + 1))" \
  --http off 2> "$dir/valgrind.log" &
svc=$!
for _ in $(seq 1 300); do [ -f "$dir/data/leads/endpoints" ] && break; sleep 0.1; done
[ -f "$dir/data/leads/endpoints" ] || { echo "callgrind_creates.sh: the service did not start" >&2; cat "$dir/valgrind.log" >&2; exit 1; }
if [ "$n" -gt 0 ]; then
  "$build/bin/rapport" --timeout 300s import leads "$dir/leads.csv" --in-flight "$inflight" > "$dir/import.log" 2>&1 \
    || { echo "callgrind_creates.sh: the import failed" >&2; tail -5 "$dir/import.log" >&2; exit 1; }
fi
kill -TERM "$svc"
wait "$svc" || true
svc=""
total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$dir/valgrind.log")
echo "creates: $n at $inflight in flight; instructions (all threads): $total; profile: $out"
