package engine

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/failpoint"
	"github.com/inlet-dev/inlet/internal/retry"
)

// sinkRun drives one sink: it takes the batches the reader offers, reads
// from Kafka itself what it missed while busy, applies, and commits the
// sink's position to the checkpoint store, retrying on its own backoff.
//
// A batch passes, for this sink, through:
//
//	offered    the reader handed it over (or the sink read it itself to
//	           fill a gap);
//	taken      only records at or after the sink's position whose source
//	           order is above what it applied (take);
//	applied    Sink.Apply returned: the rows are durable in the sink;
//	committed  the sink's new position is in the checkpoint store; only
//	           now does the in-memory position move.
type sinkRun struct {
	e    *Engine
	sink connectors.Sink
	name string
	in   chan *decoded
	// ready is true while the sink waits on an empty queue.
	ready atomic.Bool
	// queued is the bytes of the batches in in; the reader queues at most
	// queueBytes, waits the batch wait for room, then passes the sink over
	// (skipping) until its queue is empty again — after that the sink
	// reads what it missed from Kafka.
	queued   atomic.Int64
	drained  chan struct{}
	skipping atomic.Bool
	skipMu   sync.Mutex // orders setting skipping against next's reset
	// pending is a batch taken from in while merging (merge.go) that
	// did not continue the others: next returns it first. Only run's
	// goroutine touches it.
	pending *decoded
	// done is set when run has returned.
	done atomic.Bool
	// final is the reader's position when it stopped (set before in is
	// closed).
	final map[tp]int64

	// applyMu guards the maps below and id: run's goroutine holds it while
	// it applies and commits; in a consumer group the rebalance callbacks
	// hold it to add partitions (assigned) and to drop them (revoked, once
	// the batch in flight is committed or failed). A partition is the
	// sink's while pos has it; records of others are left out.
	applyMu sync.Mutex
	pos     map[tp]int64  // next offset committed
	ord     map[tp][]byte // highest source order applied
	seen    map[tp]int64  // offset after the last record looked at
	id      uint64        // latest checkpoint id

	counts counters // reconciliation counts per table (own lock)

	mu          sync.Mutex // guards the fields below, read by status
	st          SinkStatus
	quarantined map[string]Quarantine // by topic
	resume      map[string]bool       // tables to lift, by name
	committed   map[tp]int64          // pos as last committed (never mutated)
	behind      time.Time             // when the sink last fell behind the reader (zero: caught up)
}

// SinkStatus is one sink's state for inlet status, metrics and the page.
type SinkStatus struct {
	Sink       string    `json:"sink"`
	State      string    `json:"state"` // ok, retrying, catching_up
	LagRecords int64     `json:"lag_records"`
	LagSeconds float64   `json:"lag_seconds"`
	LastCommit time.Time `json:"last_commit"`
	LastError  string    `json:"last_error,omitempty"`
	// Quarantined lists the tables this sink paused.
	Quarantined []Quarantine `json:"quarantined,omitempty"`
	// Tables are the reconciliation counts of each table the sink wrote
	// in this process (rows in and out by op, duplicates skipped, the last
	// hour per minute).
	Tables []TableCounts `json:"tables,omitempty"`
}

func newSinkRun(e *Engine, s connectors.Sink) *sinkRun {
	w := &sinkRun{e: e, sink: s, name: s.Name(), in: make(chan *decoded, 4096), drained: make(chan struct{}, 1),
		pos: map[tp]int64{}, ord: map[tp][]byte{}, seen: map[tp]int64{},
		quarantined: map[string]Quarantine{}, resume: map[string]bool{}}
	w.st = SinkStatus{Sink: w.name, State: "ok"}
	return w
}

