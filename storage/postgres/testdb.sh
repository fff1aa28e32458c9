# shellcheck shell=bash
# Sourced by .ci/run (and usable by hand: `source storage/postgres/testdb.sh`).
# Finds a Postgres for the storage tests and exports FLOWSYNC_TEST_POSTGRES_URL:
#   1. FLOWSYNC_TEST_POSTGRES_URL if already set;
#   2. the local default postgres://postgres@127.0.0.1:5432/test if it answers;
#   3. else, if initdb/pg_ctl are installed, a throwaway cluster in a temp dir on a free
#      port (trust auth), stopped and removed when the sourcing shell exits.
# Otherwise it exports nothing: the Postgres tests skip, or fail when CI is set.

flowsync_testdb() {
  local default="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
  if [ -n "${FLOWSYNC_TEST_POSTGRES_URL:-}" ]; then
    echo "postgres: using FLOWSYNC_TEST_POSTGRES_URL"
    return 0
  fi
  if command -v psql >/dev/null 2>&1 && psql "$default" -Atqc 'select 1' >/dev/null 2>&1; then
    export FLOWSYNC_TEST_POSTGRES_URL=$default
    echo "postgres: using the local default $default"
    return 0
  fi
  local bindir="" d
  if command -v initdb >/dev/null 2>&1; then
    bindir=$(dirname "$(readlink -f "$(command -v initdb)")")
  else
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
  fi
  if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "postgres: none found and initdb is not installed; Postgres tests will skip (fail if CI is set)"
    return 0
  fi

  # initdb refuses to run as root: run the cluster as the postgres user (or a
  # dedicated one) when we are root.
  local as=() owner
  owner=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    owner=postgres
    if ! id "$owner" >/dev/null 2>&1; then
      owner=flowsync-pg
      id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
    fi
    as=(runuser -u "$owner" --)
  fi
  local dir port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/flowsync-pg.XXXXXX")
  chown "$owner" "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
  "${as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log"; return 1; }
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null ||
    { cat "$dir/server.log"; return 1; }
  FLOWSYNC_TESTDB_STOP="'$bindir/pg_ctl' -D '$dir/data' -m immediate -w stop >/dev/null 2>&1; rm -rf '$dir'"
  if [ ${#as[@]} -gt 0 ]; then
    FLOWSYNC_TESTDB_STOP="runuser -u '$owner' -- $FLOWSYNC_TESTDB_STOP"
  fi
  # shellcheck disable=SC2064 # expand now: the paths are fixed
  trap "$FLOWSYNC_TESTDB_STOP" EXIT
  "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc 'CREATE DATABASE test' postgres >/dev/null
  export FLOWSYNC_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
  echo "postgres: started a throwaway cluster on port $port in $dir (removed on exit)"
}

flowsync_testdb
