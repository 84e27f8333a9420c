// Package capture runs a source into Kafka exactly once.
//
// One transactional producer per source (transactional.id =
// "inlet-<pipeline>-<source>") writes the source's records and, in the same
// Kafka transaction, its position to the compacted topic
// <pipeline>._inlet_offsets under the source's name. Only after the commit
// does the source hear of the position (Ack). On start the producer is
// initialised first, which fences any older producer with the same id and
// aborts its open transaction; then the last committed position is read and
// the source resumes after it.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/failpoint"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// Options tune a capture run.
type Options struct {
	Kafka    *kafka.Cluster
	Pipeline string
	Source   string
	// CommitEvery bounds how long records wait before their transaction
	// commits; MaxTxnRecords bounds how many one Kafka transaction holds
	// (it may hold more when one source transaction is larger).
	CommitEvery   time.Duration
	MaxTxnRecords int
	// SplitAfter: when one source transaction keeps a Kafka transaction
	// open this long, commit it at the source's partial position.
	SplitAfter time.Duration
	Log        *slog.Logger
	// TxnIDSuffix is appended to the transactional id. The embedded broker
	// sets a per-start value: kfake aborts a crashed producer's open
	// transaction only in memory when it reloads, so a restarted producer
	// reusing the producer id would, after a second crash, see those
	// orphaned records counted into its own later commit. A fresh id per
	// start leaves them with a producer id that never commits, which every
	// reload aborts. (Real Kafka writes abort markers on InitProducerID and
	// keeps the stable id, which fences zombies; with the embedded broker
	// the state dir lock is what keeps a single writer.)
	TxnIDSuffix string
	// Compression of record batches: none, snappy, lz4 or zstd; none for the in-process
	// broker, where it only costs CPU.
	Compression string
	// OnCommit, if set, is called after each Kafka commit with the number of
	// records it made durable.
	OnCommit func(records int)
}

