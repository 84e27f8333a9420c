package check

import (
	"errors"
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/internal/config"
)

// want is a verdict's status and words its detail and fix must contain.
type want struct {
	status      Status
	detail, fix string
}

func (w want) check(t *testing.T, got Result) {
	t.Helper()
	if got.Status != w.status || !strings.Contains(got.Detail, w.detail) || !strings.Contains(got.Fix, w.fix) {
		t.Errorf("got %s %q (fix %q), want %s with %q (fix with %q)", got.Status, got.Detail, got.Fix, w.status, w.detail, w.fix)
	}
	if got.Status != OK && got.Status != Skip && got.Fix == "" {
		t.Errorf("%s %q names no fix", got.Status, got.Detail)
	}
}

func TestVerdictWALLevel(t *testing.T) {
	for level, w := range map[string]want{
		"logical": {OK, "logical", ""},
		"replica": {Fail, "replica; logical replication needs wal_level=logical", "ALTER SYSTEM SET wal_level = logical"},
		"minimal": {Fail, "minimal", "restart Postgres"},
	} {
		t.Run(level, func(t *testing.T) { w.check(t, verdictWALLevel(level)) })
	}
}

func TestVerdictServer(t *testing.T) {
	w := "app@db:5432/shop"
	want{OK, "PostgreSQL 15.4", ""}.check(t, verdictServer(pgServer{versionNum: 150004, version: "15.4"}, w))
	want{Fail, "needs PostgreSQL 10", "upgrade"}.check(t, verdictServer(pgServer{versionNum: 90624, version: "9.6.24"}, w))
	want{Fail, "standby", "primary"}.check(t, verdictServer(pgServer{versionNum: 150004, version: "15.4", recovery: true}, w))
}

func TestVerdictSlotAndSenders(t *testing.T) {
	srv := pgServer{db: "shop", maxSlots: 4, usedSlots: 1, maxSenders: 4, usedSenders: 1}
	full := srv
	full.usedSlots, full.usedSenders = 4, 4
	ok := pgSlot{exists: true, slotType: "logical", plugin: "pgoutput", database: "shop", retainedMB: 12}
	mod := func(f func(*pgSlot)) pgSlot { s := ok; f(&s); return s }
	cases := []struct {
		name string
		srv  pgServer
		slot pgSlot
		want want
	}{
		{"absent with room", srv, pgSlot{}, want{OK, "absent; Inlet creates it on first start (1 of 4 slots in use)", ""}},
		{"absent and full", full, pgSlot{}, want{Fail, "all 4 replication slots are in use", "max_replication_slots"}},
		{"no slots at all", pgServer{db: "shop"}, pgSlot{}, want{Fail, "max_replication_slots=0", "max_replication_slots"}},
		{"exists, full server", full, ok, want{OK, "exists (pgoutput), holds back 12 MB of WAL", ""}},
		{"physical", srv, mod(func(s *pgSlot) { s.slotType, s.plugin = "physical", "" }), want{Fail, "physical slot", "pg_drop_replication_slot('inlet_shop_pg')"}},
		{"other plugin", srv, mod(func(s *pgSlot) { s.plugin = "wal2json" }), want{Fail, "plugin wal2json", "sources[0].postgres.slot"}},
		{"other database", srv, mod(func(s *pgSlot) { s.database = "crm" }), want{Fail, "in database crm, not shop", "drop it"}},
		{"lost", srv, mod(func(s *pgSlot) { s.walStatus = "lost" }), want{Fail, "lost WAL", "start the pipeline over"}},
		{"active", srv, mod(func(s *pgSlot) { s.active, s.activePID = true, 4711 }), want{Warn, "in use by backend pid 4711", "another inlet"}},
		{"retains too much", srv, mod(func(s *pgSlot) { s.retainedMB = 5000 }), want{Warn, "holds back 5000 MB of WAL (max_retained_wal_mb 1024)", "inlet teardown"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.want.check(t, verdictSlot(c.srv, c.slot, "inlet_shop_pg", "sources[0].postgres.slot", 1024))
		})
	}
	want{OK, "1 of 4 in use", ""}.check(t, verdictSenders(srv, pgSlot{}))
	want{Fail, "all 4 in use (max_wal_senders=4)", "raise max_wal_senders"}.check(t, verdictSenders(full, pgSlot{}))
}

func TestVerdictRole(t *testing.T) {
	want{Fail, "user app has neither REPLICATION nor SUPERUSER", `ALTER ROLE "app" WITH REPLICATION`}.check(t, verdictRole(pgServer{user: "app"}, nil))
	want{OK, "user app has REPLICATION; a replication connection works", ""}.check(t, verdictRole(pgServer{user: "app", replication: true}, nil))
	want{OK, "is a member of rds_replication", ""}.check(t, verdictRole(pgServer{user: "app", rdsRepl: true}, nil))
	want{Fail, "but a replication connection fails: no pg_hba.conf entry", "pg_hba.conf"}.check(t,
		verdictRole(pgServer{user: "app", super: true}, errors.New("no pg_hba.conf entry")))
}