// load reads where the sink stands: the further of its checkpoint and the
// progress it keeps itself. When the sink is ahead of its checkpoint (a
// crash between its commit and the checkpoint's), the checkpoint is
// brought up to it, so the batch history has an entry for what the sink
// holds.
func (w *sinkRun) load(ctx context.Context, parts []tp, kv kafkaView) error {
	var latest checkpoint.Batch
	if b, ok, err := w.e.o.Store.Latest(ctx, w.name); err != nil {
		return fmt.Errorf("engine: %s checkpoint: %w", w.name, err)
	} else if ok {
		latest = b
	}
	w.id = latest.ID
	if w.committed == nil {
		w.committed = map[tp]int64{}
	}
	own, err := w.sink.Progress(ctx, w.e.o.Tables)
	if err != nil {
		return fmt.Errorf("engine: %s progress: %w", w.name, err)
	}
	ahead := false
	for _, k := range parts {
		next := max(latest.Next(k.Topic, k.Partition), 0)
		if o, ok := own.Next[k]; ok && o > next {
			next, ahead = o, true
		}
		w.pos[k] = next
		w.seen[k] = next
	}
	if err := kv.sameKafka(w.name, latest, own, parts, w.pos); err != nil {
		return err
	}
	w.mu.Lock()
	w.committed = maps.Clone(w.pos)
	w.mu.Unlock()
	if ahead {
		b := checkpoint.Batch{ID: w.id + 1, Sink: w.name, Offsets: w.e.offsetsOf(w.pos), LakeVersions: own.Versions}
		if err := w.commit(ctx, b); err != nil {
			return fmt.Errorf("engine: %s checkpoint: %w", w.name, err)
		}
		w.e.o.Log.Info("checkpoint brought up to what the sink committed before a stop", "sink", w.name, "checkpoint", w.id)
	}
	return nil
}

// commit records b as the sink's next checkpoint. Alone, the engine owns
// the sink's history and b.ID must follow it; in a consumer group b holds
// the partitions this engine owns and is merged into the latest batch
// (checkpoint.CommitMerged). w.id becomes the id committed.
func (w *sinkRun) commit(ctx context.Context, b checkpoint.Batch) error {
	if w.e.o.Group == "" {
		if err := w.e.o.Store.Commit(ctx, b); err != nil {
			return err
		}
		w.id = b.ID
		return nil
	}
	nb, err := checkpoint.CommitMerged(ctx, w.e.o.Store, b)
	if err != nil {
		return err
	}
	w.id = nb.ID
	return nil
}

// run applies what the reader offers until it closes in. ctx ending means
// the engine is stopping: what is in hand is finished under sctx, nothing
// is retried.
func (w *sinkRun) run(ctx, sctx context.Context) error {
	defer w.done.Store(true)
	for {
		d, ok := w.next()
		if !ok {
			if ctx.Err() == nil && w.final != nil {
				// Replay and rebuild: catch up with where the reader ended.
				return w.retrying(ctx, sctx, func(c context.Context) error { return w.fill(c, w.final) })
			}
			return nil
		}
		d = w.merge(d)
		if err := w.retrying(ctx, sctx, func(c context.Context) error { return w.handle(c, d) }); err != nil {
			if ctx.Err() != nil {
				w.e.o.Log.Info("sink stopped with an uncommitted batch (it is re-read on restart)", "sink", w.name, "err", err)
				return nil
			}
			return err
		}
	}
}

// next waits for the next batch the reader offers; false when the reader
// has closed the queue. An empty queue ends a pass-over: the reader offers
// again, and the sink fills what it missed from Kafka before the next
// batch it takes.
func (w *sinkRun) next() (*decoded, bool) {
	if d := w.pending; d != nil {
		w.pending = nil
		return d, true
	}
	w.skipMu.Lock()
	if len(w.in) == 0 {
		w.skipping.Store(false)
		w.ready.Store(true)
		select {
		case w.e.sinkFree <- struct{}{}:
		default:
		}
	}
	w.skipMu.Unlock()
	d, ok := <-w.in
	w.ready.Store(false)
	if ok {
		w.dequeued(d)
	}
	return d, ok
}

// dequeued accounts for d leaving the queue, waking a reader waiting for
// room.
func (w *sinkRun) dequeued(d *decoded) {
	w.queued.Add(-d.bytes)
	select {
	case w.drained <- struct{}{}:
	default:
	}
}

// passOver starts passing the sink over after d did not fit its queue in
// time, and reports whether it did. The check and next's reset of the
// flag hold skipMu: a sink that emptied its queue after the reader gave up
// waiting, and waits on it now, is not marked skipped (nothing would ever
// reset it: the reader offers a skipped sink nothing, not even idle
// polls, and the sink would stand still); d is queued for it instead.
func (w *sinkRun) passOver(d *decoded) bool {
	w.skipMu.Lock()
	defer w.skipMu.Unlock()
	if len(w.in) == 0 {
		w.queued.Add(d.bytes)
		w.in <- d // an empty queue has room, and only the reader sends
		return false
	}
	w.skipping.Store(true)
	return true
}

