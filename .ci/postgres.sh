#!/usr/bin/env bash
# Install (if needed) and start a local PostgreSQL server for the test suite,
# ensure role/db "territory"/"territory_test" exist, and print the SQLAlchemy
# URL as the ONLY line on stdout (everything else goes to stderr).
# Idempotent: safe to run again while the cluster is already up.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo -E bash "$0" "$@"   # needs root (apt, runuser)
exec 3>&1 1>&2                                      # fd 3 = real stdout
die() { echo "postgres.sh: ERROR: $*" >&2; exit 1; }
cd /                        # so the postgres user can always read the cwd

# 1. Install the server only if its binaries (or the Debian wrappers) are missing.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null \
   || ! command -v pg_ctlcluster >/dev/null; then
  echo "postgres.sh: installing postgresql via apt" >&2
  apt-get update -qq 3>&-
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql 3>&-
fi
VER=$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | awk -F/ '{print $5}' | sort -V | tail -n1 || true)
[ -n "$VER" ] || die "no PostgreSQL server found under /usr/lib/postgresql"

# 2. Cluster "main": create it if the package did not, then start it if down.
cluster() { pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main"'; }
[ -n "$(cluster)" ] || pg_createcluster "$VER" main 3>&-
PORT=$(cluster | awk '{print $3}')
case "$(cluster | awk '{print $4}')" in
  online*) echo "postgres.sh: cluster $VER/main already running on port $PORT" ;;
  # fd 3 closed: a daemon that inherits the caller's stdout pipe keeps `$(...)` waiting forever.
  *) pg_ctlcluster "$VER" main start </dev/null 3>&- \
       || { tail -n 30 "/var/log/postgresql/postgresql-$VER-main.log" || true
            die "pg_ctlcluster $VER main start failed (port $PORT)"; } ;;
esac

# 3. Wait (max 60 s) until it accepts TCP connections on loopback.
for _ in $(seq 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$PORT" \
  || die "PostgreSQL $VER/main did not accept connections on 127.0.0.1:$PORT within 60 s"

# 4. Role + database (via the unix socket as superuser "postgres").
psql_pg() { runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -p "$PORT" "$@"; }
if [ -z "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname='territory'")" ]; then
  psql_pg -c "CREATE ROLE territory"
fi
# (Re)set attributes + password every time; scram-sha-256 matches Debian's pg_hba.
psql_pg -c "ALTER ROLE territory WITH LOGIN CREATEDB PASSWORD 'territory'"
if [ -z "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname='territory_test'")" ]; then
  psql_pg -c "CREATE DATABASE territory_test OWNER territory"
fi

# 5. Prove password auth over TCP works, then hand out the URL.
PGPASSWORD=territory psql -X -q -At -h 127.0.0.1 -p "$PORT" -U territory \
  -d territory_test -c 'SELECT 1' >/dev/null \
  || die "password login as territory@127.0.0.1:$PORT failed (check pg_hba.conf)"
echo "postgresql+psycopg://territory:territory@127.0.0.1:$PORT/territory_test" >&3
