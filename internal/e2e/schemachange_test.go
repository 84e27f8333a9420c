package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestSchemaChangesUnderLoad: under a steady workload on three tables,
// with no restart: a column widens (public.docs.views integer → bigint),
// another table gains a column, has a column renamed
// (sales.customers.name → full_name), a decimal widened (score
// numeric(10,2) → numeric(14,3)) and the added column dropped again. Every
// change lands in ClickHouse and the lake without loss; after each, an
// independent Delta reader (chDB's deltaLakeLocal) reads the changed
// tables' whole history: the renamed column's every earlier value under
// its new name (Delta column mapping), the widened columns as the wide
// type. ClickHouse keeps the dropped column (clickhouse.drop_columns is
// off). Then an incompatible change (public.all_types.vc text → integer)
// quarantines only that table: the other two keep flowing.
func TestSchemaChangesUnderLoad(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	tr := startTrickle(t, e)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if _, err := e.conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	time.Sleep(2 * time.Second)
	exec("ALTER TABLE public.docs ALTER COLUMN views TYPE bigint")
	exec("ALTER TABLE sales.customers ADD COLUMN tier text DEFAULT 'basic'")
	time.Sleep(3 * time.Second)
	exec("UPDATE public.docs SET views = 5000000000 WHERE id = (SELECT min(id) FROM public.docs)")
	time.Sleep(2 * time.Second)
	tr.stop()
	e.waitCaughtUp(t, p, 2*time.Minute)

	// ClickHouse widened the mirror column; the lake has the feature on.
	var typ string
	if err := e.chConn.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = 'shop' AND table = 'docs' AND name = 'views'").Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(typ, "Int64") {
		t.Errorf("clickhouse docs.views is %s after widening, want Int64", typ)
	}
	var big int64
	if err := e.chConn.QueryRow(ctx, "SELECT max(views) FROM shop.docs_current").Scan(&big); err != nil || big != 5000000000 {
		t.Errorf("clickhouse docs.views max = %d (%v), want 5000000000", big, err)
	}
	// The independent reader sees every change of public.docs, old files
	// (INT32) and new (INT64) alike, as many rows as the lake's log says.
	docs := filepath.Join(e.lakeDir, "public.docs")
	_, n := lakeFiles(t, docs)
	out := strings.TrimSpace(testenv.ChDB(t, e.lakeDir, fmt.Sprintf(
		"SELECT count(), max(views), toTypeName(any(views)) FROM deltaLakeLocal('%s')", docs)))
	if want := fmt.Sprintf("%d\t5000000000\tNullable(Int64)", n); out != want {
		t.Errorf("chDB over the widened lake table: %q, want %q", out, want)
	}

	// A rename, a decimal widening, and a drop, each caught up and read
	// back through the independent reader.
	saved := specs
	specs = append([]tableSpec(nil), specs...)
	for i := range specs {
		if specs[i].pg == "sales.customers" {
			specs[i].cols = append([]col(nil), specs[i].cols...)
			specs[i].cols[1].name = "full_name"
		}
	}
	defer func() { specs = saved }()
	customers := filepath.Join(e.lakeDir, "sales.customers")
	history := func(when, want string) {
		t.Helper()
		_, n := lakeFiles(t, customers)
		// full_name is NOT NULL at the source: every change before and
		// after the rename has it.
		out := strings.TrimSpace(testenv.ChDB(t, e.lakeDir, fmt.Sprintf(
			"SELECT count(), countIf(full_name IS NULL AND _op IN ('c', 'u', 'r')), countIf(_op = 'r'), toTypeName(any(score)) FROM deltaLakeLocal('%s')", customers)))
		f := strings.Split(out, "\t")
		if len(f) != 4 || f[0] != fmt.Sprint(n) || f[1] != "0" || f[2] == "0" || f[3] != want {
			t.Errorf("%s: chDB over sales.customers: %q; want %d rows, none without full_name, the snapshot's among them, score %s", when, out, n, want)
		}
	}
	tr = startTrickle(t, e)
	time.Sleep(time.Second)
	exec("ALTER TABLE sales.customers RENAME COLUMN name TO full_name")
	time.Sleep(2 * time.Second)
	tr.stop()
	e.waitCaughtUp(t, p, 2*time.Minute)
	history("after the rename", "Nullable(Decimal(10, 2))")
	tr = startTrickle(t, e)
	time.Sleep(time.Second)
	exec("ALTER TABLE sales.customers ALTER COLUMN score TYPE numeric(14,3)")
	time.Sleep(time.Second)
	exec("ALTER TABLE sales.customers DROP COLUMN tier")
	time.Sleep(2 * time.Second)
	tr.stop()
	e.waitCaughtUp(t, p, 2*time.Minute)
	history("after the widening and the drop", "Nullable(Decimal(14, 3))")
	var cols string
	if err := e.chConn.QueryRow(ctx, "SELECT arrayStringConcat(groupArray(name), ',') FROM (SELECT name FROM system.columns WHERE database = 'shop' AND table = 'sales_customers' ORDER BY name)").Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if want := "_deleted,_synced_at,_version,country,full_name,id,score,tier,updated"; cols != want {
		t.Errorf("clickhouse sales_customers columns %s, want %s (renamed, dropped column kept)", cols, want)
	}
	if err := e.chConn.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = 'shop' AND table = 'sales_customers' AND name = 'score'").Scan(&typ); err != nil || !strings.Contains(typ, "Decimal(14, 3)") {
		t.Errorf("clickhouse sales_customers.score is %s (%v), want Decimal(14, 3)", typ, err)
	}

	// An incompatible change: only public.all_types stops, in both sinks.
	exec("ALTER TABLE public.all_types ALTER COLUMN vc TYPE integer USING length(vc)")
	exec("INSERT INTO public.all_types (id, vc) VALUES (900001, 7)")
	deadline := time.Now().Add(time.Minute)
	for {
		st := e.inlet(t, "status", "-c", e.cfg)
		if strings.Contains(st, "public.all_types in lake") && strings.Contains(st, "public.all_types in clickhouse") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("public.all_types not quarantined in both sinks; status:\n%s\nlog:\n%s", st, tailFile(p.log, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Meanwhile the other tables still flow.
	e.workld.run(t, e.conn, map[string]int{"sales.customers": 50, "public.docs": 50}, map[string]int{"sales.customers": 20}, nil, nil)
	deadline = time.Now().Add(time.Minute)
	for {
		d := e.compareCHTables(t, "sales_customers", "docs")
		if d == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy tables did not keep flowing beside a quarantined one:\n%s", d)
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM)
	if incidentsMatching(t, filepath.Join(e.dir, "state"), "incident: table failed and stopped", "") < 2 {
		t.Error("want a quarantine incident per sink for public.all_types")
	}
}
