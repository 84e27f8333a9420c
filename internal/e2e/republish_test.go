package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/internal/incident"
)

// TestRepublishedChangesAppliedOnce reproduces, deterministically, what a
// broker that served a lost transaction as committed leads to (seen under
// TestCrashExactlyOnce with the embedded broker): the same source changes
// twice in a change topic, at different offsets. Copies of the last
// committed changes of every table are appended to Kafka while inlet is
// stopped; after a restart the sinks must skip them, and changes made
// after them must still arrive.
func TestRepublishedChangesAppliedOnce(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	small := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			out[k] = v / 5
		}
		return out
	}
	e.workld.run(t, e.conn, small(inserts), small(updates), small(deletes), nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	p.stop(t, syscall.SIGTERM)

	copied := e.republishTail(t, 300)
	if copied == 0 {
		t.Fatal("no change records to copy")
	}
	t.Logf("appended copies of %d committed changes", copied)

	p = startInlet(t, e.cfg, e.log)
	e.workld.run(t, e.conn, small(inserts), small(updates), small(deletes), nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	skipped := map[string]bool{}
	for _, line := range strings.Split(string(mustRead(t, e.log)), "\n") {
		if strings.Contains(line, "skipped records the sink already holds") {
			for _, sink := range []string{"lake", "clickhouse"} {
				if strings.Contains(line, "sink="+sink+" ") {
					skipped[sink] = true
				}
			}
		}
	}
	if !skipped["lake"] || !skipped["clickhouse"] {
		t.Errorf("skipped copies logged per sink: %v, want both lake and clickhouse", skipped)
	}

	// The incident record keeps them, for inlet incidents and status.
	var lines []incident.Entry
	for _, l := range strings.Split(strings.TrimSpace(e.inlet(t, "incidents", "-c", e.cfg, "--json")), "\n") {
		var en incident.Entry
		if err := json.Unmarshal([]byte(l), &en); err != nil {
			t.Fatalf("inlet incidents --json: %q: %v", l, err)
		}
		lines = append(lines, en)
	}
	recorded := map[string]float64{}
	for _, en := range lines {
		if strings.HasPrefix(en.Msg, "incident: skipped records") {
			recorded[fmt.Sprint(en.Attrs["sink"])] += en.Attrs["records"].(float64)
		}
	}
	if recorded["lake"] < float64(copied) || recorded["clickhouse"] < float64(copied) {
		t.Errorf("incident record: skipped %v, want at least %d per sink", recorded, copied)
	}
	if table := e.inlet(t, "incidents", "-c", e.cfg, "--since", "1h"); !strings.Contains(table, "skipped records the sink already holds") || !strings.Contains(table, "sink=lake") {
		t.Errorf("inlet incidents:\n%s", table)
	}
	if st := e.inlet(t, "status", "-c", e.cfg); !strings.Contains(st, "INCIDENTS (24h)") || strings.Contains(st, "INCIDENTS (24h)  none") {
		t.Errorf("inlet status shows no incidents:\n%s", st)
	}
}

// republishTail opens the stopped pipeline's embedded broker and appends,
// in one committed transaction per topic, copies (key, value, headers) of
// the last n committed data records of each change topic; it returns how
// many it copied.
func (e *env) republishTail(t *testing.T, n int) int {
	t.Helper()
	ctx := context.Background()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(e.dir, "state", "kafka")), kfake.SyncWrites())
	if err != nil {
		t.Fatalf("reopen embedded kafka: %v", err)
	}
	defer c.Close()
	total := 0
	for _, table := range tables {
		topic := "shop." + table
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			got := 0
			fs.EachRecord(func(r *kgo.Record) {
				got++
				recs = append(recs, r)
			})
			if got == 0 {
				break
			}
		}
		cl.Close()
		if len(recs) > n {
			recs = recs[len(recs)-n:]
		}
		pr, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("republish-"+table),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		if err := pr.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			cp := &kgo.Record{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers}
			if err := pr.ProduceSync(ctx, cp).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		total += len(recs)
	}
	return total
}
