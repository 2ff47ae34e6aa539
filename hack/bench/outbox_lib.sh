# Shared by hack/bench/outbox_*.sh. Source it after runtime_lib.sh (which
# gives the servers, RUNTIME, RT_PID, metric, freePort); needs WORK.
command -v kcat >/dev/null && command -v psql >/dev/null || die "kcat and psql are required (hack/deps.sh)"
SQL=(psql -X -q -v ON_ERROR_STOP=1 "$EW_POSTGRES_URL")
printf '%s' "$EW_POSTGRES_URL" > "$WORK/url"

# outboxTable NAME [notify]: the guide's table plus a key column and the
# partial index the README gives; with "notify", its NOTIFY trigger on channel NAME.
outboxTable() {
  "${SQL[@]}" -c "CREATE TABLE $1 (id bigserial PRIMARY KEY, event_type text NOT NULL, topic text NOT NULL,
    aggregate_id text, payload jsonb NOT NULL, status text NOT NULL DEFAULT 'PENDING',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp())" \
    -c "CREATE INDEX ON $1 (id) WHERE status = 'PENDING'"
  [ "${2:-}" = notify ] || return 0
  "${SQL[@]}" -c "CREATE FUNCTION ${1}_notify() RETURNS trigger LANGUAGE plpgsql AS
    \$\$ BEGIN PERFORM pg_notify('$1', ''); RETURN NULL; END \$\$" \
    -c "CREATE TRIGGER ${1}_notify AFTER INSERT ON $1 FOR EACH STATEMENT EXECUTE FUNCTION ${1}_notify()"
}
# dropOutboxTable NAME
dropOutboxTable() { "${SQL[@]}" -c "SET client_min_messages = warning" -c "DROP TABLE $1" -c "DROP FUNCTION IF EXISTS ${1}_notify()"; }

# startRelay NAME TABLE EXTRA: the runtime in --mode outbox with one relay NAME
# on TABLE (key column aggregate_id; EXTRA: more relay keys in flow style,
# e.g. ", notifyChannel: t"), worker "bench"; returns once the relay holds
# its table. Sets RT_PID and RELAY_OPS; its log is WORK/NAME.log.
startRelay() {
  RELAY_OPS=$(freePort)
  local props=
  [ -z "${RELAY_KAFKA_PROPS:-}" ] || props=", properties: {$RELAY_KAFKA_PROPS}"
  cat > "$WORK/$1.yaml" <<YAML
apiVersion: runtime.eventworker.dev/v1
worker: bench
source:
  kind: kafka
  kafka: {brokers: ["$B"], consumerGroup: bench$props}
handler: {kind: noop}
outbox:
- {name: $1, connectionFile: $WORK/url, table: $2, columns: {key: aggregate_id}$3}
server: {address: "127.0.0.1:$RELAY_OPS", gracePeriod: 10s}
log: {level: warn}
YAML
  "$RUNTIME" --config "$WORK/$1.yaml" --mode outbox >"$WORK/$1.log" 2>&1 &
  RT_PID=$!
  until [ "$(metric "$RELAY_OPS" "worker_outbox_active{relay=\"$1\",worker=\"bench\"}" 2>/dev/null)" = 1 ]; do
    kill -0 "$RT_PID" 2>/dev/null || { cat "$WORK/$1.log" >&2; die "relay exited"; }
    sleep 0.05
  done
}
