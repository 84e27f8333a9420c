package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// compareCHTables is compareCH for the specs whose ClickHouse table is in
// only.
func (e *env) compareCHTables(t *testing.T, only ...string) string {
	keep := specs[:0:0]
	saved := specs
	for _, s := range saved {
		for _, o := range only {
			if s.ch == o {
				keep = append(keep, s)
			}
		}
	}
	if len(keep) != len(only) {
		t.Fatalf("compareCHTables(%v): not all are ClickHouse tables of the specs", only)
	}
	specs = keep
	defer func() { specs = saved }()
	return e.compareCH(t)
}

// TestQuarantineOneTable: ClickHouse cannot take one table's rows (its
// mirror was renamed away behind Inlet's back) while a steady workload runs
// on every table. That table is quarantined in ClickHouse alone, with an
// incident naming it and the fix; the other tables (and the lake, for
// every table) keep flowing; after the fix, inlet resume continues it
// from where it stopped, and everything ends equal, nothing lost or
// duplicated.
func TestQuarantineOneTable(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	tr := startTrickle(t, e)
	ctx := context.Background()
	time.Sleep(2 * time.Second)
	if err := e.chConn.Exec(ctx, "RENAME TABLE shop.docs TO shop.docs_away"); err != nil {
		t.Fatal(err)
	}
	// The table shows as quarantined in ClickHouse, with the fix.
	deadline := time.Now().Add(time.Minute)
	for {
		st := e.inlet(t, "status", "-c", e.cfg)
		if strings.Contains(st, "QUARANTINED") {
			if !strings.Contains(st, "public.docs in clickhouse") || !strings.Contains(st, "inlet resume --table") {
				t.Fatalf("status does not name the table and the fix:\n%s", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("public.docs never quarantined; status:\n%s\nlog:\n%s", st, tailFile(p.log, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Meanwhile the other tables keep up in ClickHouse, and the lake gets
	// every table: pause the workload and look within a few seconds.
	for round := 0; round < 3; round++ {
		time.Sleep(3 * time.Second)
		tr.mu.Lock()
		ok := false
		for i := 0; i < 20 && !ok; i++ {
			time.Sleep(250 * time.Millisecond)
			ok = e.compareCHTables(t, "all_types", "sales_customers") == ""
		}
		lakeDocs := e.lakeCounts(t)["public.docs"]
		want := e.workld.changes["public.docs"]
		tr.mu.Unlock()
		if !ok {
			t.Fatalf("healthy tables fell behind in ClickHouse while public.docs was quarantined:\n%s", e.compareCHTables(t, "all_types", "sales_customers"))
		}
		if lakeDocs < want-200 {
			t.Errorf("the lake fell behind on public.docs (%d of %d changes) though only ClickHouse quarantined it", lakeDocs, want)
		}
	}
	// Fix the mirror and resume.
	if err := e.chConn.Exec(ctx, "RENAME TABLE shop.docs_away TO shop.docs"); err != nil {
		t.Fatal(err)
	}
	if out := e.inlet(t, "resume", "-c", e.cfg, "--table", "public.docs"); !strings.Contains(out, "resume of public.docs requested") {
		t.Fatalf("resume: %s", out)
	}
	tr.stop()
	e.waitCaughtUp(t, p, 3*time.Minute)
	// The status file is rewritten every second.
	for i := 0; ; i++ {
		st := e.inlet(t, "status", "-c", e.cfg)
		if !strings.Contains(st, "QUARANTINED") {
			break
		}
		if i == 20 {
			t.Errorf("still quarantined 10s after catching up:\n%s", st)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	state := e.dir + "/state"
	if incidentsMatching(t, state, "incident: table failed and stopped", "clickhouse") == 0 {
		t.Error("no incident for the quarantine")
	}
	if incidentsMatching(t, state, "incident resolved: table committed again", "clickhouse") == 0 {
		t.Error("the quarantine was never resolved")
	}
}
