package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// reader polls micro-batches from the shared consumer, decodes them and
// offers each to every sink.
type reader struct {
	e  *Engine
	cl *kgo.Client
	// mu guards pos: in a consumer group, the rebalance callbacks add and
	// drop partitions.
	mu sync.Mutex
	// pos is, per partition read, the offset after the last record read.
	pos map[tp]int64
}

// run reads until ctx is done (the batch in hand is still offered) or, with
// StopWhenIdle, nothing arrives for a few polls.
func (rd *reader) run(ctx context.Context) error {
	e := rd.e
	var allow func()
	if e.o.Group != "" {
		// Rebalances wait while the reader holds polled records (so no
		// partition changes hands under a batch being cut); they may run
		// once it has offered them.
		allow = rd.cl.AllowRebalance
	}
	return e.poll(ctx, rd.cl, func(d *decoded) bool {
		rd.mu.Lock()
		d.start = maps.Clone(rd.pos)
		for k, end := range d.ends {
			if _, ok := rd.pos[k]; ok {
				rd.pos[k] = end
			}
		}
		e.readerPos.Store(new(maps.Clone(rd.pos)))
		rd.mu.Unlock()
		return rd.offer(d)
	}, e.o.StopWhenIdle, rd.sinkWaiting, allow)
}

// sinkWaiting reports whether some sink waits for a batch or, with all,
// whether every sink the reader offers batches to does (sinks passed over
// read from Kafka themselves).
func (rd *reader) sinkWaiting(all bool) bool {
	some := false
	for _, w := range rd.e.sinks {
		if w.done.Load() || (all && w.skipping.Load()) {
			continue
		}
		if !w.ready.Load() {
			if all {
				return false
			}
			continue
		}
		if !all {
			return true
		}
		some = true
	}
	return some
}

// offer queues d for every sink, each up to queueBytes of batches. A sink
// whose queue stays full for the batch wait (down, frozen, retrying, or
// just slower) is passed over until it has emptied its queue; it then
// reads what it missed from Kafka itself, so no sink holds up another and
// none buffers more than its queue. It returns false when no sink will
// take anything any more.
func (rd *reader) offer(d *decoded) bool {
	e := rd.e
	deadline := time.Now().Add(max(e.o.BatchWait, 200*time.Millisecond))
	alive := false
	for _, w := range e.sinks {
		if w.done.Load() {
			continue
		}
		alive = true
		switch {
		case w.skipping.Load():
		case d.idle:
			if w.ready.Load() && len(w.in) == 0 {
				select {
				case w.in <- d:
				default:
				}
			}
		case !rd.queue(w, d, deadline):
			if beforePassOver != nil {
				beforePassOver(w)
			}
			if w.passOver(d) {
				e.o.Log.Warn("sink is busy; passing it over (it catches up from Kafka when free)", "sink", w.name, "queued_bytes", w.queued.Load())
			}
		}
	}
	return alive
}

// beforePassOver, when set (tests), runs between a sink's queue staying
// full past the deadline and the pass-over.
var beforePassOver func(w *sinkRun)

