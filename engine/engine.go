package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/change"
	"github.com/inlet-dev/inlet/internal/failpoint"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/lake"
)

// Sink names in the checkpoint store.
const (
	SinkLake       = "lake"
	SinkClickHouse = "clickhouse"
)

// Table is one change topic and the source table it carries.
type Table struct {
	Topic string
	Name  string // schema.table
	// FullRefresh tables get whole copies closed by markers, which the
	// sinks swap in atomically.
	FullRefresh bool
}

// Options configure an engine.
type Options struct {
	Brokers      []string
	Pipeline     string
	Tables       []Table
	BatchRecords int
	BatchBytes   int
	BatchWait    time.Duration
	Lake         *lake.Lake       // nil: no lake sink
	ClickHouse   *clickhouse.Sink // nil: no ClickHouse sink
	Store        checkpoint.Store
	Log          *slog.Logger
	// OnBatch, if set, is called after each committed batch.
	OnBatch func(BatchStats)
	// StopWhenIdle makes Run return once nothing new arrives for a few
	// polls (replay and rebuild, which run while no source writes).
	StopWhenIdle bool
}

// BatchStats describes one committed micro-batch.
type BatchStats struct {
	Records  int
	LakeRows int
	CHRows   int
	Elapsed  time.Duration
}

type tp struct {
	topic string
	part  int32
}

// Engine materializes change topics into the sinks.
type Engine struct {
	o       Options
	schemas *schemaCache
	byTopic map[string]Table
	lakePos map[tp]int64 // next offset the lake needs
	chPos   map[tp]int64 // next offset ClickHouse needs
	// Highest source order each sink applied per partition: a record
	// whose order is not above it is a change the sink already holds.
	lakeOrd map[tp][]byte
	chOrd   map[tp][]byte
	lakeID  uint64
	chID    uint64
}

// New validates options and returns an engine.
func New(o Options) (*Engine, error) {
	if o.Lake == nil && o.ClickHouse == nil {
		return nil, errors.New("engine: no sinks configured")
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = 100_000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 32 << 20
	}
	if o.BatchWait <= 0 {
		o.BatchWait = time.Second
	}
	e := &Engine{o: o, schemas: newSchemaCache(o.Brokers, o.Pipeline), byTopic: map[string]Table{},
		lakePos: map[tp]int64{}, chPos: map[tp]int64{}, lakeOrd: map[tp][]byte{}, chOrd: map[tp][]byte{}}
	for _, t := range o.Tables {
		e.byTopic[t.Topic] = t
	}
	return e, nil
}

