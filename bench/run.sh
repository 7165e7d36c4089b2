#!/usr/bin/env bash
# Loads the running gateway over loopback and compares it with a bare hyper hello-world
# measured in the same run. Prints req/s, the ratio, and p50/p99 latency at 64 connections.
#
#   bench/run.sh [seconds]        (default 10 s per target)
#
# Needs wrk (scripts/setup.sh installs it). Everything binds to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${CONNS:-64}
threads=${THREADS:-2}
out=bench/out; mkdir -p "$out"

cargo build --release --quiet --bin realmgate --example hello --example bigmap
bin=target/release

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cp domains/* "$work/" 2>/dev/null || true
mkdir -p "$work/data"

"$bin/examples/hello" 127.0.0.1:18089 2>/dev/null &
REALMGATE_LISTEN=127.0.0.1:18080 REALMGATE_PUBLIC_URL=http://127.0.0.1:18080 \
REALMGATE_DOMAINS_DIR="$work" REALMGATE_DATA_DIR="$work/data" RUST_LOG=warn \
  "$bin/realmgate" serve >"$out/gateway.log" 2>&1 &
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18080/healthz && break; sleep 0.1; done
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18089/ && break; sleep 0.1; done

cat >"$work/discover.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local emails = {"alice@contoso.com", "bob@fabrikam.com", "carol@unknown.example", "dan@eu.contoso.com"}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "/api/v1/discover", nil, '{"email":"' .. emails[(i % #emails) + 1] .. '"}')
end
LUA

run() { # name url [script]
  local name=$1 url=$2 script=${3:-}
  local args=(-t"$threads" -c"$conns" -d"${secs}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$url" >"$out/$name.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$out/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$out/$name.txt")
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $4}' "$out/$name.txt")
  printf '%-22s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
  eval "rps_$name=$rps"
}

echo "== loopback, $conns connections, $threads wrk threads, ${secs}s each, $(nproc) cores =="
run hello http://127.0.0.1:18089/
run discovery http://127.0.0.1:18080 "$work/discover.lua"
run healthz http://127.0.0.1:18080/healthz
awk -v a="$rps_discovery" -v b="$rps_hello" 'BEGIN { printf "discovery / hello-world ratio: %.2f\n", a / b }'
awk -v a="$rps_healthz" -v b="$rps_hello" 'BEGIN { printf "healthz / hello-world ratio:   %.2f\n", a / b }'

if [ -z "${SKIP_BIGMAP:-}" ]; then
  echo "== tenant map scale (bench/bigmap.rs) =="
  "$bin/examples/bigmap" "${BIGMAP_SIZE:-1000000}"
fi