// queue puts d in w's queue when its bytes fit (or the queue is empty),
// waiting for room until deadline; it reports whether d was queued.
func (rd *reader) queue(w *sinkRun, d *decoded, deadline time.Time) bool {
	budget := int64(max(2*rd.e.o.BatchBytes, 8<<20))
	for {
		if q := w.queued.Load(); q == 0 || q+d.bytes <= budget {
			w.queued.Add(d.bytes)
			select {
			case w.in <- d:
				return true
			default:
				w.queued.Add(-d.bytes) // full by count
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(left)
		select {
		case <-w.drained:
			t.Stop()
		case <-t.C:
			return false
		}
	}
}

// poll cuts micro-batches from cl and passes each, decoded, to emit (and
// idle polls as decoded{idle}) until ctx is done (the batch in hand is
// still emitted), emit returns false, or, with stopWhenIdle, nothing
// arrives for a few polls. allow, if set, is called whenever no polled
// record is held (a group consumer's AllowRebalance).
//
// A batch is cut at the record, byte or time limit, when a poll finds
// nothing more, or — when waiting(false) (if set) says a sink waits for
// work — as soon as the client holds no more fetched records: at moderate
// rates a change then waits in the engine for one fetch, not for
// batch_wait. While the sinks are busy the batch keeps growing until all
// of them are free (waiting(true), cutWhenSinkFree).
//
// N.B. Cutting only once every partition is read up to its last stable
// offset (batches of batch_bytes during a bulk load, instead of about one
// fetch each) was measured and made the 2M-row snapshot into the lake and
// ClickHouse slower (10.0-10.4 s against 8.5-9.9 s): larger batches keep
// more live under the external-broker memory limit (256 MiB), and the
// collector works harder than the sinks save.
func (e *Engine) poll(ctx context.Context, cl *kgo.Client, emit func(*decoded) bool, stopWhenIdle bool, waiting func(all bool) bool, allow func()) error {
	var pending []*kgo.Record
	var bytes int
	var first time.Time
	idle := 0
	for {
		wait := e.o.BatchWait
		if len(pending) > 0 {
			wait -= time.Since(first)
		}
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		stopWatch := e.cutWhenSinkFree(len(pending) > 0, waiting, cancel)
		fs := cl.PollRecords(pctx, e.o.BatchRecords-len(pending))
		stopWatch()
		cancel()
		var fetchErr, fenced, lost error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, kerr.FencedInstanceID) {
				fenced = err
				return
			}
			if l := dataLoss(err); l != nil {
				lost = l
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("engine: fetch %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			e.o.Log.Warn("fetch error", "err", fetchErr)
		}
		if lost != nil {
			return lost
		}
		if f := e.fatal.Load(); f != nil {
			return *f
		}
		if fenced != nil {
			// Another running engine took this one's place in the group;
			// two engines sharing an id would keep fencing each other.
			return fmt.Errorf("engine: another engine joined the consumer group with engine.instance_id %q and took this one's place; give each engine process its own instance_id (e.g. ${HOSTNAME}): %w", e.o.InstanceID, fenced)
		}
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			if len(pending) == 0 {
				first = time.Now()
			}
			pending = append(pending, r)
			bytes += change.BudgetBytes(r.Value) + len(r.Key)
			got++
		})
		stopping := ctx.Err() != nil
		if got == 0 && len(pending) == 0 {
			if idle++; stopWhenIdle && idle >= 3 {
				return nil
			}
			if !stopping && !emit(&decoded{idle: true}) {
				return nil
			}
		} else {
			idle = 0
		}
		drained := got > 0 && waiting != nil && cl.BufferedFetchRecords() == 0 && waiting(false)
		if len(pending) > 0 && (stopping || got == 0 || drained || len(pending) >= e.o.BatchRecords ||
			bytes >= e.o.BatchBytes || time.Since(first) >= e.o.BatchWait) {
			dctx, cancel := ctx, context.CancelFunc(func() {})
			if stopping {
				dctx, cancel = context.WithTimeout(context.Background(), time.Minute)
			}
			d, err := e.decodeWithRetry(dctx, pending, bytes)
			cancel()
			if err != nil {
				return err
			}
			if !emit(d) {
				return nil
			}
			// The batch holds nothing of the records (decode copies what
			// it keeps): reuse the slice, dropping the references.
			clear(pending)
			pending, bytes = pending[:0], 0
		}
		if stopping {
			return nil
		}
		if allow != nil && len(pending) == 0 {
			allow()
		}
	}
}

