package check

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCheckGolden runs inlet check against a real Postgres 15 and
// ClickHouse: a deliberately misconfigured pipeline reports every problem
// at once (a table without a primary key in cdc mode, a missing table,
// REPLICA IDENTITY NOTHING, unmapped column types, a user without
// REPLICATION or SELECT, a publication the user cannot extend, a slot with
// the wrong plugin, an API refusing the token, an unreachable broker, a
// lake path under a file, a summary over an unknown column), and a healthy
// one passes. Ports, versions, paths and disk sizes are masked.
func TestCheckGolden(t *testing.T) {
	pg, chs := testenv.StartPostgres(t), testenv.StartClickHouse(t)
	ctx := context.Background()
	admin := pg.Connect(t, "postgres")
	if _, err := admin.Exec(ctx, "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	shop := pg.Connect(t, "shop")
	for _, q := range []string{
		`CREATE ROLE app LOGIN`,
		`CREATE TYPE pair AS (a int, b int)`,
		`CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), status text)`,
		`CREATE TABLE events (at timestamptz, body text)`,
		`CREATE TABLE audit (id int PRIMARY KEY, what text)`,
		`ALTER TABLE audit REPLICA IDENTITY NOTHING`,
		`CREATE TABLE logs (id int PRIMARY KEY, line text)`,
		`ALTER TABLE logs REPLICA IDENTITY FULL`,
		`CREATE TABLE shapes (id int PRIMARY KEY, p pair, snap pg_snapshot)`,
		`CREATE TABLE secret (id int PRIMARY KEY)`,
		`CREATE TABLE currencies (code text, rate numeric)`,
		`GRANT SELECT ON orders, events, audit, logs, shapes, currencies TO app`,
		`CREATE PUBLICATION inlet_shop_pg FOR TABLE logs`,
		`SELECT pg_create_logical_replication_slot('inlet_shop_pg', 'test_decoding')`,
	} {
		if _, err := shop.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	chConn := chs.Connect(t)
	for _, q := range []string{
		`CREATE DATABASE shop`,
		"CREATE TABLE shop.logs (id Int32, line Nullable(String), _version UInt64, _deleted UInt8) ENGINE = Memory",
	} {
		if err := chConn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good-token" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":[{"id":1,"updated_at":"2026-01-01T00:00:00Z"},{"id":2,"updated_at":"2026-01-02T00:00:00Z"}]}`)
	}))
	defer api.Close()
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "afile"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mask := func(s string) string {
		s = strings.ReplaceAll(s, dir, "$DIR")
		s = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(s, "127.0.0.1:PORT")
		s = regexp.MustCompile(`PostgreSQL \d+(\.\d+)*`).ReplaceAllString(s, "PostgreSQL VERSION")
		s = regexp.MustCompile(`(?m)(version\s+)\d+(\.\d+)+`).ReplaceAllString(s, "${1}VERSION")
		s = regexp.MustCompile(`[0-9.]+ [KMGTPE]?i?B free of [0-9.]+ [KMGTPE]?i?B`).ReplaceAllString(s, "N GiB free of N GiB")
		return s
	}
	run := func(t *testing.T, name, yaml string, wantFail bool) {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("config does not validate: %v", err)
		}
		r := Run(ctx, c, Options{})
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "wrong-token-123") || strings.Contains(buf.String(), "sekrit") {
			t.Errorf("the report shows a secret:\n%s", buf.String())
		}
		got := mask(buf.String())
		golden := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if d := cmp.Diff(string(want), got); d != "" {
			t.Errorf("report differs from %s (-want +got):\n%s\nfull report:\n%s", golden, d, got)
		}
		if r.Failed() != wantFail {
			t.Errorf("Failed() = %v, want %v", r.Failed(), wantFail)
		}
	}

	t.Run("misconfigured", func(t *testing.T) {
		t.Setenv("TICKETS_TOKEN", "wrong-token-123")
		run(t, "misconfigured", fmt.Sprintf(`pipeline: shop
state_dir: %[1]s/state
kafka:
  brokers: ["127.0.0.1:%[2]d"]
sources:
  - name: pg
    postgres:
      dsn: "postgres://app@127.0.0.1:%[3]d/shop?sslmode=disable"
      tables:
        - public.orders
        - public.events
        - public.missing
        - public.audit
        - public.logs
        - public.shapes
        - public.secret
        - name: public.currencies
          mode: full_refresh
          interval: 1h
      text_columns: ["public.orders.nope"]
  - name: tickets
    http:
      url: "%[4]s/tickets"
      headers: {Authorization: "Bearer ${TICKETS_TOKEN}"}
      records: /data
      primary_key: [id]
      cursor: {field: updated_at, param: since}
lake:
  path: "file://%[1]s/afile/lake"
clickhouse:
  addr: "%[5]s"
  database: shop
  summaries:
    - name: orders_by_status
      from: public.orders
      dimensions: [nosuchcol]
      measures: ["count() AS orders"]
    - name: logs_by_level
      from: public.logs
      dimensions: [level]
      measures: ["count() AS lines"]
`, dir, testenv.FreePort(t), pg.Port, api.URL, chs.Addr), true)
	})

	t.Run("unreachable", func(t *testing.T) {
		t.Setenv("TICKETS_TOKEN", "good-token")
		t.Setenv("CH_WRONG_PASSWORD", "wrong-token-123")
		run(t, "unreachable", fmt.Sprintf(`pipeline: shop
state_dir: %[1]s/state
sources:
  - name: pg
    postgres:
      dsn: "postgres://app:wrong-token-123@127.0.0.1:%[2]d/shop?sslmode=disable"
      tables: [public.orders]
  - name: nodb
    postgres:
      dsn: "postgres://app@127.0.0.1:%[3]d/nosuchdb?sslmode=disable"
      tables: [public.invoices]
  - name: tickets
    http:
      url: "http://127.0.0.1:%[2]d/tickets"
      headers: {Authorization: "Bearer ${TICKETS_TOKEN}"}
      params: {api_key: "sekrit-key-42"}
      primary_key: [id]
      cursor: {field: updated_at, param: since}
lake:
  path: "%[1]s/lake"
clickhouse:
  addr: "%[4]s"
  database: shop
  username: nobody
  password: "${CH_WRONG_PASSWORD}"
`, dir, testenv.FreePort(t), pg.Port, chs.Addr), true)
	})

	t.Run("healthy", func(t *testing.T) {
		t.Setenv("TICKETS_TOKEN", "good-token")
		run(t, "healthy", fmt.Sprintf(`pipeline: shop
state_dir: %[1]s/state
kafka:
  brokers: ["%[2]s"]
sources:
  - name: pg
    postgres:
      dsn: "postgres://postgres@127.0.0.1:%[3]d/shop?sslmode=disable"
      slot: inlet_ok
      publication: inlet_ok
      tables:
        - public.orders
        - public.logs
        - public.shapes
        - name: public.currencies
          mode: full_refresh
          interval: 1h
      text_columns: ["public.shapes.p", "public.shapes.snap"]
  - name: tickets
    http:
      url: "%[4]s/tickets"
      headers: {Authorization: "Bearer ${TICKETS_TOKEN}"}
      records: /data
      primary_key: [id]
      cursor: {field: updated_at, param: since}
lake:
  path: "file://%[1]s/lake"
clickhouse:
  addr: "%[5]s"
  database: shop_new
  summaries:
    - name: orders_by_status
      from: public.orders
      dimensions: [status]
      measures: ["count() AS orders", "sum(amount) AS revenue"]
`, dir, kafka.ListenAddrs()[0], pg.Port, api.URL, chs.Addr), false)
	})
}
