package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
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
	Kafka        *kafka.Cluster
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
	e := &Engine{o: o, schemas: newSchemaCache(o.Kafka, o.Pipeline), byTopic: map[string]Table{},
		lakePos: map[tp]int64{}, chPos: map[tp]int64{}, lakeOrd: map[tp][]byte{}, chOrd: map[tp][]byte{}}
	for _, t := range o.Tables {
		e.byTopic[t.Topic] = t
	}
	return e, nil
}

// positions loads where each sink stands and returns the offsets to consume
// from.
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
				if e.lakeOrd[k], err = kafka.OrderBefore(ctx, e.o.Kafka, t.Topic, p, next); err != nil {
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
					if e.chOrd[k], err = kafka.OrderBefore(ctx, e.o.Kafka, t.Topic, p, next); err != nil {
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
	cl, err := e.o.Kafka.Client(
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