// cutWhenSinkFree, while the reader holds records (holding) and polls for
// more, ends that poll (cancel) as soon as every sink offered batches
// waits for work: the records then go out as a batch at once instead of at
// the batch wait, which is what sinks that finish just after the last
// records arrived would otherwise wait for. Every sink, not one: in a bulk
// load the lake is free long before ClickHouse, and cutting then would
// queue many small batches for ClickHouse instead of one that grew while
// it worked. It returns the function that stops watching.
func (e *Engine) cutWhenSinkFree(holding bool, waiting func(all bool) bool, cancel context.CancelFunc) (stop func()) {
	if !holding || waiting == nil {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-e.sinkFree:
				if waiting(true) {
					cancel()
					return
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-exited }
}

// decodeWithRetry decodes a batch, retrying what may pass (a schema not
// yet readable) and stopping on undecodable data.
func (e *Engine) decodeWithRetry(ctx context.Context, recs []*kgo.Record, size int) (*decoded, error) {
	var d *decoded
	err := retry.Do(ctx, retry.Backoff{}, retry.Hooks{
		OnRetry: func(err error, attempt int, wait time.Duration) {
			incidents.WithLabelValues("retried").Inc()
			e.o.Log.Error("incident: batch failed to decode; retrying", "err", err, "attempt", attempt,
				"first_offset", recs[0].Offset, "records", len(recs), "retry_in", wait)
		},
		OnResolved: func(attempts int) {
			e.o.Log.Info("incident resolved: batch succeeded in decoding after retry", "attempts", attempts)
		},
	}, func(ctx context.Context) error {
		var err error
		d, err = e.decode(ctx, recs, size)
		return err
	})
	if err != nil && retry.Classify(err) != retry.Retriable {
		incidents.WithLabelValues("permanent").Inc()
		e.o.Log.Error("incident: batch cannot be decoded", "err", err, "first_offset", recs[0].Offset, "records", len(recs))
	}
	return d, err
}

// decoded is a micro-batch read and decoded, ready for the sinks; idle
// marks a poll that found nothing.
type decoded struct {
	batches     []*tableBatch // by table name
	records     int
	firstOffset int64
	idle        bool
	// start is the reader's position before this batch (offset after the
	// last record read, per partition); ends is, per partition the batch
	// read from, the offset after its last record.
	start map[tp]int64
	ends  map[tp]int64
	bytes int64 // keys and values read
}

// decode turns a batch's records into rows per table; size is their
// budget bytes, as the poll that read them counted.
func (e *Engine) decode(ctx context.Context, recs []*kgo.Record, size int) (*decoded, error) {
	// Records per topic, to size each table's rows once (topics come in
	// runs, so this costs a map update per run, not per record).
	count := map[string]int{}
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].Topic == recs[i].Topic {
			j++
		}
		count[recs[i].Topic] += j - i
		i = j
	}
	ends := map[tp]int64{}
	for _, r := range recs {
		ends[tp{Topic: r.Topic, Partition: r.Partition}] = r.Offset + 1
	}
	byTopic := map[string]*tableBatch{}
	var sc *change.Schema // the previous record's schema, usually this one's too
	var dec change.Decoder
	// Orders are copied out of the records: a record's bytes alias its
	// whole decompressed fetch, which would otherwise stay alive as long
	// as any sink holds this batch.
	var ords []byte
	for _, r := range recs {
		t, ok := e.byTopic[r.Topic]
		if !ok {
			continue
		}
		var fp, order []byte
		for _, h := range r.Headers {
			switch h.Key {
			case change.HeaderSchema:
				fp = h.Value
			case kafka.HeaderOrder:
				order = h.Value
			}
		}
		if sc == nil || sc.Topic != r.Topic || sc.Fingerprint != string(fp) {
			var err error
			if sc, err = e.schemas.get(ctx, r.Topic, string(fp)); err != nil {
				return nil, err
			}
		}
		ev, err := dec.Decode(r.Value, sc)
		if err != nil {
			return nil, retry.MarkPermanent(fmt.Errorf("topic %s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err))
		}
		row := change.Row{Schema: sc, Op: ev.Op, Values: ev.After, Before: ev.Before, Version: ev.Source.CommitLSN,
			TsMs: ev.Source.TsMs, Partition: r.Partition, Offset: r.Offset}
		if ev.Op == change.OpDelete {
			row.Values, row.Before = ev.Before, nil
		}
		if ev.Op == change.OpTruncate {
			// Every row of the table before this position is gone; the
			// sinks record it (a marker row, rows marked deleted).
			row.Values, row.Before = make([]any, len(sc.Columns)), nil
		}
		if row.Values == nil && ev.Op != change.OpRefreshDone {
			continue
		}
		b := byTopic[r.Topic]
		if b == nil {
			n := count[r.Topic]
			b = &tableBatch{table: t, rows: make([]change.Row, 0, n), rowOrd: make([][]byte, 0, n)}
			byTopic[r.Topic] = b
		}
		if order != nil {
			if len(ords)+len(order) > cap(ords) {
				ords = make([]byte, 0, max(64<<10, len(order)))
			}
			ords = append(ords, order...)
			order = ords[len(ords)-len(order) : len(ords) : len(ords)]
		}
		if ev.Op == change.OpRefreshDone {
			b.markers = append(b.markers, change.Marker{Gen: ev.Source.CommitLSN, Rows: int64(ev.Source.Seq), Partition: r.Partition, Offset: r.Offset})
			b.markerOrd = append(b.markerOrd, order)
		} else {
			b.rows = append(b.rows, row)
			b.rowOrd = append(b.rowOrd, order)
		}
	}
	batches := make([]*tableBatch, 0, len(byTopic))
	for _, b := range byTopic {
		batches = append(batches, b)
	}
	sort.Slice(batches, func(i, j int) bool { return batches[i].table.Name < batches[j].table.Name })
	return &decoded{batches: batches, records: len(recs), firstOffset: recs[0].Offset, ends: ends, bytes: int64(size)}, nil
}
