package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// Table is one change topic and the source table it carries.
type Table = change.Table

// Defaults of the batch limits, in one place (config leaves zero for
// "default").
const (
	DefaultBatchRecords = 100_000
	DefaultBatchBytes   = 8 << 20
	DefaultBatchWait    = time.Second
)

// Options configure an engine.
type Options struct {
	Kafka        *kafka.Cluster
	Pipeline     string
	Tables       []Table
	BatchRecords int
	BatchBytes   int
	BatchWait    time.Duration
	// Sinks are written independently, each from its own position.
	Sinks []connectors.Sink
	Store checkpoint.Store
	Log   *slog.Logger
	// OnBatch, if set, is called after each batch a sink committed (from
	// that sink's goroutine).
	OnBatch func(BatchStats)
	// OnBatchFailed, if set, is called when a sink's batch fails to apply
	// or commit (it is retried): Tables counts the changes it held.
	OnBatchFailed func(BatchStats, error)
	// StopWhenIdle makes Run return once nothing new arrives for a few
	// polls and every sink has caught up (replay and rebuild, which run
	// while no source writes).
	StopWhenIdle bool
	// Group, if set, is the Kafka consumer group the engine joins: several
	// engine processes then share the partitions (see group.go). Their
	// checkpoint store must be shared too (Postgres).
	Group string
	// Member names this engine in the group (its client id, e.g. host/pid),
	// for inlet status.
	Member string
	// InstanceID, if set, makes the engine a static member of the group
	// (KIP-345): a restarted engine with the same InstanceID takes its
	// predecessor's place at once instead of waiting for its session to
	// expire. No two running engines may share one.
	InstanceID string
}

// BatchStats describes one micro-batch one sink committed.
type BatchStats struct {
	Sink    string
	Records int // records of the batch the sink took
	Rows    int // rows the sink wrote
	// Tables is, per table, the changes the batch brought it.
	Tables  map[string]int64
	Started time.Time
	Elapsed time.Duration
}

type tp = connectors.TopicPartition

// Engine materializes change topics into the sinks.
type Engine struct {
	o       Options
	schemas *schemaCache
	byTopic map[string]Table
	sinks   []*sinkRun
	// readerPos is the shared reader's position, for lag.
	readerPos atomic.Pointer[map[tp]int64]
	// sinkFree gets a token when a sink starts waiting on an empty queue:
	// it ends the reader's poll for a batch in hand, so the batch goes out
	// now rather than at the batch wait.
	sinkFree chan struct{}
	// topicIDs are the change topics' Kafka ids, as the last load read
	// them (kafkaid.go); every checkpoint records them.
	idMu     sync.Mutex
	topicIDs map[string]string
	// fatal is an error a consumer group callback met that a person must
	// fix (the reader stops with it at its next poll).
	fatal atomic.Pointer[error]
}

