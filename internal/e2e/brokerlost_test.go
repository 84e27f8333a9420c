package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestBrokerDataLostRefused: the embedded broker's data is lost while Inlet
// is stopped (its data dir deleted; the same as kafka.brokers pointed at a
// new or wrong cluster). The source then publishes a new snapshot into the
// empty topics, at offsets the sinks have long passed. Without a check the
// engine read them from offset 0 and every sink skipped them as already
// applied, and with them every change until the new offsets passed the old
// positions: silently lost. Inlet must stop instead, naming the sink, the
// topic and both offsets, with the sinks untouched.
func TestBrokerDataLostRefused(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	small := map[string]int{"public.all_types": 300, "sales.customers": 100, "public.docs": 100}
	e.workld.run(t, e.conn, small, small, nil, nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	p.stop(t, syscall.SIGTERM)
	before := e.lakeCounts(t)

	brokerDir := filepath.Join(e.dir, "state", "kafka")
	if err := os.Rename(brokerDir, brokerDir+".lost"); err != nil {
		t.Fatal(err)
	}
	// Changes made while the broker's data was gone: they must not be
	// skipped either (they reach the sinks once the operator recovers).
	e.workld.run(t, e.conn, small, nil, nil, nil)

	log2 := filepath.Join(e.dir, "inlet-2.log")
	p = startInlet(t, e.cfg, log2)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, done := p.exited(); done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inlet kept running on a broker that lost the data its sinks applied; lake %v (was %v); log:\n%s",
				e.lakeCounts(t), before, tailFile(log2, 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	err, _ := p.exited()
	var out string
	if err == nil {
		t.Fatalf("inlet exited 0; log:\n%s", tailFile(log2, 30))
	}
	out = string(mustRead(t, log2))
	for _, want := range []string{"this Kafka is not the one the sinks consumed", "shop.public.all_types", "sink lake consumed topic", "docs/failures.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not say %q; log:\n%s", want, tailFile(log2, 30))
		}
	}
	if after := e.lakeCounts(t); !maps.Equal(after, before) {
		t.Errorf("lake changed while refusing: %v, was %v", after, before)
	}
	if t.Failed() {
		return
	}

	// The operator gives the old Kafka up: every sink consumes the new
	// one from its start. The source, whose position Kafka lost, copies
	// the tables again; with the changes after, every sink converges on
	// Postgres, and nothing made while the broker was gone is lost.
	if out, err := execInlet("adopt-kafka", "-c", e.cfg); err == nil || !strings.Contains(out, "--yes") {
		t.Errorf("adopt-kafka without --yes: %v\n%s", err, out)
	}
	out, err = execInlet("adopt-kafka", "-c", e.cfg, "--yes")
	if err != nil {
		t.Fatalf("inlet adopt-kafka: %v\n%s", err, out)
	}
	t.Logf("inlet adopt-kafka:\n%s", out)
	p = startInlet(t, e.cfg, e.log)
	e.workld.run(t, e.conn, small, small, small, nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	p.stop(t, syscall.SIGTERM)
	if d := e.compareCH(t); d != "" {
		t.Errorf("clickhouse differs from postgres after adopt-kafka:\n%s", d)
	}
	db := duck(t)
	after := e.lakeCounts(t)
	for _, s := range specs {
		// The new snapshot's rows are added to the history: more rows
		// than changes, the latest image equal to Postgres, no
		// (id, _version) twice.
		if after[s.lake] <= e.workld.changes[s.lake] {
			t.Errorf("lake %s: %d rows, want more than its %d changes (the new snapshot's rows too)", s.lake, after[s.lake], e.workld.changes[s.lake])
		}
		lakeCheck(t, db, e.lakeDir, s, -1, pgRows(t, e.conn, s, true, false))
	}
	// An independent Delta reader reads the tables, the topic id in their
	// metaData included.
	chdb := testenv.StartChDB(t)
	for _, s := range specs {
		rows, err := chdb.Query(fmt.Sprintf("SELECT count() AS n FROM deltaLakeLocal('%s')", filepath.Join(e.lakeDir, s.lake)))
		if err != nil || len(rows) != 1 || fmt.Sprint(rows[0]["n"]) != fmt.Sprint(after[s.lake]) {
			t.Errorf("chDB deltaLakeLocal %s: %v (%v), want %d rows", s.lake, rows, err, after[s.lake])
		}
	}
}
