package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTruncateReplicated: TRUNCATE of a table with a summary
// (sales.customers) and of one without (public.docs, twice, the second time
// with CASCADE and RESTART IDENTITY), between streamed changes. ClickHouse's
// _current views and the summary equal Postgres after each; the lake keeps
// one truncate marker per truncate and its latest image equals Postgres.
func TestTruncateReplicated(t *testing.T) {
	e := setup(t)
	// OpenLineage events go to a file (checked at the end).
	events := filepath.Join(e.dir, "lineage.jsonl")
	cfg := string(mustRead(t, e.cfg)) + fmt.Sprintf("lineage:\n  openlineage:\n    file: %q\n", events)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	small := func(n int) map[string]int {
		return map[string]int{"public.all_types": n, "sales.customers": n, "public.docs": n}
	}
	e.workld.run(t, e.conn, small(300), small(100), small(50), nil)
	truncate := func(sql string, tables ...string) {
		t.Helper()
		if _, err := e.conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			e.workld.live[tb] = nil
			e.workld.changes[tb]++ // the lake's truncate marker
		}
	}
	truncate("TRUNCATE sales.customers, public.docs", "sales.customers", "public.docs")
	e.workld.run(t, e.conn, small(200), small(50), small(20), nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	truncate("TRUNCATE public.docs RESTART IDENTITY CASCADE", "public.docs")
	e.workld.run(t, e.conn, small(100), small(30), small(10), nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	if n := countLines(t, e.log, "table truncated at the source"); n != 3 {
		t.Errorf("source logged %d truncates, want 3", n)
	}
	// One OpenLineage run per table and committed sink batch: START, then
	// COMPLETE with the output (Delta table or ClickHouse mirror).
	starts, completes := countLines(t, events, `"eventType":"START"`), countLines(t, events, `"eventType":"COMPLETE"`)
	if starts == 0 || completes != starts {
		t.Errorf("openlineage events: %d START, %d COMPLETE; want a COMPLETE per START", starts, completes)
	}
	for _, want := range []string{`"name":"shop.sales_customers"`, `public.docs"`} {
		if countLines(t, events, want) == 0 {
			t.Errorf("no openlineage event names %s", want)
		}
	}
}

// countLines counts the lines of a file that contain s.
func countLines(t *testing.T, path, s string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(string(mustRead(t, path)), "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