// retrying runs fn (under sctx) with the sink's own backoff until it
// succeeds, fails permanently, or ctx ends (waits are cut short by ctx);
// each failure is an incident, and success after failures resolves it.
func (w *sinkRun) retrying(ctx, sctx context.Context, fn func(context.Context) error) error {
	err := retry.Do(ctx, retry.Backoff{}, retry.Hooks{
		OnRetry: func(err error, attempt int, wait time.Duration) {
			incidents.WithLabelValues("retried").Inc()
			w.e.o.Log.Error("incident: batch failed; retrying", "sink", w.name, "err", err, "attempt", attempt, "retry_in", wait)
			w.setState("retrying", err.Error())
		},
		OnResolved: func(attempts int) {
			w.e.o.Log.Info("incident resolved: batch committed after retry", "sink", w.name, "attempts", attempts)
			w.setState("ok", "")
		},
	}, func(context.Context) error { return fn(sctx) })
	if err != nil && ctx.Err() == nil {
		incidents.WithLabelValues("permanent").Inc()
		c := retry.Classify(err)
		w.e.o.Log.Error("incident: sink stopped", "sink", w.name, "err", err, "class", c.String(), "fix", retry.Fix(err))
		w.setState("failed", err.Error())
		return fmt.Errorf("sink %s: %w", w.name, err)
	}
	return err
}

// handle applies d, first reading from Kafka whatever the sink missed
// before it.
func (w *sinkRun) handle(ctx context.Context, d *decoded) error {
	w.liftRequested()
	if err := w.fill(ctx, d.start); err != nil {
		return err
	}
	if d.idle {
		w.caughtUp()
		if i, ok := w.sink.(connectors.Idler); ok {
			if err := i.Idle(ctx); err != nil {
				w.e.o.Log.Error("incident: idle work failed; retrying with the next batch", "sink", w.name, "err", err)
			}
		}
		return nil
	}
	if err := w.apply(ctx, d); err != nil {
		return err
	}
	w.caughtUp()
	return nil
}