// Run opens src at its last committed position and publishes until ctx is
// cancelled; then it commits what ends at a source boundary and returns nil.
func Run(ctx context.Context, src connectors.Source, o Options) error {
	if o.CommitEvery == 0 {
		o.CommitEvery = 100 * time.Millisecond
	}
	if o.MaxTxnRecords == 0 {
		o.MaxTxnRecords = 200_000
	}
	if o.SplitAfter == 0 {
		o.SplitAfter = 2 * time.Minute
	}
	offsetsTopic := change.OffsetsTopic(o.Pipeline)
	compression := kgo.NoCompression()
	switch o.Compression {
	case "snappy":
		compression = kgo.SnappyCompression()
	case "lz4":
		compression = kgo.Lz4Compression()
	case "zstd":
		compression = kgo.ZstdCompression()
	}
	cl, err := o.Kafka.Client(
		kgo.ProducerBatchCompression(compression),
		kgo.TransactionalID("inlet-"+o.Pipeline+"-"+o.Source+o.TxnIDSuffix),
		kgo.TransactionTimeout(5*time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(200_000),
		// Records alias their source's buffers: bound what waits for the
		// broker by bytes too, so a fast snapshot cannot outrun memory.
		kgo.MaxBufferedBytes(64<<20),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.WithLogger(kafka.Logger{L: o.Log}),
	)
	if err != nil {
		return fmt.Errorf("source %s: kafka producer: %w", o.Source, err)
	}
	defer cl.Close()
	// Initialise the producer id now: this fences an older producer and
	// aborts its open transaction before we read the committed position.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("source %s: init transactional producer: %w", o.Source, err)
	}
	positions, err := kafka.ReadCompacted(ctx, o.Kafka, offsetsTopic)
	if err != nil {
		return fmt.Errorf("source %s: read committed position: %w", o.Source, err)
	}
	pos := positions[o.Source]
	if err := src.Open(ctx, pos); err != nil {
		return err
	}
	defer src.Close()
	if pos != nil {
		o.Log.Info("resuming source", "source", o.Source, "position", string(pos))
	}

	marks := newWatermarks(o.Kafka)
	var (
		produceErr error
		errMu      sync.Mutex
	)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			errMu.Lock()
			if produceErr == nil {
				produceErr = err
			}
			errMu.Unlock()
		}
	}
	var (
		inTxn      bool
		atBoundary = true
		pending    []byte
		partial    []byte
		n          int
		txnStart   time.Time
	)
	commit := func(ctx context.Context) error {
		rec := &kgo.Record{Topic: offsetsTopic, Key: []byte(o.Source), Value: pending}
		cl.Produce(ctx, rec, promise)
		if err := cl.Flush(ctx); err != nil {
			return fmt.Errorf("source %s: flush: %w", o.Source, err)
		}
		errMu.Lock()
		perr := produceErr
		errMu.Unlock()
		if perr != nil {
			_ = cl.EndTransaction(ctx, kgo.TryAbort)
			return fmt.Errorf("source %s: produce to kafka: %w", o.Source, perr)
		}
		failpoint.Hit(failpoint.CaptureMidTransaction)
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return fmt.Errorf("source %s: commit kafka transaction: %w", o.Source, err)
		}
		failpoint.Hit(failpoint.CaptureAfterCommitBeforeAck)
		if err := src.Ack(ctx, pending); err != nil {
			return err
		}
		recordsCommitted.WithLabelValues(o.Source).Add(float64(n))
		txnsCommitted.WithLabelValues(o.Source).Inc()
		if o.OnCommit != nil {
			o.OnCommit(n)
		}
		inTxn, pending, n = false, nil, 0
		return nil
	}
	for {
		b, err := src.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if inTxn {
				actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = cl.AbortBufferedRecords(actx)
				_ = cl.EndTransaction(actx, kgo.TryAbort)
				cancel()
			}
			return err
		}
		if len(b.Records) > 0 || b.Position != nil {
			if !inTxn {
				if err := cl.BeginTransaction(); err != nil {
					return fmt.Errorf("source %s: begin kafka transaction: %w", o.Source, err)
				}
				inTxn, txnStart = true, time.Now()
			}
			// One allocation for the batch's records and one for their
			// headers, and one timestamp (kgo would read the clock per
			// record): at snapshot rates these were a fifth of capture.
			krs := make([]kgo.Record, len(b.Records))
			nh := 0
			for i := range b.Records {
				nh += len(b.Records[i].Headers) + 1
			}
			hs := make([]kgo.RecordHeader, 0, nh)
			now := time.Now()
			for i := range b.Records {
				r := &b.Records[i]
				part, keep, err := marks.place(ctx, r)
				if err != nil {
					return fmt.Errorf("source %s: %w", o.Source, err)
				}
				if !keep {
					continue // committed before a crash; the source re-read it
				}
				kr := &krs[i]
				kr.Topic, kr.Partition, kr.Key, kr.Value, kr.Timestamp = r.Topic, part, r.Key, r.Value, now
				if len(r.Headers) > 0 || r.Order != nil {
					h0 := len(hs)
					for _, h := range r.Headers {
						hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
					}
					if r.Order != nil {
						hs = append(hs, kgo.RecordHeader{Key: kafka.HeaderOrder, Value: r.Order})
					}
					kr.Headers = hs[h0:len(hs):len(hs)]
				}
				cl.Produce(ctx, kr, promise)
			}
			n += len(b.Records)
			atBoundary = b.Position != nil
			if b.Position != nil {
				pending = b.Position
			}
			partial = b.Partial
		}
		if inTxn && !atBoundary && partial != nil && time.Since(txnStart) >= o.SplitAfter {
			// One source transaction has held this Kafka transaction too
			// long: commit what is published at the partial position.
			o.Log.Info("splitting a long source transaction across Kafka transactions", "source", o.Source, "records", n)
			pending, partial, atBoundary = partial, nil, true
			if err := commit(ctx); err != nil {
				return err
			}
			continue
		}
		if inTxn && atBoundary && pending != nil &&
			(n >= o.MaxTxnRecords || time.Since(txnStart) >= o.CommitEvery || len(b.Records) == 0) {
			if err := commit(ctx); err != nil {
				return err
			}
		}
	}
	// Shutdown: records read so far are committed if they end at a source
	// boundary; otherwise the open transaction is aborted and the source
	// resends them from the last committed position on the next start.
	if !inTxn {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if atBoundary && pending != nil {
		if err := commit(sctx); err != nil {
			return err
		}
		o.Log.Info("source stopped after final commit", "source", o.Source)
		return nil
	}
	if err := cl.AbortBufferedRecords(sctx); err != nil && !errors.Is(err, context.Canceled) {
		o.Log.Warn("abort buffered records", "err", err)
	}
	if err := cl.EndTransaction(sctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("source %s: abort kafka transaction: %w", o.Source, err)
	}
	o.Log.Info("source stopped mid-transaction; the open Kafka transaction was aborted and will be re-read", "source", o.Source)
	return nil
}

// watermarks knows, per topic partition, the highest order key committed
// in Kafka when capture started, and places records into partitions.
type watermarks struct {
	brokers *kafka.Cluster
	parts   map[string]int32
	marks   map[string]map[int32][]byte
}

func newWatermarks(brokers *kafka.Cluster) *watermarks {
	return &watermarks{brokers: brokers, parts: map[string]int32{}, marks: map[string]map[int32][]byte{}}
}

// place returns the record's partition and whether to publish it: records
// with an order key at or below the partition's committed watermark are
// already in Kafka.
func (w *watermarks) place(ctx context.Context, r *connectors.Record) (int32, bool, error) {
	n, ok := w.parts[r.Topic]
	if !ok {
		parts, err := kafka.Partitions(ctx, w.brokers, r.Topic)
		if err != nil {
			return 0, false, err
		}
		n = parts[r.Topic]
		if n == 0 {
			return 0, false, fmt.Errorf("topic %s has no partitions (does it exist?)", r.Topic)
		}
		w.parts[r.Topic] = n
	}
	p := kafka.Partition(r.Key, n)
	if r.Order == nil {
		return p, true, nil
	}
	m, ok := w.marks[r.Topic]
	if !ok {
		var err error
		if m, err = kafka.LastOrders(ctx, w.brokers, r.Topic, n); err != nil {
			return 0, false, err
		}
		w.marks[r.Topic] = m
	}
	if mark := m[p]; mark != nil {
		if bytes.Compare(r.Order, mark) <= 0 {
			return p, false, nil
		}
		delete(m, p) // past the watermark: everything after is new
	}
	return p, true, nil
}
