package engine

import (
	"log/slog"
	"testing"
	"time"
)

// TestPassOverNeverStrandsASink: a sink that empties its queue after the
// reader gave up waiting for room, but before the reader passes it over,
// must still be offered what comes next. (The pass-over used to be set
// unconditionally there; the sink, already waiting on its empty queue,
// never reset it, and stood still for good, short of every change after.
// Under load the crash test ended with one sink idle and behind.)
func TestPassOverNeverStrandsASink(t *testing.T) {
	e := &Engine{o: Options{BatchWait: 10 * time.Millisecond, BatchBytes: 1 << 20, Log: slog.New(slog.DiscardHandler)}}
	w := &sinkRun{e: e, name: "slow", in: make(chan *decoded, 4096), drained: make(chan struct{}, 1)}
	e.sinks = []*sinkRun{w}
	rd := &reader{e: e}
	budget := int64(8 << 20) // the queue's floor (read.go)

	got := make(chan *decoded, 16)
	started := false
	beforePassOver = func(w *sinkRun) {
		if started {
			return
		}
		started = true
		// The sink takes what it holds and waits on its empty queue,
		// all between the reader's timeout and its pass-over.
		go func() {
			for {
				d, ok := w.next()
				if !ok {
					close(got)
					return
				}
				got <- d
			}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for !(w.ready.Load() && len(w.in) == 0) {
			if time.Now().After(deadline) {
				t.Error("the sink never took its queue")
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	defer func() { beforePassOver = nil }()

	first := &decoded{bytes: budget}
	second := &decoded{bytes: budget}
	third := &decoded{bytes: 1}
	rd.offer(first)  // fits: the queue was empty
	rd.offer(second) // does not fit; the sink empties the queue meanwhile
	rd.offer(third)
	rd.offer(&decoded{idle: true})
	close(w.in)

	var seen []*decoded
	for d := range got {
		seen = append(seen, d)
	}
	if len(seen) < 3 || seen[0] != first || seen[1] != second || seen[2] != third {
		t.Fatalf("the sink took %d batches (want first, second, third, in order): it was left passed over", len(seen))
	}
	if w.skipping.Load() {
		t.Error("the sink is still marked passed over")
	}
}

// TestPassOverWhileQueueFull: a sink whose queue is still full at the
// deadline is passed over (nothing queued for it) until it empties it.
func TestPassOverWhileQueueFull(t *testing.T) {
	e := &Engine{o: Options{BatchWait: 10 * time.Millisecond, BatchBytes: 1 << 20, Log: slog.New(slog.DiscardHandler)}}
	w := &sinkRun{e: e, name: "slow", in: make(chan *decoded, 4096), drained: make(chan struct{}, 1)}
	e.sinks = []*sinkRun{w}
	rd := &reader{e: e}
	budget := int64(8 << 20)

	rd.offer(&decoded{bytes: budget})
	rd.offer(&decoded{bytes: budget}) // waits its deadline, then passed over
	if !w.skipping.Load() || len(w.in) != 1 {
		t.Fatalf("skipping %v with %d queued; want passed over with 1", w.skipping.Load(), len(w.in))
	}
	rd.offer(&decoded{bytes: 1}) // passed over at once
	if len(w.in) != 1 {
		t.Fatalf("%d queued while passed over, want 1", len(w.in))
	}
	if _, ok := w.next(); !ok {
		t.Fatal("queue closed")
	}
	done := make(chan *decoded)
	go func() { d, _ := w.next(); done <- d }()
	deadline := time.Now().Add(5 * time.Second)
	for w.skipping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("an empty queue did not end the pass-over")
		}
		time.Sleep(time.Millisecond)
	}
	last := &decoded{bytes: 1}
	rd.offer(last)
	if d := <-done; d != last {
		t.Fatal("the sink did not get the batch offered after its pass-over")
	}
}
