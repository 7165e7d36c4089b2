#!/usr/bin/env bash
# The management API under load (issue #13): tenant creations/s and user creations/s
# through the API on SQLite (the embedded default) and on PostgreSQL, then discovery req/s
# quiet and while the API writes one tenant per second. Prints every figure and the ratio
# of the medians; exits 1 when discovery under writes falls more than 10% below its quiet
# figure, or when a write was refused.
#
#   bench/management.sh [seconds] [--debug]     (default 10 s per measurement, release)
#
# --debug reuses the debug build `cargo test` made (slower figures). PostgreSQL is the one
# of TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test), in a schema of
# its own that is dropped at the end; skipped when it does not answer. CONNS (default 8)
# and THREADS (2) set wrk's load for the writes, DCONNS (64) for discovery, as run.sh;
# ROUNDS (3) how many quiet/writes pairs of discovery runs are taken.
# Needs wrk, curl and psql. Everything binds to 127.0.0.1 only; output goes to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=10; profile=release
for arg in "$@"; do
  case $arg in
    --debug) profile=debug ;;
    [0-9]*) secs=$arg ;;
    *) echo "usage: $0 [SECONDS] [--debug]" >&2; exit 2 ;;
  esac
done
conns=${CONNS:-8}; threads=${THREADS:-2}; dconns=${DCONNS:-64}
out=bench/out; mkdir -p "$out"
if [ "$profile" = release ]; then
  cargo build --release --quiet --bin realmgate
  bin=target/release
else
  cargo build --quiet --bin realmgate
  bin=target/debug
fi

pg_base=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
schema="bench_mgmt_$$_$(date +%s)"
pg=""
if psql "$pg_base" -qAtc "CREATE SCHEMA $schema" >/dev/null 2>&1; then
  pg=1
fi
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$pg" ] && psql "$pg_base" -qAtc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/domains"
cp domains/* "$work/domains/"

# Refusals of the management API are logged at info: a refused write names its reason.
export REALMGATE_DOMAINS_DIR="$work/domains" RUST_LOG=warn,realmgate::web::api=info \
  REALMGATE_LOGIN_ATTEMPTS_PER_MINUTE=1000000000 REALMGATE_LOCKOUT_AFTER_FAILURES=1000000000
# gateway NAME PORT [DATABASE_URL]: starts it (a job of this shell, so the trap stops it),
# waits for /healthz, and sets token_NAME to a new operator token.
gateway() {
  local name=$1 port=$2 db=${3:-}
  local env=(REALMGATE_DATA_DIR="$work/data-$name")
  [ -n "$db" ] && env+=(REALMGATE_DATABASE_URL="$db")
  env "${env[@]}" REALMGATE_LISTEN="127.0.0.1:$port" REALMGATE_PUBLIC_URL="http://127.0.0.1:$port" \
    REALMGATE_METRICS_LISTEN="127.0.0.1:$((port + 1000))" "$bin/realmgate" serve >"$out/management-$name.log" 2>&1 &
  for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || { echo "management.sh: gateway $name did not start" >&2; exit 1; }
  local token; token=$(env "${env[@]}" "$bin/realmgate" token create --name "bench-$name" 2>/dev/null)
  eval "token_$name=$token"
}
gateway sqlite 18180
sep='?'; case $pg_base in *\?*) sep='&' ;; esac
[ -n "$pg" ] && gateway postgres 18182 "$pg_base${sep}options=-c%20search_path%3D$schema"

# A wrk script POSTing JSON made unique per thread and request: writes(NAME TOKEN PATH BODY)
# where BODY is Lua building the JSON from `key` (run, thread and counter).
writes() {
  cat >"$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  n = n + 1
  local key = "$1-" .. tid .. "-" .. n
  return wrk.format(nil, "$3", nil, $4)
end
LUA
}
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

failed=0
run() { # name url script connections -> prints req/s, p50, p99, non-2xx; sets rps_<name>
  local name=$1 url=$2 script=$3 c=$4
  wrk -t"$threads" -c"$c" -d"${secs}s" --latency -s "$script" "$url" >"$out/management-$name.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/management-$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$out/management-$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$out/management-$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/management-$name.txt")
  printf '%-34s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
  eval "rps_$name=$rps"
  if [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then failed=1; fi
}

echo "== $(nproc) cores, $(date -u +%FT%TZ), profile $profile, ${secs}s each, writes at $conns connections =="
for db in sqlite ${pg:+postgres}; do
  port=$([ "$db" = sqlite ] && echo 18180 || echo 18182)
  tok=$(eval echo "\$token_$db")
  writes "t$db" "$tok" /api/v1/tenants "'{\"account\":\"' .. key .. '\",\"domains\":[\"' .. key .. '.bench.example\"]}'"
  run "tenants_$db" "http://127.0.0.1:$port" "$work/t$db.lua" "$conns"
  writes "u$db" "$tok" /api/v1/tenants/fabrikam/users "'{\"email\":\"' .. key .. '@fabrikam.com\"}'"
  run "users_$db" "http://127.0.0.1:$port" "$work/u$db.lua" "$conns"
done

# Discovery quiet and while one tenant a second is created, alternated ROUNDS times
# (default 3) and compared median to median, so a drift of the shared machine's load during
# the run does not pass for the writes' cost.
rounds=${ROUNDS:-3}
writer() { # port token db round: one tenant creation per second until killed, each status logged
  local i=0
  while :; do
    i=$((i + 1))
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $2" -H 'content-type: application/json' \
      -d "{\"account\":\"w$3-$4-$i\",\"domains\":[\"w$3-$4-$i.bench.example\"]}" "http://127.0.0.1:$1/api/v1/tenants" >>"$out/management-writer-$3.txt"
    sleep 1
  done
}
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
status=0
for db in sqlite ${pg:+postgres}; do
  port=$([ "$db" = sqlite ] && echo 18180 || echo 18182)
  tok=$(eval echo "\$token_$db")
  : >"$out/management-writer-$db.txt"
  echo "== discovery on $db, $dconns connections: quiet, then while the API writes 1 tenant/s, $rounds times =="
  quiet=""; loaded=""
  for r in $(seq "$rounds"); do
    run "discovery_${db}_quiet_$r" "http://127.0.0.1:$port" "$work/discover.lua" "$dconns"
    quiet="$quiet $(eval echo "\$rps_discovery_${db}_quiet_$r")"
    writer "$port" "$tok" "$db" "$r" &
    wpid=$!
    run "discovery_${db}_writes_$r" "http://127.0.0.1:$port" "$work/discover.lua" "$dconns"
    kill "$wpid"; wait "$wpid" 2>/dev/null || true
    loaded="$loaded $(eval echo "\$rps_discovery_${db}_writes_$r")"
  done
  written=$(grep -c '^201$' "$out/management-writer-$db.txt" || true)
  refused=$(grep -vc '^201$' "$out/management-writer-$db.txt" || true)
  awk -v q="$(echo $quiet | median)" -v w="$(echo $loaded | median)" -v n="$written" -v r="$refused" -v db="$db" 'BEGIN {
    ratio = w / q
    printf "discovery under writes / quiet (%s, medians %.0f / %.0f req/s): %.3f  (%d tenants written, %d refused)\n", db, w, q, ratio, n, r
    exit (ratio < 0.90 || r > 0) ? 1 : 0
  }' || status=1
done
[ "$failed" = 0 ] || { echo "management.sh: some API writes were refused (non-2xx above)" >&2; status=1; }
[ "$status" = 0 ] || echo "management.sh: FAILED (discovery fell more than 10% under writes, or writes were refused)" >&2
exit "$status"
