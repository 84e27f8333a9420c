package engine

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inlet-dev/inlet/change"
)

// batchOf is a decoded batch of rows of topic t read from partition 0 at
// offsets [from, to), after a reader at from (and other at partition 1).
func batchOf(t string, from, to int64, other int64) *decoded {
	b := &tableBatch{table: Table{Name: t, Topic: t}}
	for o := from; o < to; o++ {
		b.rows = append(b.rows, change.Row{Op: change.OpCreate, Offset: o, Values: []any{o}})
		b.rowOrd = append(b.rowOrd, []byte(fmt.Sprintf("%08d", o)))
	}
	return &decoded{batches: []*tableBatch{b}, records: int(to - from), bytes: to - from,
		start: map[tp]int64{{Topic: t, Partition: 0}: from, {Topic: t, Partition: 1}: other}, ends: map[tp]int64{{Topic: t, Partition: 0}: to}}
}

// TestMergeQueuedBatches: a sink that finds batches queued behind the one
// it takes applies those that continue it with it, in order, and keeps
// the first that does not (or an idle one) for its next turn; the batches
// the other sinks share are left untouched.
func TestMergeQueuedBatches(t *testing.T) {
	e := &Engine{o: Options{BatchWait: 10 * time.Millisecond, BatchBytes: 1 << 20, Log: slog.New(slog.DiscardHandler)}}
	w := &sinkRun{e: e, name: "slow", in: make(chan *decoded, 4096), drained: make(chan struct{}, 1)}
	e.sinks = []*sinkRun{w}
	rd := &reader{e: e}

	a, b, c := batchOf("t", 0, 3, 7), batchOf("t", 3, 5, 7), batchOf("t", 5, 9, 7)
	// Another table's rows in the middle batch.
	u := batchOf("u", 100, 102, 0)
	b.batches = append(b.batches, u.batches[0])
	b.start[tp{Topic: "u", Partition: 0}], b.start[tp{Topic: "u", Partition: 1}] = 100, 0
	b.ends[tp{Topic: "u", Partition: 0}] = 102
	a.start[tp{Topic: "u", Partition: 0}], a.start[tp{Topic: "u", Partition: 1}] = 100, 0
	c.start[tp{Topic: "u", Partition: 0}], c.start[tp{Topic: "u", Partition: 1}] = 102, 0
	gap := batchOf("t", 12, 13, 7) // the sink was passed over for 9..11
	gap.start[tp{Topic: "u", Partition: 0}], gap.start[tp{Topic: "u", Partition: 1}] = 102, 0
	next := batchOf("t", 13, 14, 7)
	next.start[tp{Topic: "u", Partition: 0}], next.start[tp{Topic: "u", Partition: 1}] = 102, 0
	for _, d := range []*decoded{a, b, c, gap, next} {
		rd.offer(d)
	}

	d, ok := w.next()
	if !ok || d != a {
		t.Fatal("the sink did not take the first batch first")
	}
	merged0 := testutil.ToFloat64(batchesMerged.WithLabelValues("slow"))
	m := w.merge(d)
	if n := testutil.ToFloat64(batchesMerged.WithLabelValues("slow")) - merged0; n != 2 {
		t.Errorf("inlet_engine_batches_merged_total went up by %v, want 2", n)
	}
	if m.records != a.records+b.records+c.records || m.bytes != a.bytes+b.bytes+c.bytes {
		t.Errorf("merged %d records, %d bytes; want %d and %d", m.records, m.bytes, a.records+b.records+c.records, a.bytes+b.bytes+c.bytes)
	}
	if len(m.batches) != 2 || m.batches[0].table.Name != "t" || m.batches[1].table.Name != "u" {
		t.Fatalf("merged tables %v, want t and u", m.batches)
	}
	var offs []int64
	for _, r := range m.batches[0].rows {
		offs = append(offs, r.Offset)
	}
	if fmt.Sprint(offs) != "[0 1 2 3 4 5 6 7 8]" || len(m.batches[0].rowOrd) != 9 || string(m.batches[0].rowOrd[8]) != "00000008" {
		t.Errorf("merged rows of t at offsets %v, want 0..8 in order with their orders", offs)
	}
	if len(m.batches[1].rows) != 2 {
		t.Errorf("merged %d rows of u, want 2", len(m.batches[1].rows))
	}
	if fmt.Sprint(m.start) != fmt.Sprint(a.start) || m.ends[tp{Topic: "t", Partition: 0}] != 9 || m.ends[tp{Topic: "u", Partition: 0}] != 102 {
		t.Errorf("merged batch starts at %v and ends at %v", m.start, m.ends)
	}
	if len(a.batches) != 1 || len(a.batches[0].rows) != 3 || a.ends[tp{Topic: "t", Partition: 0}] != 3 {
		t.Error("merging changed the first batch, which the other sinks share")
	}
	if w.queued.Load() != next.bytes || w.pending != gap {
		t.Errorf("queue holds %d bytes, want %d (the batch after the gap is taken, kept aside)", w.queued.Load(), next.bytes)
	}
	// The batch after the gap comes next, alone: merging starts again
	// from it.
	if d, ok := w.next(); !ok || d != gap {
		t.Fatal("the batch after the gap was not kept for the next turn")
	}
	if m := w.merge(gap); m.records != 2 {
		t.Errorf("the batch after the gap merged %d records, want 2 (itself and the next)", m.records)
	}

	// An idle batch is never merged into one with rows.
	last := batchOf("t", 14, 15, 7)
	last.start[tp{Topic: "u", Partition: 0}], last.start[tp{Topic: "u", Partition: 1}] = 102, 0
	rd.offer(last)
	w.ready.Store(true)
	x, _ := w.next()
	w.in <- &decoded{idle: true}
	if m := w.merge(x); m != x || w.pending == nil || !w.pending.idle {
		t.Error("an idle batch was merged, or not kept")
	}
}
