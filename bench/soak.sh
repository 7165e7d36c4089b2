#!/usr/bin/env bash
# Load and soak with fault injection (issue #6): two gateway instances on loopback sharing a
# Redis and a PostgreSQL that this script starts on free ports of its own, a paced mixed
# workload (discovery, SSO start, ACS signed by the test IdP, forward-auth, password logins)
# for a bounded time, and mid-run faults: Redis stopped and restarted, PostgreSQL
# connections killed, PostgreSQL stopped and restarted, a bad file in domains/, SIGTERM to
# one instance under load. bench/soak.rs does the load and the checks; this script builds
# and sets up. Prints per-route figures and a table of targets; exits 1 when one is missed.
#
#   bench/soak.sh [SECONDS] [--debug]     (default 600 s, release build)
#
# --debug reuses the debug build `cargo test` made (CI). RATE (operations/s), WORKERS and
# OUTAGE (seconds per backend outage) override the defaults. Logs stay in bench/out/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."

# `soak.sh ctl redis|pg ...`: the fault injector soak.rs calls, with the state exported below.
if [ "${1:-}" = ctl ]; then
  case "$2 $3" in
    "redis stop") redis-cli -p "$SOAK_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
                  while redis-cli -p "$SOAK_REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done ;;
    "redis start") redis-server --port "$SOAK_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
                     --daemonize yes --dir "$SOAK_WORK" --logfile "$SOAK_WORK/redis.log" ;;
    "pg stop") $SOAK_AS_PG "$SOAK_PGBIN/pg_ctl" -D "$SOAK_WORK/pg" -m fast -w stop >/dev/null ;;
    "pg start") $SOAK_AS_PG "$SOAK_PGBIN/pg_ctl" -D "$SOAK_WORK/pg" -l "$SOAK_WORK/pgrun/pg.log" -w \
                  -o "-p $SOAK_PG_PORT -k $SOAK_WORK/pgrun -c listen_addresses=127.0.0.1" start >/dev/null ;;
    "pg terminate") psql -q -h 127.0.0.1 -p "$SOAK_PG_PORT" -U postgres -d postgres -Atc \
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null ;;
    *) echo "usage: $0 ctl redis|pg stop|start|terminate" >&2; exit 2 ;;
  esac
  exit 0
fi

secs=600; profile=release
for arg in "$@"; do
  case $arg in
    --debug) profile=debug ;;
    [0-9]*) secs=$arg ;;
    *) echo "usage: $0 [SECONDS] [--debug]" >&2; exit 2 ;;
  esac
done
if [ "$profile" = release ]; then
  cargo build --release --quiet --bin realmgate --example soak
  bin=target/release
else
  cargo build --quiet --bin realmgate --example soak
  bin=target/debug
fi
# Release gateways take more load; a debug build on a shared CI core takes less.
rate=${RATE:-$([ "$profile" = release ] && echo 150 || echo 40)}
outage=${OUTAGE:-$(( secs / 60 > 3 ? (secs / 60 < 15 ? secs / 60 : 15) : 3 ))}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/realmgate-soak.XXXXXX)
chmod 755 "$work"   # the PostgreSQL server runs as user postgres
out=bench/out/soak; mkdir -p "$out"
export SOAK_WORK=$work SOAK_REDIS_PORT=$(free_port) SOAK_PG_PORT=$(free_port)
export SOAK_PGBIN; SOAK_PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# initdb and the server refuse to run as root.
export SOAK_AS_PG=""; [ "$(id -u)" -eq 0 ] && SOAK_AS_PG="runuser -u postgres --"
cleanup() {
  redis-cli -p "$SOAK_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  $SOAK_AS_PG "$SOAK_PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  cp "$work"/*.log "$work"/pgrun/*.log "$out/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bench/soak.sh ctl redis start
# Its data, socket and log in directories of its own (it runs as postgres when we are root).
mkdir "$work/pg" "$work/pgrun"; [ -n "$SOAK_AS_PG" ] && chown postgres "$work/pg" "$work/pgrun"
$SOAK_AS_PG "$SOAK_PGBIN/initdb" -D "$work/pg" -U postgres --auth=trust >"$work/initdb.log"
bench/soak.sh ctl pg start

# Tenants: contoso signs in with the test IdP of tests/testdata/saml, fabrikam by password.
mkdir -p "$work/domains" "$work/data"
cp tests/testdata/saml/idp-metadata.xml "$work/domains/contoso.idp.xml"
cat >"$work/domains/contoso.toml" <<'TOML'
account = "contoso"
name = "Contoso Ltd"
domains = ["contoso.com"]

[sso]
idp_metadata = "contoso.idp.xml"
jit = "deny"
email_claim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
TOML
printf 'account = "fabrikam"\nname = "Fabrikam"\ndomains = ["fabrikam.com"]\n' >"$work/domains/fabrikam.toml"

port_a=$(free_port); port_b=$(free_port)
export REALMGATE_PUBLIC_URL="http://127.0.0.1:$port_a" REALMGATE_DOMAINS_DIR="$work/domains" \
  REALMGATE_DATA_DIR="$work/data" REALMGATE_SECRET="soak-shared-secret-of-the-fleet-0123456789" \
  REALMGATE_DATABASE_URL="postgres://postgres@127.0.0.1:$SOAK_PG_PORT/postgres" \
  REALMGATE_SESSION_STORE="redis://127.0.0.1:$SOAK_REDIS_PORT" \
  REALMGATE_LOGIN_ATTEMPTS_PER_MINUTE=1000000000 REALMGATE_LOCKOUT_AFTER_FAILURES=1000000000 \
  RUST_LOG=warn

# Users, with the CLI: password users one by one, SSO users by CSV import.
sso_users=200; password_users=8; password="soak-password-1"
for i in $(seq "$password_users"); do
  echo "$password" | "$bin/realmgate" user add --account fabrikam --email "pw$i@fabrikam.com" --password-stdin >/dev/null
done
{ echo "email,name,admin"; for i in $(seq "$sso_users"); do echo "sso$i@contoso.com,SSO user $i,false"; done; } >"$work/users.csv"
"$bin/realmgate" user import "$work/users.csv" >/dev/null

"$bin/examples/soak" --bin "$bin/realmgate" --work "$work" --ctl "bench/soak.sh ctl" \
  --seconds "$secs" --ports "$port_a" "$port_b" --redis-port "$SOAK_REDIS_PORT" \
  --rate "$rate" --workers "${WORKERS:-32}" --outage "$outage" \
  --idp-key tests/testdata/saml/idp-key.pem --sso-users "$sso_users" \
  --password-users "$password_users" --password "$password"
