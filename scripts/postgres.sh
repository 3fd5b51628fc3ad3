#!/usr/bin/env bash
# Makes sure a local PostgreSQL is installed and running, with a role `c2c` (password `c2c`)
# that may create databases (each storage test makes its own and drops it). Prints the URL
# tests connect to. Idempotent and quick when everything is already there.
set -euo pipefail
say() { echo "postgres: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi; }

# Only the URL goes to stdout (callers capture it): what the tools print goes to stderr, and
# the server started here must not inherit the caller's capture pipe.
{
if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  say "installing postgresql (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

cluster="$(pg_lsclusters -h | head -n 1)"
if [ -z "$cluster" ]; then
  ver="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  say "creating cluster $ver/main"
  as_root pg_createcluster "$ver" main >/dev/null
  cluster="$(pg_lsclusters -h | head -n 1)"
fi
read -r ver name port status _ <<<"$cluster"
if [ "$status" != "online" ]; then
  say "starting cluster $ver/$name on port $port"
  # After an unclean stop the old server's children may hold the socket lock a moment longer.
  for try in 1 2 3; do
    as_root pg_ctlcluster "$ver" "$name" start && break
    [ "$try" -lt 3 ] || { say "could not start $ver/$name: see /var/log/postgresql"; exit 1; }
    sleep 2
  done
fi
for _ in $(seq 1 50); do
  as_postgres "psql -p $port -qtAc 'SELECT 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
if [ "$(as_postgres "psql -p $port -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'c2c'\"")" != "1" ]; then
  say "creating role c2c"
  as_postgres "psql -p $port -qc \"CREATE ROLE c2c LOGIN PASSWORD 'c2c' CREATEDB\""
fi
} >&2
echo "postgres://c2c:c2c@127.0.0.1:$port/postgres"
