#!/usr/bin/env bash
# Runs one Inlet pipeline live on this machine: a throwaway Postgres and
# ClickHouse, Inlet with its embedded Kafka broker, and a workload that
# inserts, updates and deletes rows every second. Every few seconds it shows
# what Postgres, ClickHouse and the lake hold. Ctrl-C (or DEMO_SECONDS,
# default 60) stops it cleanly; DEMO_DIR keeps the files for a look after.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

DIR=${DEMO_DIR:-$(mktemp -d /tmp/inlet-demo-XXXX)}
SECONDS_TO_RUN=${DEMO_SECONDS:-60}
mkdir -p "$DIR"; chmod 755 "$DIR"
PGBIN=$(pg_config --bindir 2>/dev/null || dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }
PGPORT=$(free_port); CHPORT=$(free_port); CHHTTP=$(free_port); HTTPPORT=${DEMO_HTTP_PORT:-$(free_port)}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  [ -n "${INLET_PID:-}" ] && kill -INT "$INLET_PID" 2>/dev/null && wait "$INLET_PID" 2>/dev/null || true
  # Postgres runs under runuser, which does not pass the signal on: stop
  # the server itself.
  [ -d "$DIR/pg/data" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/pg/data" stop -m fast -w >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped; files kept in $DIR (lake: $DIR/lake, log: $DIR/inlet.log)"
}
trap cleanup EXIT INT TERM

echo "== building inlet"
go build -o "$DIR/inlet" ./cmd/inlet

echo "== starting postgres on 127.0.0.1:$PGPORT"
mkdir -p "$DIR/pg"; [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
as_pg "$PGBIN/initdb" -D "$DIR/pg/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$PGBIN/postgres" -D "$DIR/pg/data" -p "$PGPORT" -k "$DIR/pg" -c listen_addresses=127.0.0.1 \
  -c wal_level=logical -c max_replication_slots=4 -c max_wal_senders=4 >"$DIR/postgres.log" 2>&1 &
pids+=($!)

echo "== starting clickhouse on 127.0.0.1:$CHPORT"
mkdir -p "$DIR/ch"
cat >"$DIR/ch/config.xml" <<XML
<yandex>
  <logger><level>warning</level><log>$DIR/ch/server.log</log><errorlog>$DIR/ch/error.log</errorlog></logger>
  <tcp_port>$CHPORT</tcp_port><http_port>$CHHTTP</http_port><listen_host>127.0.0.1</listen_host>
  <path>$DIR/ch/data/</path><tmp_path>$DIR/ch/tmp/</tmp_path><user_files_path>$DIR/ch/uf/</user_files_path>
  <format_schema_path>$DIR/ch/fs/</format_schema_path>
  <users_config>$DIR/ch/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
cat >"$DIR/ch/users.xml" <<XML
<yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>
XML
CHBIN=$(command -v clickhouse-server || echo "$(command -v clickhouse) server")
(cd "$DIR/ch" && exec $CHBIN --config-file="$DIR/ch/config.xml" >"$DIR/ch/stdout.log" 2>&1) &
pids+=($!)

psql_() { psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres "$@"; }
chq() { clickhouse-client --port "$CHPORT" -q "$1" 2>/dev/null || echo "?"; }
for i in $(seq 1 100); do psql_ -c "select 1" >/dev/null 2>&1 && clickhouse-client --port "$CHPORT" -q "select 1" >/dev/null 2>&1 && break; sleep 0.3; done

echo "== creating tables with 1,000 existing orders"
psql_ <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int, amount numeric(12,2), status text,
                     created_at timestamptz DEFAULT now(), tags text[]);
INSERT INTO customers (name, country) SELECT 'customer ' || g, (ARRAY['DE','FR','US','JP'])[1 + g % 4] FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, amount, status, tags)
  SELECT 1 + g % 100, (g % 997) * 1.25, 'new', ARRAY['demo'] FROM generate_series(1, 1000) g;
SQL

cat >"$DIR/pipeline.yaml" <<YAML
pipeline: shop
state_dir: $DIR/state            # checkpoints and the embedded Kafka broker
sources:
  - name: pg
    postgres:
      dsn: "postgres://postgres@127.0.0.1:$PGPORT/postgres"
      tables: ["public.orders", "public.customers"]
lake:
  path: "file://$DIR/lake"
clickhouse:
  addr: "127.0.0.1:$CHPORT"
  database: shop
  summaries:                     # kept right as orders change status
    - name: orders_by_status
      from: public.orders
      dimensions: ["toDate(created_at) AS day", status]
      measures: ["count() AS orders", "sum(amount) AS revenue"]
      partition_by: day
engine:
  batch_wait: 500ms
YAML
echo "== inlet run -c $DIR/pipeline.yaml --http 127.0.0.1:$HTTPPORT   (log: $DIR/inlet.log)"
"$DIR/inlet" run -c "$DIR/pipeline.yaml" --http "127.0.0.1:$HTTPPORT" >"$DIR/inlet.log" 2>&1 &
INLET_PID=$!
echo "== status page: http://127.0.0.1:$HTTPPORT/   (metrics: /metrics, readiness: /readyz)"

end=$((SECONDS + SECONDS_TO_RUN))
tick=0
while [ $SECONDS -lt $end ]; do
  psql_ <<'SQL' >/dev/null
INSERT INTO orders (customer_id, amount, status, tags) SELECT 1 + (random()*99)::int, round((random()*500)::numeric, 2), 'new', ARRAY['live'] FROM generate_series(1, 20);
UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id IN (SELECT id FROM orders WHERE status = 'new' ORDER BY random() LIMIT 5);
DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT 2);
UPDATE customers SET country = 'BR' WHERE id = 1 + (random()*99)::int;
SQL
  tick=$((tick + 1))
  if [ $((tick % 5)) -eq 0 ]; then
    pg=$(psql_ -At -c "select count(*) || ' orders, ' || count(*) filter (where status='paid') || ' paid' from orders")
    ch=$(chq "select toString(count()) || ' orders, ' || toString(countIf(status = 'paid')) || ' paid' from shop.orders_current")
    files=$(find "$DIR/lake" -name '*.parquet' 2>/dev/null | wc -l)
    printf '%5ss  postgres: %-28s clickhouse: %-28s lake: %s parquet files\n' "$tick" "$pg" "$ch" "$files"
  fi
  sleep 1
done
echo "== letting inlet catch up"; sleep 3
"$DIR/inlet" status -c "$DIR/pipeline.yaml"
echo
echo "== the summary table, next to the same GROUP BY in Postgres"
chq "SELECT status, sum(orders), sum(revenue) FROM shop.orders_by_status GROUP BY status ORDER BY status FORMAT PrettyCompact"
psql_ -c "SELECT status, count(*), sum(amount) FROM orders GROUP BY status ORDER BY status"
echo
echo "Query it yourself, e.g.:"
echo "  clickhouse-client --port $CHPORT -q \"SELECT status, count(), sum(amount) FROM shop.orders_current GROUP BY status\""
echo "  $DIR/inlet describe -c $DIR/pipeline.yaml    # every table, view and summary, with lineage and freshness"
