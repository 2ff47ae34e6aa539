# PostgreSQL for the tests (Debian's postgresql package), sourced by
# hack/servers-up.sh. The server runs as the postgres user when the scripts run
# as root (PostgreSQL refuses root), else as the caller; its data directory is
# STATE/postgres, it listens on 127.0.0.1:PORT (no Unix socket) and, when the
# node runs, on the node's bridge address too (pods reach it there: the outbox
# relays' e2e), password (SCRAM) authentication for everyone; from the bridge,
# only clients of the pod CIDR. Superuser "ew" owns database "ew"; its
# password is made per run and kept in STATE/postgres-secret/ (password, url),
# as a mounted Secret would hold it. Durability is traded for speed as with
# etcd (fsync off): the data is thrown away with STATE.
#
# initdb takes ~1.5 s here, so its result is cached once per PostgreSQL
# version (EW_CACHE/postgres-MAJOR-template, a bootstrap password beside it)
# and copied per run (~0.1 s); the per-run password is set after start.

PG_BIN_DIR=${PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

# postgresAs CMD...: CMD as the postgres user when root, else as the caller.
postgresAs() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi
}

# postgresInit STATE PORT [BRIDGE_IP POD_CIDR]: the data directory and its
# settings; sets POSTGRES_CMD. With BRIDGE_IP it listens there as well and
# admits POD_CIDR (never the machine's uplink).
postgresInit() {
  local state=$1 port=$2 bridge=${3:-} pods=${4:-} data=$1/postgres
  [ -x "$PG_BIN_DIR/initdb" ] || die "postgres: no initdb under /usr/lib/postgresql/*/bin (hack/deps.sh installs postgresql)"
  local major; major=$("$PG_BIN_DIR/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
  local template=$EW_CACHE/postgres-$major-template
  # The postgres user reaches its data directory, and the first time the
  # template it initializes, through STATE (mktemp -d makes it 700, as the
  # benchmarks' state directories are): traverse only. Before initdb: a
  # bench's first run on a fresh machine failed there.
  [ "$(id -u)" = 0 ] && chmod o+x "$state"
  if [ ! -d "$template/data" ]; then
    local tmp=$state/postgres-template
    mkdir -p "$tmp"
    openssl rand -hex 16 | tr -d '\n' > "$tmp/bootstrap-password"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$tmp"
    postgresAs "$PG_BIN_DIR/initdb" -D "$tmp/data" -U ew -A scram-sha-256 --pwfile="$tmp/bootstrap-password" \
      --wal-segsize=1 -N -E UTF8 --locale=C >"$state/logs/postgres-initdb.log" 2>&1 \
      || { tail -n 20 "$state/logs/postgres-initdb.log" >&2; die "postgres: initdb failed"; }
    mkdir -p "$EW_CACHE"
    cp -a "$tmp" "$template.$$" && { mv -T "$template.$$" "$template" 2>/dev/null || rm -rf "$template.$$"; }
    rm -rf "$tmp"
  fi
  cp -a "$template/data" "$data"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$data"
  chmod 700 "$data"
  cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1${bridge:+,$bridge}'
port = $port
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
log_min_messages = warning
CONF
  printf 'host all all 127.0.0.1/32 scram-sha-256\n' > "$data/pg_hba.conf"
  [ -z "$bridge" ] || printf 'host all all %s scram-sha-256\n' "$pods" >> "$data/pg_hba.conf"
  mkdir -p "$state/postgres-secret"
  cp "$template/bootstrap-password" "$state/postgres-secret/password"
  POSTGRES_CMD=("$PG_BIN_DIR/postgres" -D "$data")
  [ "$(id -u)" = 0 ] && POSTGRES_CMD=(setpriv --reuid=postgres --regid=postgres --init-groups "${POSTGRES_CMD[@]}")
  return 0
}

# postgresUrl STATE PORT: the libpq URI of database ew as user ew (with its password).
postgresUrl() { echo "postgresql://ew:$(cat "$1/postgres-secret/password")@127.0.0.1:$2/ew"; }

# postgresReady STATE PORT: true once the server answers; the first time, it
# gives user ew a password of this run and creates database ew.
postgresReady() {
  local state=$1 port=$2 secret=$1/postgres-secret
  if [ ! -f "$secret/url" ]; then
    PGPASSWORD=$(cat "$secret/password") PGCONNECT_TIMEOUT=2 psql -X -q -v ON_ERROR_STOP=1 \
      -h 127.0.0.1 -p "$port" -U ew -d postgres -c 'select 1' >/dev/null 2>&1 || return 1
    local fresh; fresh=$(openssl rand -hex 16 | tr -d '\n')
    PGPASSWORD=$(cat "$secret/password") psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U ew -d postgres \
      -c "alter role ew password '$fresh'" -c 'create database ew strategy file_copy' >/dev/null || return 1
    printf '%s' "$fresh" > "$secret/password"
    postgresUrl "$state" "$port" | tr -d '\n' > "$secret/url"
    chmod 600 "$secret/password" "$secret/url"
  fi
  psql -X -q "$(cat "$secret/url")" -c 'select 1' >/dev/null 2>&1
}
