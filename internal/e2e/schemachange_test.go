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

// TestSchemaChangesUnderLoad: under a steady workload on three tables, a
// column widens (public.docs.views integer → bigint) and another table
// gains a column, with no restart; both land in ClickHouse and the lake
// without loss, and an independent Delta reader (chDB's deltaLakeLocal)
// reads the widened table's whole history after the change. Then an
// incompatible change (public.all_types.vc text → integer) quarantines
// only that table: the other two keep flowing.
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
