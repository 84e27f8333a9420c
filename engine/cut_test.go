package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBatchGoesOutWhenASinkFrees: records the reader holds while every
// sink is busy go out as a batch as soon as a sink waits for work, not at
// the batch wait. (They used to wait for it: the last records of a
// catch-up, which arrive while the sinks apply the batch before, sat in
// the reader for up to batch_wait after the sinks were free.)
func TestBatchGoesOutWhenASinkFrees(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	const batchWait = 5 * time.Minute // longer than the test's own timeout
	e := &Engine{o: Options{BatchRecords: 1000, BatchBytes: 1 << 20, BatchWait: batchWait, Log: slog.New(slog.DiscardHandler)},
		byTopic: map[string]Table{}, sinkFree: make(chan struct{}, 1)}

	// The reader asks whether a sink waits once it holds records and has
	// drained its fetches: the first question says the records are held.
	var free atomic.Bool
	held := make(chan struct{})
	var once sync.Once
	waiting := func(bool) bool {
		once.Do(func() { close(held) })
		return free.Load()
	}
	emitted := make(chan *decoded, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.poll(ctx, cl, func(d *decoded) bool {
		if !d.idle {
			emitted <- d
		}
		return true
	}, false, waiting, nil)

	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("the reader never held the records")
	}
	select {
	case d := <-emitted:
		t.Fatalf("a batch of %d records went out while no sink was free", d.records)
	default:
	}

	// A sink finishes and waits on its empty queue (sinkRun.next).
	free.Store(true)
	e.sinkFree <- struct{}{}
	select {
	case d := <-emitted:
		if got := d.ends[tp{Topic: "t", Partition: 0}]; got != 1 {
			t.Errorf("the batch ends at offset %d, want 1 (after the record)", got)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the held records did not go out when a sink became free (they wait for the batch wait, %s)", batchWait)
	}
}

// TestSinkWaitingAll: a batch in hand goes out early only once every sink
// offered batches waits (a sink passed over, or stopped, does not count);
// the drained cut needs only one.
func TestSinkWaitingAll(t *testing.T) {
	e := &Engine{}
	lake, ch := &sinkRun{e: e, name: "lake"}, &sinkRun{e: e, name: "clickhouse"}
	e.sinks = []*sinkRun{lake, ch}
	rd := &reader{e: e}
	check := func(what string, some, all bool) {
		t.Helper()
		if got := rd.sinkWaiting(false); got != some {
			t.Errorf("%s: some waiting = %v, want %v", what, got, some)
		}
		if got := rd.sinkWaiting(true); got != all {
			t.Errorf("%s: all waiting = %v, want %v", what, got, all)
		}
	}
	check("both busy", false, false)
	lake.ready.Store(true)
	check("lake free, clickhouse busy", true, false)
	ch.ready.Store(true)
	check("both free", true, true)
	ch.ready.Store(false)
	ch.skipping.Store(true)
	check("clickhouse passed over", true, true)
	ch.skipping.Store(false)
	ch.done.Store(true)
	check("clickhouse stopped", true, true)
	lake.ready.Store(false)
	check("lake busy, clickhouse stopped", false, false)
}