// fill reads and applies, from the sink's own consumer, every partition
// where the sink has not seen up to the given offsets.
func (w *sinkRun) fill(ctx context.Context, upTo map[tp]int64) error {
	from := map[string]map[int32]kgo.Offset{}
	gap := map[tp]int64{}
	w.applyMu.Lock()
	for k, to := range upTo {
		if _, owned := w.pos[k]; owned && w.seen[k] < to && !w.isQuarantined(k.Topic) {
			if from[k.Topic] == nil {
				from[k.Topic] = map[int32]kgo.Offset{}
			}
			from[k.Topic][k.Partition] = kgo.NewOffset().At(w.seen[k])
			gap[k] = to
		}
	}
	w.applyMu.Unlock()
	if len(gap) == 0 {
		return nil
	}
	w.setState("catching_up", "")
	w.mu.Lock()
	if w.behind.IsZero() {
		w.behind = time.Now()
	}
	w.mu.Unlock()
	w.e.o.Log.Info("sink reading what it missed from Kafka", "sink", w.name, "partitions", len(gap))
	cl, err := w.e.consumer(from)
	if err != nil {
		return err
	}
	defer cl.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var applyErr error
	idle := 0
	err = w.e.poll(cctx, cl, func(d *decoded) bool {
		if d.idle {
			if idle++; idle > 50 {
				applyErr = fmt.Errorf("engine: %s found nothing more to read before the offsets the engine already read; retrying", w.name)
				return false
			}
			return true
		}
		idle = 0
		d = d.upTo(gap)
		if err := w.apply(ctx, d); err != nil {
			applyErr = err
			return false
		}
		if w.gapLeft(gap) == nil {
			cancel() // every gap filled
			return false
		}
		return true
	}, false, nil, nil)
	if applyErr != nil {
		return applyErr
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	if k := w.gapLeft(gap); k != nil {
		return fmt.Errorf("engine: %s stopped reading %s/%d before %d: %w", w.name, k.Topic, k.Partition, gap[*k], ctx.Err())
	}
	w.setState("ok", "")
	return nil
}

// gapLeft returns a partition the sink still owns and has not seen up to
// its gap's end, or nil.
func (w *sinkRun) gapLeft(gap map[tp]int64) *tp {
	w.applyMu.Lock()
	defer w.applyMu.Unlock()
	for k, to := range gap {
		if _, owned := w.pos[k]; owned && w.seen[k] < to {
			return &k
		}
	}
	return nil
}

// apply takes what the sink needs of d, applies it and commits the
// sink's new position.
func (w *sinkRun) apply(ctx context.Context, d *decoded) error {
	for {
		err := w.applyOnce(ctx, d)
		table, ok := quarantineFor(err)
		if !ok {
			return err
		}
		w.quarantine(table, err)
	}
}

// applyOnce applies what the sink takes of d, leaving out quarantined
// tables.
func (w *sinkRun) applyOnce(ctx context.Context, d *decoded) error {
	w.applyMu.Lock()
	defer w.applyMu.Unlock()
	d = d.owned(w.pos)
	start := time.Now()
	next := maps.Clone(w.pos)
	nextOrd := map[tp][]byte{}
	var tables []connectors.TableBatch
	records := 0
	in := map[string]map[string]int64{} // per table, per op
	skipped := map[string]int64{}
	for _, b := range d.batches {
		if w.isQuarantined(b.table.Topic) {
			continue // its position stays where it stopped
		}
		s := b.take(w.pos, w.ord)
		w.e.skipped(w.name, b.table.Topic, s.skipped)
		skipped[b.table.Name] += int64(s.skipped)
		for p, rg := range s.ranges {
			next[tp{Topic: b.table.Topic, Partition: p}] = rg.To + 1
		}
		for p, o := range s.ord {
			nextOrd[tp{Topic: b.table.Topic, Partition: p}] = o
		}
		if len(s.rows) == 0 && len(s.markers) == 0 {
			continue
		}
		records += len(s.rows) + len(s.markers)
		tables = append(tables, connectors.TableBatch{Table: b.table, Rows: s.rows, Markers: s.markers, Ranges: s.ranges, TopicID: w.e.topicID(b.table.Topic)})
		ops := map[string]int64{}
		for i := range s.rows {
			ops[opName(s.rows[i].Op)]++
		}
		if len(s.markers) > 0 {
			ops["marker"] += int64(len(s.markers))
		}
		in[b.table.Name] = ops
	}
	if len(tables) == 0 {
		for t, n := range skipped {
			w.counts.skip(w.name, t, n)
		}
	}
	if len(tables) > 0 {
		failed := func(err error) error {
			if w.e.o.OnBatchFailed != nil && ctx.Err() == nil {
				rows := map[string]int64{}
				for t, ops := range in {
					for _, n := range ops {
						rows[t] += n
					}
				}
				w.e.o.OnBatchFailed(BatchStats{Sink: w.name, Records: records, Tables: rows, Started: start, Elapsed: time.Since(start)}, err)
			}
			return err
		}
		res, err := w.sink.Apply(ctx, connectors.SinkBatch{ID: w.id + 1, Tables: tables})
		if err != nil {
			return failed(err)
		}
		failpoint.Hit(failpoint.AfterApplyBeforeCheckpoint(w.name))
		if err := failpoint.Fail(failpoint.CheckpointError(w.name)); err != nil {
			return failed(err)
		}
		b := checkpoint.Batch{ID: w.id + 1, Sink: w.name, Offsets: w.e.offsetsOf(next), Rows: res.Rows, LakeVersions: res.Versions}
		if err := w.commit(ctx, b); err != nil {
			return failed(fmt.Errorf("commit %s checkpoint %d: %w", w.name, b.ID, err))
		}
		now := time.Now()
		for t, ops := range in {
			w.counts.record(w.name, t, ops, res.Rows[t], skipped[t], now)
		}
		for t, n := range skipped {
			if _, ok := in[t]; !ok {
				w.counts.skip(w.name, t, n)
			}
		}
		w.pos = next
		maps.Copy(w.ord, nextOrd)
		elapsed := time.Since(start)
		batchesCommitted.WithLabelValues(w.name).Inc()
		batchSeconds.WithLabelValues(w.name).Observe(elapsed.Seconds())
		rowsWritten.WithLabelValues(w.name).Add(float64(res.Written))
		w.mu.Lock()
		w.st.LastCommit, w.committed = time.Now(), next
		w.mu.Unlock()
		w.e.o.Log.Debug("batch committed", "sink", w.name, "records", records, "rows", res.Written, "elapsed", elapsed)
		if w.e.o.OnBatch != nil {
			w.e.o.OnBatch(BatchStats{Sink: w.name, Records: records, Rows: res.Written, Tables: res.Rows, Started: start, Elapsed: elapsed})
		}
	}
	for k, end := range d.ends {
		w.seen[k] = max(w.seen[k], end)
	}
	w.publishLag()
	return nil
}

// owned returns d without the records of partitions pos lacks (in a
// consumer group: partitions given up since d was read). d itself when it
// has none.
func (d *decoded) owned(pos map[tp]int64) *decoded {
	limit := map[tp]int64{}
	all := true
	for k := range d.ends {
		if _, ok := pos[k]; ok {
			limit[k] = math.MaxInt64
		} else {
			all = false
		}
	}
	if all {
		return d
	}
	return d.upTo(limit)
}

// upTo returns the part of d below the given offsets (a gap's end).
func (d *decoded) upTo(limit map[tp]int64) *decoded {
	out := &decoded{records: d.records, firstOffset: d.firstOffset, ends: map[tp]int64{}}
	for k, end := range d.ends {
		if l, ok := limit[k]; ok {
			out.ends[k] = min(end, l)
		}
	}
	for _, b := range d.batches {
		nb := &tableBatch{table: b.table}
		for i, r := range b.rows {
			if l, ok := limit[tp{Topic: b.table.Topic, Partition: r.Partition}]; ok && r.Offset < l {
				nb.rows = append(nb.rows, r)
				nb.rowOrd = append(nb.rowOrd, b.rowOrd[i])
			}
		}
		for i, m := range b.markers {
			if l, ok := limit[tp{Topic: b.table.Topic, Partition: m.Partition}]; ok && m.Offset < l {
				nb.markers = append(nb.markers, m)
				nb.markerOrd = append(nb.markerOrd, b.markerOrd[i])
			}
		}
		if len(nb.rows)+len(nb.markers) > 0 {
			out.batches = append(out.batches, nb)
		}
	}
	return out
}

// caughtUp notes that the sink holds everything the reader has read.
func (w *sinkRun) caughtUp() {
	w.mu.Lock()
	w.behind = time.Time{}
	w.mu.Unlock()
	w.publishLag()
}

func (w *sinkRun) setState(state, errText string) {
	w.mu.Lock()
	w.st.State, w.st.LastError = state, errText
	if state != "ok" && w.behind.IsZero() {
		w.behind = time.Now()
	}
	w.mu.Unlock()
}

// publishLag updates the lag metrics from the sink's position.
func (w *sinkRun) publishLag() {
	st := w.status()
	lagRecords.WithLabelValues(w.name).Set(float64(st.LagRecords))
	lagSeconds.WithLabelValues(w.name).Set(st.LagSeconds)
}

// status returns the sink's state; lag is measured against the highest
// offsets the sink has seen offered (records), and since when it has been
// behind (seconds).
func (w *sinkRun) status() SinkStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	st.Tables = w.counts.snapshot(time.Now())
	for _, q := range w.quarantined {
		st.Quarantined = append(st.Quarantined, q)
	}
	sort.Slice(st.Quarantined, func(i, j int) bool { return st.Quarantined[i].Table < st.Quarantined[j].Table })
	if !w.behind.IsZero() {
		st.LagSeconds = time.Since(w.behind).Seconds()
	}
	if rp := w.e.readerPos.Load(); rp != nil {
		for k, r := range *rp {
			if p := w.committed[k]; r > p {
				st.LagRecords += r - p
			}
		}
	}
	return st
}

// skipped records, counts and logs records a sink already held by their
// source order: the same change published twice, which only a broker that
// served a lost transaction as committed produces.
func (e *Engine) skipped(sink, topic string, n int) {
	if n == 0 {
		return
	}
	duplicatesSkipped.WithLabelValues(sink).Add(float64(n))
	e.o.Log.Warn("incident: skipped records the sink already holds (a source change published twice)",
		"sink", sink, "topic", topic, "records", n)
}

// offsetsOf is a checkpoint's offsets for positions m, with their topic ids.
func (e *Engine) offsetsOf(m map[tp]int64) []checkpoint.Offset {
	out := make([]checkpoint.Offset, 0, len(m))
	for k, v := range m {
		out = append(out, checkpoint.Offset{Topic: k.Topic, Partition: k.Partition, Next: v, TopicID: e.topicID(k.Topic)})
	}
	checkpoint.SortOffsets(out)
	return out
}