// New validates options and returns an engine.
func New(o Options) (*Engine, error) {
	if len(o.Sinks) == 0 {
		return nil, errors.New("engine: no sinks configured")
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = DefaultBatchRecords
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.BatchWait <= 0 {
		o.BatchWait = DefaultBatchWait
	}
	e := &Engine{o: o, schemas: newSchemaCache(o.Kafka, o.Pipeline), byTopic: map[string]Table{}, sinkFree: make(chan struct{}, 1)}
	for _, t := range o.Tables {
		e.byTopic[t.Topic] = t
	}
	seen := map[string]bool{}
	for _, s := range o.Sinks {
		if seen[s.Name()] {
			return nil, fmt.Errorf("engine: two sinks named %q", s.Name())
		}
		seen[s.Name()] = true
		e.sinks = append(e.sinks, newSinkRun(e, s))
	}
	return e, nil
}

// positions loads where each sink stands and returns the offsets to consume
// from: per partition, the lowest next offset of any sink.
func (e *Engine) positions(ctx context.Context) (map[string]map[int32]kgo.Offset, error) {
	adm, err := e.o.Kafka.Admin()
	if err != nil {
		return nil, err
	}
	topics := make([]string, 0, len(e.o.Tables))
	for _, t := range e.o.Tables {
		topics = append(topics, t.Topic)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("engine: list partitions: %w", err)
	}
	var parts []tp
	var missing []string
	for _, t := range e.o.Tables {
		ps, ok := ends[t.Topic]
		if !ok || len(ps) == 0 {
			missing = append(missing, t.Topic)
			continue
		}
		for p, lo := range ps {
			if lo.Err != nil {
				return nil, fmt.Errorf("engine: topic %s: %w", t.Topic, lo.Err)
			}
			parts = append(parts, tp{Topic: t.Topic, Partition: p})
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("engine: topics %s do not exist yet; start the sources first (inlet run without --only engine)", strings.Join(missing, ", "))
	}
	kv, err := e.viewKafka(ctx, parts, ends)
	if err != nil {
		return nil, err
	}
	for _, w := range e.sinks {
		if err := w.load(ctx, parts, kv); err != nil {
			return nil, err
		}
	}
	e.warnGone(ctx, parts)
	// Source orders at each sink's position, read once per distinct offset.
	type at struct {
		k    tp
		next int64
	}
	orders := map[at][]byte{}
	out := map[string]map[int32]kgo.Offset{}
	for _, k := range parts {
		start := int64(-1)
		for _, w := range e.sinks {
			next := w.pos[k]
			o, ok := orders[at{k, next}]
			if !ok {
				if o, err = kafka.OrderBefore(ctx, e.o.Kafka, k.Topic, k.Partition, next); err != nil {
					return nil, fmt.Errorf("engine: %s position of %s/%d: %w", w.name, k.Topic, k.Partition, err)
				}
				orders[at{k, next}] = o
			}
			w.ord[k] = o
			if start < 0 || next < start {
				start = next
			}
		}
		if out[k.Topic] == nil {
			out[k.Topic] = map[int32]kgo.Offset{}
		}
		out[k.Topic][k.Partition] = kgo.NewOffset().At(start)
	}
	return out, nil
}

// Run consumes and materializes until ctx is cancelled; each sink then
// finishes the batch in hand (bounded) and commits it.
//
// One reader polls and decodes micro-batches and offers each to every
// sink. A sink that is busy longer than the batch wait (down, frozen,
// retrying) is passed over: it finishes or retries what it holds, and then
// reads what it missed from Kafka itself, so no sink waits for another and
// none buffers the gap in memory.
func (e *Engine) Run(ctx context.Context) error {
	rd := &reader{e: e, pos: map[tp]int64{}}
	var cl *kgo.Client
	if e.o.Group != "" {
		if e.o.StopWhenIdle {
			return errors.New("engine: a consumer group engine does not stop when idle (replay and rebuild run alone)")
		}
		e.readerPos.Store(new(map[tp]int64{}))
		var err error
		if cl, err = e.groupConsumer(rd); err != nil {
			return err
		}
		e.o.Log.Info("engine joining consumer group", "group", e.o.Group, "member", e.o.Member, "instance_id", e.o.InstanceID)
		defer func() {
			// Leaving the group revokes what this engine owns (each sink's
			// batch in flight is already committed or abandoned).
			cl.AllowRebalance()
			cl.Close()
		}()
	} else {
		var offsets map[string]map[int32]kgo.Offset
		for {
			var err error
			if offsets, err = e.positions(ctx); err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if retry.Classify(err) == retry.NeedsUser {
				return err
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
				args := []any{"topic", t, "partition", p, "from", o.EpochOffset().Offset}
				for _, w := range e.sinks {
					args = append(args, w.name+"_next", w.pos[tp{Topic: t, Partition: p}])
				}
				e.o.Log.Info("engine consuming", args...)
			}
		}
		var err error
		if cl, err = e.consumer(offsets); err != nil {
			return err
		}
		defer cl.Close()
		for t, parts := range offsets {
			for p, o := range parts {
				rd.pos[tp{Topic: t, Partition: p}] = o.EpochOffset().Offset
			}
		}
		e.noteOwned()
	}
	rd.cl = cl

	// Sinks run until the reader closes their input; a sink that fails
	// permanently stops the reader, and so the engine.
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	// Work in hand is finished after ctx ends, bounded by a minute.
	sctx, stopSinks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSinks()
	errs := make(chan error, len(e.sinks))
	for _, w := range e.sinks {
		go func() {
			err := w.run(ctx, sctx)
			if err != nil {
				stopReading()
			}
			errs <- err
		}()
	}
	readErr := rd.run(rctx)
	for _, w := range e.sinks {
		w.final = rd.pos
		close(w.in)
	}
	timer := time.AfterFunc(time.Minute, stopSinks)
	defer timer.Stop()
	var first error
	for range e.sinks {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return readErr
}

// consumer returns a read_committed client consuming offsets.
func (e *Engine) consumer(offsets map[string]map[int32]kgo.Offset) (*kgo.Client, error) {
	cl, err := e.o.Kafka.Client(
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(offsets),
		// Fetched data waits in memory until the batch that holds it is
		// written (decompressed, it is several times what was fetched):
		// fetch in moderate steps so memory stays bounded. (A heap
		// profile of the snapshot benchmark with 8 MiB per partition
		// showed 100-180 MB of live decompressed fetches.)
		kgo.FetchMaxBytes(4<<20),
		kgo.FetchMaxPartitionBytes(2<<20),
		kgo.MaxConcurrentFetches(1),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.WithLogger(kafka.Logger{L: e.o.Log}),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: kafka consumer: %w", err)
	}
	return cl, nil
}

// Status reports each sink's state, for inlet status and the status page.
func (e *Engine) Status() []SinkStatus {
	out := make([]SinkStatus, 0, len(e.sinks))
	for _, w := range e.sinks {
		out = append(out, w.status())
	}
	return out
}

// Committed returns, per partition, the lowest offset any sink still
// needs (its committed position): everything below it is in every sink.
// A quarantined table's partitions stay at the sink's position.
func (e *Engine) Committed() map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for _, w := range e.sinks {
		w.mu.Lock()
		for k, next := range w.committed {
			if out[k.Topic] == nil {
				out[k.Topic] = map[int32]int64{}
			}
			if cur, ok := out[k.Topic][k.Partition]; !ok || next < cur {
				out[k.Topic][k.Partition] = next
			}
		}
		w.mu.Unlock()
	}
	return out
}

// warnGone logs an incident for each sink that needs records the broker
// no longer holds (deleted by the cluster's retention): they can only come
// back from the lake.
func (e *Engine) warnGone(ctx context.Context, parts []tp) {
	topics := map[string]bool{}
	for _, k := range parts {
		topics[k.Topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	starts, err := kafka.StartOffsets(ctx, e.o.Kafka, names...)
	if err != nil {
		return
	}
	for _, w := range e.sinks {
		for _, k := range parts {
			if start, ok := starts[k.Topic][k.Partition]; ok && w.pos[k] < start {
				e.o.Log.Error("incident: a sink needs records the broker already deleted; they are lost to it",
					"sink", w.name, "topic", k.Topic, "partition", k.Partition, "next", w.pos[k], "log_start", start,
					"fix", "inlet rebuild --from-lake (or replay from a checkpoint the broker still holds)")
			}
		}
	}
}