func TestVerdictTable(t *testing.T) {
	ck := &checker{cfg: &config.Config{}}
	orders := conf.TableName{Schema: "public", Table: "orders"}
	cdc := postgres.Table{Name: "public.orders", Mode: conf.ModeCDC}
	full := postgres.Table{Name: "public.orders", Mode: conf.ModeFullRefresh}
	good := pgTable{name: orders, exists: true, relkind: "r", ident: "d", pk: []string{"id"}, canSelect: true,
		columns: []pgColumn{{"id", "integer", true}, {"geo", "point", false}}}
	textCols := map[string]bool{"public.orders.geo": true}
	mod := func(f func(*pgTable)) pgTable { t := good; f(&t); return t }
	cases := []struct {
		name  string
		table pgTable
		cfg   postgres.Table
		text  map[string]bool
		want  []want
	}{
		{"good", good, cdc, textCols, []want{{OK, "primary key (id), REPLICA IDENTITY DEFAULT, 2 columns", ""}}},
		{"missing", pgTable{name: orders}, cdc, nil, []want{{Fail, "does not exist", "sources[0].postgres.tables[0]"}}},
		{"missing, other case exists", pgTable{name: orders, similar: `"public"."Orders"`}, cdc, nil, []want{{Fail, `there is "public"."Orders"`, "fix or remove"}}},
		{"view", mod(func(t *pgTable) { t.relkind = "v" }), cdc, textCols, []want{{Fail, "is a view", "tables underneath"}}},
		{"no pk cdc", mod(func(t *pgTable) { t.pk = nil }), cdc, textCols, []want{{Fail, "no primary key", "mode: full_refresh"}}},
		{"no pk full_refresh", mod(func(t *pgTable) { t.pk = nil }), full, textCols, []want{{OK, "no primary key (fine for full_refresh), mode full_refresh", ""}}},
		{"nothing", mod(func(t *pgTable) { t.ident = "n" }), cdc, textCols, []want{{Fail, "REPLICA IDENTITY NOTHING", `ALTER TABLE "public"."orders" REPLICA IDENTITY DEFAULT`}}},
		{"nothing is fine for full_refresh", mod(func(t *pgTable) { t.ident = "n" }), full, textCols, []want{{OK, "mode full_refresh", ""}}},
		{"full noted", mod(func(t *pgTable) { t.ident = "f" }), cdc, textCols, []want{{OK, "REPLICA IDENTITY FULL", ""}}},
		{"unmapped", good, cdc, nil, []want{{Fail, "types Inlet does not map: geo (point)", `add "public.orders.geo" to sources[0].postgres.text_columns`}}},
		{"every problem", mod(func(t *pgTable) { t.pk, t.ident, t.canSelect = nil, "n", false }), cdc, nil, []want{
			{Fail, "user app may not read it", `GRANT SELECT ON "public"."orders" TO "app"`},
			{Fail, "no primary key", "full_refresh"},
			{Fail, "REPLICA IDENTITY NOTHING", "REPLICA IDENTITY DEFAULT"},
			{Fail, "geo (point)", "text_columns"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := verdictTable(c.table, c.cfg, "sources[0].postgres.tables[0]", ck, "app", c.text)
			if len(got) != len(c.want) {
				t.Fatalf("got %d results, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				w.check(t, got[i])
			}
		})
	}
}

func TestVerdictPublication(t *testing.T) {
	a := pgTable{name: conf.TableName{Schema: "public", Table: "a"}, owned: true}
	b := pgTable{name: conf.TableName{Schema: "public", Table: "b"}}
	all := map[string]bool{"insert": true, "update": true, "delete": true, "truncate": true}
	srv := pgServer{user: "app", db: "shop", canCreate: true}
	cases := []struct {
		name string
		srv  pgServer
		pub  pgPub
		cdc  []pgTable
		want want
	}{
		{"no cdc tables", srv, pgPub{}, nil, want{OK, "not needed", ""}},
		{"absent, may create", srv, pgPub{}, []pgTable{a}, want{OK, "Inlet creates it on first start for 1 table", ""}},
		{"absent, no CREATE, not owner", pgServer{user: "app", db: "shop"}, pgPub{}, []pgTable{a, b},
			want{Fail, "no CREATE privilege on database shop; does not own public.b", `CREATE PUBLICATION "p" FOR TABLE "public"."a", "public"."b"`}},
		{"all tables", srv, pgPub{exists: true, allTables: true, ops: all}, []pgTable{a, b}, want{OK, "FOR ALL TABLES", ""}},
		{"covers", srv, pgPub{exists: true, ops: all, tables: map[conf.TableName]bool{a.name: true, b.name: true}}, []pgTable{a, b}, want{OK, "covers the 2 cdc tables", ""}},
		{"lacks, Inlet adds", srv, pgPub{exists: true, owned: true, ops: all, tables: map[conf.TableName]bool{}}, []pgTable{a}, want{OK, "Inlet adds them on start", ""}},
		{"lacks, cannot add", srv, pgPub{exists: true, owned: true, ops: all, tables: map[conf.TableName]bool{a.name: true}}, []pgTable{a, b},
			want{Fail, "exists without public.b, and user app cannot add them: does not own public.b", `ALTER PUBLICATION "p" ADD TABLE "public"."b"`}},
		{"publishes too little", srv, pgPub{exists: true, allTables: true, ops: map[string]bool{"insert": true}}, []pgTable{a},
			want{Warn, "does not publish update, delete, truncate", "publish = 'insert, update, delete, truncate'"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.want.check(t, verdictPublication(c.srv, c.pub, "p", c.cdc)) })
	}
}

func TestVerdictCHVersion(t *testing.T) {
	for v, w := range map[string]want{
		"1.1.54394":  {Warn, "older than 18.16", "upgrade"},
		"18.16.1":    {OK, "18.16.1; before 20.1 timestamps are stored as DateTime (whole seconds)", ""},
		"21.3.20.1":  {OK, "before 21.9 dates", ""},
		"21.10.2.15": {OK, "before 21.12 booleans", ""},
		"24.8.4.13":  {OK, "24.8.4.13", ""},
		"banana":     {Warn, "not understood", "version()"},
	} {
		t.Run(v, func(t *testing.T) { w.check(t, verdictCHVersion(v)) })
	}
}

func TestVerdictHTTP(t *testing.T) {
	cases := []struct {
		name    string
		code    int
		body    string
		records string
		want    want
	}{
		{"ok", 200, `{"data":[{"id":1},{"id":2}]}`, "/data", want{OK, "HTTP 200, 2 records on the first page", ""}},
		{"array body", 200, `[{"id":1}]`, "", want{OK, "1 record on", ""}},
		{"unauthorized", 401, `nope`, "", want{Fail, "refused the credentials", "sources[0].http.headers"}},
		{"forbidden", 403, ``, "", want{Fail, "HTTP 403", "credentials"}},
		{"not found", 404, ``, "", want{Fail, "HTTP 404", "sources[0].http.url"}},
		{"rate limited", 429, ``, "", want{Warn, "rate limited", "rate_limit"}},
		{"server error", 503, ``, "", want{Warn, "HTTP 503", "later"}},
		{"not json", 200, `<html>`, "", want{Fail, "not JSON", "JSON endpoint"}},
		{"wrong pointer", 200, `{"items":[],"next":null}`, "/data", want{Fail, `records "/data" finds no array of records (the body has /items, /next)`, "sources[0].http.records"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.want.check(t, verdictHTTP(c.code, []byte(c.body), c.records, "https://api/x", "sources[0].http.headers", "sources[0].http.url", "sources[0].http.records"))
		})
	}
}

func TestJSONPointer(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b/c": []any{1.0, 2.0}}, "t~x": true}
	for ptr, want := range map[string]any{"/a/b~1c/1": 2.0, "/t~0x": true} {
		if got, ok := jsonPointer(doc, ptr); !ok || got != want {
			t.Errorf("%s = %v, %v; want %v", ptr, got, ok, want)
		}
	}
	for _, ptr := range []string{"/x", "/a/b~1c/2", "/a/b~1c/x", "/t~0x/y"} {
		if _, ok := jsonPointer(doc, ptr); ok {
			t.Errorf("%s resolved", ptr)
		}
	}
}

func TestVerdictDisk(t *testing.T) {
	want{OK, "20.0 GiB free of 100.0 GiB", ""}.check(t, verdictDisk(20<<30, 100<<30))
	want{Warn, "512.0 MiB free", "free some space"}.check(t, verdictDisk(512<<20, 100<<30))
}

func TestVerdictTextColumns(t *testing.T) {
	orders := conf.TableName{Schema: "public", Table: "orders"}
	tables := map[conf.TableName]*pgTable{orders: {name: orders, exists: true, columns: []pgColumn{{name: "geo"}}}}
	got := verdictTextColumns([]string{"public.orders.geo", "public.orders.nope", "public.other.x"}, tables, "sources[0].postgres.text_columns")
	if len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	want{Warn, "public.orders.nope (no such column), public.other.x (not a captured table)", "text_columns"}.check(t, got[0])
}
