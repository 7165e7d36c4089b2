#!/usr/bin/env bash
# Console page render time with 10,000 users in the account: builds the `console_bench`
# example and runs it (seeds the users through the management operation, signs an admin
# in, fetches each console page sequentially over loopback many times) and prints the
# p50 / p95 / max per page; fails when a page's p95 is over the 5 ms budget.
#
#   bench/console.sh [users] [samples]       (defaults: 10000, 300)
#   PROFILE=dev bench/console.sh             (reuse the debug build; slower figures)
#
# Output goes to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10000}
samples=${2:-300}
profile=${PROFILE:-release}
budget_ms=${BUDGET_MS:-5}
out=bench/out; mkdir -p "$out"

cargo build --profile "$profile" --quiet --example console_bench
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")

echo "== $(nproc) cores, $(date -u +%FT%TZ), profile $profile, $users users, $samples samples =="
"target/$dir/examples/console_bench" "$users" "$samples" | tee "$out/console.txt"

awk -v budget="$budget_ms" '
  NF == 5 && $2 ~ /^[0-9.]+$/ {
    n++; if ($3 > budget) { over++; printf "over budget: %s p95 %.3f ms\n", $1, $3 }
  }
  END {
    if (n == 0) { print "console.sh: no page figures" > "/dev/stderr"; exit 1 }
    printf "\n%d pages, p95 budget %s ms: %s\n", n, budget, over ? over " over" : "all within"
    exit over ? 1 : 0
  }' "$out/console.txt" | tee "$out/console_summary.txt"