// positions loads where each sink stands and returns the offsets to consume
// from.
func (e *Engine) positions(ctx context.Context) (map[string]map[int32]kgo.Offset, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.o.Brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	topics := make([]string, 0, len(e.o.Tables))
	for _, t := range e.o.Tables {
		topics = append(topics, t.Topic)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("engine: list partitions: %w", err)
	}
	var chBatch checkpoint.Batch
	if e.o.ClickHouse != nil {
		b, ok, err := e.o.Store.Latest(ctx, SinkClickHouse)
		if err != nil {
			return nil, err
		}
		if ok {
			chBatch, e.chID = b, b.ID
		}
	}
	if b, ok, err := e.o.Store.Latest(ctx, SinkLake); err != nil {
		return nil, err
	} else if ok {
		e.lakeID = b.ID
	}
	out := map[string]map[int32]kgo.Offset{}
	var missing []string
	for _, t := range e.o.Tables {
		parts, ok := ends[t.Topic]
		if !ok || len(parts) == 0 {
			missing = append(missing, t.Topic)
			continue
		}
		out[t.Topic] = map[int32]kgo.Offset{}
		for p, lo := range parts {
			if lo.Err != nil {
				return nil, fmt.Errorf("engine: topic %s: %w", t.Topic, lo.Err)
			}
			k := tp{t.Topic, p}
			start := int64(-1)
			if e.o.Lake != nil {
				tbl, err := e.o.Lake.Table(t.Name)
				if err != nil {
					return nil, err
				}
				if p == 0 {
					removed, err := e.o.Lake.RemoveOrphans(t.Name)
					if err != nil {
						return nil, fmt.Errorf("engine: clean lake table %s: %w", t.Name, err)
					}
					if len(removed) > 0 {
						e.o.Log.Info("removed files of an uncommitted lake batch", "table", t.Name, "files", len(removed))
					}
				}
				next := int64(0)
				if v, ok := tbl.TxnVersion(e.o.Lake.AppID(t.Topic, p)); ok {
					next = v + 1
				}
				e.lakePos[k] = next
				start = next
				if e.lakeOrd[k], err = kafka.OrderBefore(ctx, e.o.Brokers, t.Topic, p, next); err != nil {
					return nil, fmt.Errorf("engine: lake position of %s/%d: %w", t.Topic, p, err)
				}
			}
			if e.o.ClickHouse != nil {
				next := chBatch.Next(t.Topic, p)
				if next < 0 {
					next = 0
				}
				e.chPos[k] = next
				if lnext, ok := e.lakePos[k]; ok && lnext == next {
					e.chOrd[k] = e.lakeOrd[k] // the usual case: both sinks at one offset
				} else {
					var err error
					if e.chOrd[k], err = kafka.OrderBefore(ctx, e.o.Brokers, t.Topic, p, next); err != nil {
						return nil, fmt.Errorf("engine: clickhouse position of %s/%d: %w", t.Topic, p, err)
					}
				}
				if start < 0 || next < start {
					start = next
				}
			}
			out[t.Topic][p] = kgo.NewOffset().At(start)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("engine: topics %s do not exist yet; start the sources first (inlet run without --only engine)", strings.Join(missing, ", "))
	}
	return out, nil
}

// Run consumes and materializes until ctx is cancelled; the batch in hand
// is then finished and committed.
func (e *Engine) Run(ctx context.Context) error {
	var offsets map[string]map[int32]kgo.Offset
	for {
		var err error
		if offsets, err = e.positions(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		e.o.Log.Warn("engine waiting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	for t, parts := range offsets {
		for p, o := range parts {
			e.o.Log.Info("engine consuming", "topic", t, "partition", p, "from", o.EpochOffset().Offset,
				"lake_next", e.lakePos[tp{t, p}], "clickhouse_next", e.chPos[tp{t, p}])
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(e.o.Brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(offsets),
		// Fetched data waits in memory until the batch that holds it is
		// written (decompressed, it is several times what was fetched):
		// fetch in moderate steps so memory stays bounded.
		kgo.FetchMaxBytes(16<<20),
		kgo.FetchMaxPartitionBytes(8<<20),
		kgo.MaxConcurrentFetches(1),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.WithLogger(kafka.Logger{L: e.o.Log}),
	)
	if err != nil {
		return fmt.Errorf("engine: kafka consumer: %w", err)
	}
	defer cl.Close()

	// Two stages: the reader polls and decodes the next micro-batch while
	// the writer commits the previous one to the sinks. The hand-over is
	// unbuffered: the reader holds one decoded batch at most while the
	// writer works, so memory stays at about two batches.
	ready := make(chan *decoded)
	quit := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(ready)
		readErr <- e.read(ctx, cl, ready, quit)
	}()
	defer func() {
		close(quit)
		for range ready { // let the reader finish
		}
	}()
	for d := range ready {
		if d.idle {
			if e.o.ClickHouse != nil && ctx.Err() == nil {
				// Full-refresh summaries whose interval has passed.
				if err := e.o.ClickHouse.RefreshSummaries(ctx); err != nil && ctx.Err() == nil {
					e.o.Log.Error("incident: summary refresh failed; retrying with the next batch", "err", err)
				}
			}
			continue
		}
		bctx := ctx
		if ctx.Err() != nil {
			// Stopping: finish what was read, bounded.
			var c context.CancelFunc
			bctx, c = context.WithTimeout(context.Background(), time.Minute)
			defer c()
		}
		if err := e.commitWithRetry(bctx, d); err != nil {
			return err
		}
	}
	return <-readErr
}

// read polls micro-batches, decodes them and hands them to the writer
// until ctx is done (the batch in hand is still handed over) or, with
// StopWhenIdle, nothing arrives for a few polls.
func (e *Engine) read(ctx context.Context, cl *kgo.Client, ready chan<- *decoded, quit <-chan struct{}) error {
	send := func(d *decoded) bool {
		select {
		case ready <- d:
			return true
		case <-quit:
			return false
		}
	}
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
		fs := cl.PollRecords(pctx, e.o.BatchRecords-len(pending))
		cancel()
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("engine: fetch %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			e.o.Log.Warn("fetch error", "err", fetchErr)
		}
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			if len(pending) == 0 {
				first = time.Now()
			}
			pending = append(pending, r)
			bytes += len(r.Value) + len(r.Key)
			got++
		})
		stopping := ctx.Err() != nil
		if got == 0 && len(pending) == 0 {
			if idle++; e.o.StopWhenIdle && idle >= 3 {
				return nil
			}
			if !stopping && !send(&decoded{idle: true}) {
				return nil
			}
		} else {
			idle = 0
		}
		if len(pending) > 0 && (stopping || got == 0 || len(pending) >= e.o.BatchRecords ||
			bytes >= e.o.BatchBytes || time.Since(first) >= e.o.BatchWait) {
			dctx, cancel := ctx, context.CancelFunc(func() {})
			if stopping {
				dctx, cancel = context.WithTimeout(context.Background(), time.Minute)
			}
			d, err := e.decodeWithRetry(dctx, pending)
			cancel()
			if err != nil {
				return err
			}
			if !send(d) {
				return nil
			}
			// The writer holds the records now: start a new slice.
			pending, bytes = make([]*kgo.Record, 0, min(e.o.BatchRecords, 1<<16)), 0
		}
		if stopping {
			return nil
		}
	}
}

// decodeWithRetry decodes a batch, retrying what may pass (a schema not
// yet readable) and stopping on undecodable data.
func (e *Engine) decodeWithRetry(ctx context.Context, recs []*kgo.Record) (*decoded, error) {
	backoff := 500 * time.Millisecond
	for {
		d, err := e.decode(ctx, recs)
		if err == nil {
			return d, nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			incidents.WithLabelValues("permanent").Inc()
			e.o.Log.Error("incident: batch failed permanently", "err", err, "first_offset", recs[0].Offset, "records", len(recs))
			return nil, err
		}
		incidents.WithLabelValues("retried").Inc()
		e.o.Log.Error("incident: batch failed to decode; retrying", "err", err, "records", len(recs), "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("engine stopped with an undecoded batch (it is re-read on restart): %w", err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (e *Engine) commitWithRetry(ctx context.Context, d *decoded) error {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := e.commit(ctx, d)
		if err == nil {
			if attempt > 1 {
				e.o.Log.Info("incident resolved: batch committed after retry", "attempts", attempt)
			}
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			incidents.WithLabelValues("permanent").Inc()
			e.o.Log.Error("incident: batch failed permanently", "err", err, "first_offset", d.firstOffset, "records", d.records)
			return err
		}
		incidents.WithLabelValues("retried").Inc()
		e.o.Log.Error("incident: batch failed; retrying", "err", err, "attempt", attempt, "records", d.records, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("engine stopped with an uncommitted batch (it is re-read on restart): %w", err)
		case <-time.After(backoff):
		}
		if backoff < 30*time.Second {
			backoff *= 2
		}
	}
}

// decoded is a micro-batch read and decoded, ready for the sinks; idle
// marks a poll that found nothing.
type decoded struct {
	batches     []*tableBatch // by table name
	records     int
	firstOffset int64
	idle        bool
}

// permanentError is a batch error that retrying cannot fix (bad data).
type permanentError struct{ error }

// tableBatch is what one micro-batch holds of one table.
type tableBatch struct {
	table     Table
	rows      []change.Row
	rowOrd    [][]byte      // each row's source order (nil: none)
	markers   []lake.Marker // full refresh markers
	markerOrd [][]byte
}

// sinkPart is what one sink takes of a table batch.
type sinkPart struct {
	rows    []change.Row
	markers []lake.Marker
	ranges  map[int32]lake.Range // offsets of what it takes, per partition
	ord     map[int32][]byte     // highest order it takes, per partition
	skipped int                  // records it already holds by source order
}

// take returns what a sink at positions next, having applied orders up to
// ord, still needs: records at or after its next offset whose source order
// (when they have one) is above what it applied. Skipped records do not
// count in the ranges, so the sink's position stays on the last record it
// applied and a restart finds that record's order there.
func (b *tableBatch) take(next map[tp]int64, ord map[tp][]byte) sinkPart {
	s := sinkPart{ranges: map[int32]lake.Range{}, ord: map[int32][]byte{}, rows: make([]change.Row, 0, len(b.rows))}
	type part struct {
		next int64
		hi   []byte // highest order applied or taken
		rg   lake.Range
		took bool
	}
	parts := map[int32]*part{}
	finish := func() sinkPart {
		for p, st := range parts {
			if st.took {
				s.ranges[p] = st.rg
				if st.hi != nil {
					s.ord[p] = st.hi
				}
			}
		}
		return s
	}
	want := func(p int32, off int64, o []byte) bool {
		st := parts[p]
		if st == nil {
			k := tp{b.table.Topic, p}
			st = &part{next: next[k], hi: ord[k]}
			parts[p] = st
		}
		if off < st.next {
			return false
		}
		if o != nil && st.hi != nil && bytes.Compare(o, st.hi) <= 0 {
			s.skipped++
			return false
		}
		if o != nil {
			st.hi = o
		}
		if !st.took {
			st.rg.From, st.took = off, true
		}
		st.rg.To = off
		return true
	}
	if len(b.markers) == 0 {
		for i, r := range b.rows {
			if want(r.Partition, r.Offset, b.rowOrd[i]) {
				s.rows = append(s.rows, r)
			}
		}
		return finish()
	}
	// Full refresh markers interleave with rows: walk each partition in
	// offset order (orders rise with offsets).
	type item struct {
		p      int32
		off    int64
		i      int
		marker bool
	}
	items := make([]item, 0, len(b.rows)+len(b.markers))
	for i, r := range b.rows {
		items = append(items, item{r.Partition, r.Offset, i, false})
	}
	for i, m := range b.markers {
		items = append(items, item{m.Partition, m.Offset, i, true})
	}
	sort.Slice(items, func(x, y int) bool {
		if items[x].p != items[y].p {
			return items[x].p < items[y].p
		}
		return items[x].off < items[y].off
	})
	for _, it := range items {
		switch {
		case it.marker && want(it.p, it.off, b.markerOrd[it.i]):
			s.markers = append(s.markers, b.markers[it.i])
		case !it.marker && want(it.p, it.off, b.rowOrd[it.i]):
			s.rows = append(s.rows, b.rows[it.i])
		}
	}
	return finish()
}

// decode turns a batch's records into rows per table.
func (e *Engine) decode(ctx context.Context, recs []*kgo.Record) (*decoded, error) {
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
	byTopic := map[string]*tableBatch{}
	var sc *change.Schema // the previous record's schema, usually this one's too
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
		ev, err := change.Decode(r.Value, sc)
		if err != nil {
			return nil, permanentError{fmt.Errorf("topic %s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)}
		}
		row := change.Row{Schema: sc, Op: ev.Op, Values: ev.After, Before: ev.Before, Version: ev.Source.CommitLSN,
			TsMs: ev.Source.TsMs, Partition: r.Partition, Offset: r.Offset}
		if ev.Op == change.OpDelete {
			row.Values, row.Before = ev.Before, nil
		}
		if row.Values == nil && ev.Op != change.OpRefreshDone {
			continue // e.g. truncate markers
		}
		b := byTopic[r.Topic]
		if b == nil {
			n := count[r.Topic]
			b = &tableBatch{table: t, rows: make([]change.Row, 0, n), rowOrd: make([][]byte, 0, n)}
			byTopic[r.Topic] = b
		}
		if ev.Op == change.OpRefreshDone {
			b.markers = append(b.markers, lake.Marker{Gen: ev.Source.CommitLSN, Rows: int64(ev.Source.Seq), Partition: r.Partition, Offset: r.Offset})
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
	return &decoded{batches: batches, records: len(recs), firstOffset: recs[0].Offset}, nil
}

// commit writes a decoded batch to the lake, then ClickHouse, each followed
// by its checkpoint.
func (e *Engine) commit(ctx context.Context, d *decoded) error {
	start := time.Now()
	batches := d.batches
	stats := BatchStats{Records: d.records}

	if e.o.Lake != nil {
		rows := map[string]int64{}
		versions := map[string]int64{}
		wrote := false
		for _, b := range batches {
			n, topic := b.table.Name, b.table.Topic
			s := b.take(e.lakePos, e.lakeOrd)
			e.skipped(SinkLake, topic, s.skipped)
			keep, markers, ranges := s.rows, s.markers, s.ranges
			if len(keep) == 0 && len(markers) == 0 {
				continue
			}
			info := map[string]any{"pipeline": e.o.Pipeline, "topic": topic, "batch": e.lakeID + 1, "source_table": n}
			v, did, err := e.o.Lake.Write(ctx, lake.Batch{Table: n, Topic: topic, Rows: keep, Ranges: ranges, Info: info,
				FullRefresh: b.table.FullRefresh, Markers: markers})
			if err != nil {
				return err
			}
			for p, rg := range ranges {
				e.lakePos[tp{topic, p}] = rg.To + 1
			}
			for p, o := range s.ord {
				e.lakeOrd[tp{topic, p}] = o
			}
			if did {
				wrote = true
				rows[n] = int64(len(keep))
				versions[n] = v
				stats.LakeRows += len(keep)
			}
		}
		if wrote {
			e.lakeID++
			if err := e.o.Store.Commit(ctx, checkpoint.Batch{ID: e.lakeID, Sink: SinkLake, Offsets: offsetsOf(e.lakePos), Rows: rows, LakeVersions: versions}); err != nil {
				e.lakeID--
				return err
			}
		}
	}
	if e.o.ClickHouse != nil {
		failpoint.Hit(failpoint.EngineAfterLakeBeforeClickHouse)
		rows := map[string]int64{}
		next := map[tp]int64{}
		for k, v := range e.chPos {
			next[k] = v
		}
		nextOrd := map[tp][]byte{}
		for _, b := range batches {
			n, topic := b.table.Name, b.table.Topic
			s := b.take(e.chPos, e.chOrd)
			e.skipped(SinkClickHouse, topic, s.skipped)
			keep, markers := s.rows, s.markers
			for p, rg := range s.ranges {
				next[tp{topic, p}] = rg.To + 1
			}
			for p, o := range s.ord {
				nextOrd[tp{topic, p}] = o
			}
			if len(keep) == 0 && len(markers) == 0 {
				continue
			}
			var n2 int
			var err error
			if b.table.FullRefresh {
				n2, err = e.o.ClickHouse.WriteRefresh(ctx, n, keep, markers)
			} else {
				n2, err = e.o.ClickHouse.Write(ctx, keep)
			}
			if err != nil {
				return err
			}
			rows[n] = int64(len(keep))
			stats.CHRows += n2
		}
		if len(rows) > 0 {
			failpoint.Hit(failpoint.EngineAfterClickHouseBeforeCheckpoint)
			// Summaries before the checkpoint: a committed batch is
			// reflected in every summary (a crash before this point
			// re-reads the batch, and the pending partitions are redone).
			if err := e.o.ClickHouse.RefreshSummaries(ctx); err != nil {
				if errors.Is(err, clickhouse.ErrSummaryCheck) {
					return permanentError{err}
				}
				return err
			}
			if err := e.o.Store.Commit(ctx, checkpoint.Batch{ID: e.chID + 1, Sink: SinkClickHouse, Offsets: offsetsOf(next), Rows: rows}); err != nil {
				return err
			}
			e.chID++
			e.chPos = next
			for k, o := range nextOrd {
				e.chOrd[k] = o
			}
		}
	}
	stats.Elapsed = time.Since(start)
	batchesCommitted.Inc()
	batchSeconds.Observe(stats.Elapsed.Seconds())
	rowsWritten.WithLabelValues(SinkLake).Add(float64(stats.LakeRows))
	rowsWritten.WithLabelValues(SinkClickHouse).Add(float64(stats.CHRows))
	e.o.Log.Debug("batch committed", "records", stats.Records, "lake_rows", stats.LakeRows, "clickhouse_rows", stats.CHRows, "elapsed", stats.Elapsed)
	if e.o.OnBatch != nil {
		e.o.OnBatch(stats)
	}
	return nil
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

func offsetsOf(m map[tp]int64) []checkpoint.Offset {
	out := make([]checkpoint.Offset, 0, len(m))
	for k, v := range m {
		out = append(out, checkpoint.Offset{Topic: k.topic, Partition: k.part, Next: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}
