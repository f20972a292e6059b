#!/usr/bin/env bash
# Start a local PostgreSQL for the atauth-store contract tests.
#
# For a Debian machine (CI runner or container) running as root. Idempotent:
# installs PostgreSQL if missing, creates a cluster on 127.0.0.1:5432 if
# there is none, starts it, waits until it accepts connections, and makes
# sure the role atauth (password atauth, LOGIN CREATEDB) can sign in over
# TCP with a password.
#
# The only thing written to stdout is the line to eval:
#
#   eval "$(bash .ci/start-postgres.sh)"
#   cargo test -p atauth-store
#
# Everything else goes to stderr.

set -euo pipefail

# Keep the real stdout on fd 3 for the final export line; send all other
# output (ours and every tool's) to stderr.
exec 3>&1 1>&2

PORT=5432
ROLE=atauth
PASSWORD=atauth
URL="postgres://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/postgres"

log() { printf 'start-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and start the cluster)"

# Run a command as the postgres OS user.
as_postgres() {
    if command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        local quoted
        printf -v quoted '%q ' "$@"
        su postgres -s /bin/sh -c "$quoted"
    fi
}

# psql as the superuser over the local socket of our cluster.
psql_admin() {
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"
}

# Newest installed server version (the directory name under /usr/lib/postgresql).
newest_version() {
    local v best=""
    for d in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$d" ] || continue
        v=${d#/usr/lib/postgresql/}
        v=${v%%/*}
        if [ -z "$best" ] || [ "$v" -gt "$best" ] 2>/dev/null; then best=$v; fi
    done
    printf '%s' "$best"
}

# 1. Install if the server or libpq headers are missing.
need_install=0
command -v pg_lsclusters >/dev/null 2>&1 || need_install=1
command -v pg_ctlcluster >/dev/null 2>&1 || need_install=1
[ -n "$(newest_version)" ] || need_install=1
command -v pg_config >/dev/null 2>&1 || need_install=1
if [ "$need_install" -eq 1 ]; then
    log "installing postgresql and libpq-dev"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends postgresql libpq-dev
fi

# 2. Find the cluster on our port, or create one.
cluster_line() {
    pg_lsclusters --no-header 2>/dev/null | awk -v port="$PORT" '$3 == port { print; exit }'
}
line=$(cluster_line)
if [ -z "$line" ]; then
    version=$(newest_version)
    [ -n "$version" ] || die "no PostgreSQL server binaries found under /usr/lib/postgresql"
    name=main
    if pg_lsclusters --no-header 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main" { found=1 } END { exit !found }'; then
        name=atauth
    fi
    log "creating cluster $version/$name on port $PORT"
    pg_createcluster -p "$PORT" "$version" "$name"
    line=$(cluster_line)
    [ -n "$line" ] || die "pg_createcluster did not create a cluster on port $PORT"
fi
read -r version name _port status _rest <<<"$line"
log "using cluster $version/$name (port $PORT, status $status)"

# 3. Start it if it is not running.
install -d -o postgres -g postgres -m 2775 /var/run/postgresql
case "$status" in
    online*) ;;
    *)
        log "starting cluster $version/$name"
        # The server is a daemon: it must not inherit our stdout (fd 3, the
        # pipe of the caller's `$(...)`, which would then never see EOF) nor
        # the caller's stderr (which would keep a CI log open after we exit).
        start_log=$(mktemp)
        if ! pg_ctlcluster "$version" "$name" start </dev/null >"$start_log" 2>&1 3>&-; then
            cat "$start_log" >&2
            rm -f "$start_log"
            die "pg_ctlcluster $version $name start failed"
        fi
        cat "$start_log" >&2
        rm -f "$start_log"
        ;;
esac

# 4. Wait until it accepts TCP connections on 127.0.0.1.
for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$PORT"; then break; fi
    sleep 1
done
pg_isready -h 127.0.0.1 -p "$PORT" || die "PostgreSQL is not accepting connections on 127.0.0.1:$PORT"

# 5. The role: create it, or reset its attributes and password.
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" = "1" ]; then
    log "role $ROLE exists; making sure it can log in and create databases"
    psql_admin -c "ALTER ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD'"
else
    log "creating role $ROLE"
    psql_admin -c "CREATE ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi

# 6. Password sign-in over TCP. Debian's default pg_hba.conf allows
# scram-sha-256 from 127.0.0.1; if this cluster's does not, put a line for
# our role first and reload.
can_login() {
    PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=5 \
        psql -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -tAc 'SELECT 1' >/dev/null 2>&1
}
if ! can_login; then
    hba=$(psql_admin -tAc 'SHOW hba_file')
    [ -f "$hba" ] || die "cannot find pg_hba.conf (got '$hba')"
    log "password login over TCP failed; allowing $ROLE from 127.0.0.1 in $hba"
    rule="host    all    $ROLE    127.0.0.1/32    scram-sha-256"
    if ! grep -qxF "$rule" "$hba"; then
        tmp=$(mktemp)
        { printf '# added by atauth .ci/start-postgres.sh\n%s\n' "$rule"; cat "$hba"; } >"$tmp"
        cat "$tmp" >"$hba"
        rm -f "$tmp"
    fi
    psql_admin -c "ALTER ROLE $ROLE WITH PASSWORD '$PASSWORD'"
    psql_admin -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 1
    can_login || die "role $ROLE still cannot log in over TCP on 127.0.0.1:$PORT"
fi
log "ready: $ROLE can sign in on 127.0.0.1:$PORT"

echo "export ATAUTH_TEST_POSTGRES_URL=$URL" >&3
