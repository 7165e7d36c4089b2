#!/usr/bin/env bash
# Loads the running gateway over loopback and compares it with a bare hyper hello-world
# measured in the same run. Prints req/s, the ratio, and p50/p99 latency at 64 connections.
#
#   bench/run.sh [seconds]        (default 10 s per target)
#
# Needs wrk (scripts/test.sh installs it). Everything binds to 127.0.0.1 only.
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

export REALMGATE_DOMAINS_DIR="$work" REALMGATE_DATA_DIR="$work/data" RUST_LOG=warn \
  REALMGATE_LOGIN_ATTEMPTS_PER_MINUTE=1000000000 REALMGATE_LOCKOUT_AFTER_FAILURES=1000000000
"$bin/examples/hello" 127.0.0.1:18089 2>/dev/null &
# Gateway A: embedded defaults (memory sessions, SQLite).
REALMGATE_LISTEN=127.0.0.1:18080 REALMGATE_PUBLIC_URL=http://127.0.0.1:18080 \
  REALMGATE_METRICS_LISTEN=127.0.0.1:19080 "$bin/realmgate" serve >"$out/gateway.log" 2>&1 &
# Gateway B: sessions in Redis (skipped when no Redis answers on 127.0.0.1:6379), in a
# database of its own (9), emptied first: the tests' lockouts of 127.0.0.1 in database 0
# would otherwise refuse the benchmark's login.
redis=""
if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis=1
  redis-cli -h 127.0.0.1 -p 6379 -n 9 flushdb >/dev/null
  REALMGATE_LISTEN=127.0.0.1:18081 REALMGATE_PUBLIC_URL=http://127.0.0.1:18081 \
  REALMGATE_METRICS_LISTEN=127.0.0.1:19081 REALMGATE_SESSION_STORE=redis://127.0.0.1:6379/9 REALMGATE_DATA_DIR="$work/data-redis" \
    "$bin/realmgate" serve >"$out/gateway-redis.log" 2>&1 &
fi
for port in 18080 18089 ${redis:+18081}; do
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
done

# A password user and a signed-in session on each gateway, for /auth/verify and logins.
echo "bench-password-1" | "$bin/realmgate" user add --account fabrikam --email bench@fabrikam.com --password-stdin >/dev/null
[ -n "$redis" ] && echo "bench-password-1" | REALMGATE_DATA_DIR="$work/data-redis" \
  "$bin/realmgate" user add --account fabrikam --email bench@fabrikam.com --password-stdin >/dev/null
login() { # port -> prints "session-cookie csrf-cookie csrf-token"
  local jar="$work/jar-$1"
  local token; token=$(curl -fsS -c "$jar" "http://127.0.0.1:$1/" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
  curl -fsS -o /dev/null -b "$jar" -c "$jar" -d "email=bench@fabrikam.com&password=bench-password-1&csrf=$token" \
    "http://127.0.0.1:$1/login/password"
  local session; session=$(awk '$6=="realmgate_session" {print $7}' "$jar")
  # Without a session every /auth/verify answers 401 and the figures would measure that.
  [ -n "$session" ] || { echo "run.sh: the password login on port $1 failed" >&2; exit 1; }
  echo "$session $(awk '$6=="realmgate_csrf" {print $7}' "$jar") $token"
}
read -r session_a csrf_a token_a <<<"$(login 18080)"
[ -n "$session_a" ] || exit 1
if [ -n "$redis" ]; then
  read -r session_b _ _ <<<"$(login 18081)"
  [ -n "$session_b" ] || exit 1
fi

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
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/$name.txt")
  printf '%-22s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
  eval "rps_$name=$rps"
}
# Sessions and logins answer 303 (redirect after login); count those as successes.

cat >"$work/verify.lua" <<LUA
wrk.headers["Cookie"] = "realmgate_session=$session_a"
LUA
cat >"$work/verify-redis.lua" <<LUA
wrk.headers["Cookie"] = "realmgate_session=${session_b:-}"
LUA
cat >"$work/password.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "realmgate_csrf=$csrf_a"
wrk.body = "email=bench%40fabrikam.com&password=bench-password-1&csrf=$token_a"
LUA

ratio() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%-34s %.2f\n", n, a / b }'; }
echo "== loopback, $conns connections, $threads wrk threads, ${secs}s each, $(nproc) cores =="
# The hello-world gets the same POSTs as discovery, so wrk (on the same cores) does the
# same work for both and the ratio compares the servers alone.
run hello http://127.0.0.1:18089 "$work/discover.lua"
run discovery http://127.0.0.1:18080 "$work/discover.lua"
run hello_get http://127.0.0.1:18089/auth/verify "$work/verify.lua"
run verify_memory http://127.0.0.1:18080/auth/verify "$work/verify.lua"
[ -n "$redis" ] && run verify_redis http://127.0.0.1:18081/auth/verify "$work/verify-redis.lua"
ratio "$rps_discovery" "$rps_hello" "discovery / hello-world:"
ratio "$rps_verify_memory" "$rps_hello_get" "/auth/verify (memory) / hello-world:"
[ -n "$redis" ] && ratio "$rps_verify_redis" "$rps_hello_get" "/auth/verify (redis) / hello-world:"

echo "== password logins (Argon2id, m=19456 KiB t=2 p=1) and discovery under that load =="
conns=16 run password http://127.0.0.1:18080/login/password "$work/password.lua" &
pw=$!
sleep 1
conns=8 run discovery_during_logins http://127.0.0.1:18080 "$work/discover.lua"
wait $pw

if [ -z "${SKIP_BIGMAP:-}" ]; then
  echo "== tenant map scale (bench/bigmap.rs) =="
  "$bin/examples/bigmap" "${BIGMAP_SIZE:-1000000}"
fi
