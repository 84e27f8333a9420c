package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/health"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
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
	// Health, if set, is told whether the source is streaming (/readyz).
	Health *health.Stage
	// Reconnect is the backoff between reconnect attempts; zero values
	// mean 500ms doubling to 15s.
	Reconnect retry.Backoff
	// StallAfter: a commit Kafka has not acknowledged for this long (a
	// broker down: the client keeps retrying) is an incident and makes
	// the stage not ready until it completes; default 10s.
	StallAfter time.Duration
}

func (o *Options) defaults() {
	if o.CommitEvery == 0 {
		o.CommitEvery = 100 * time.Millisecond
	}
	if o.MaxTxnRecords == 0 {
		o.MaxTxnRecords = 200_000
	}
	if o.SplitAfter == 0 {
		o.SplitAfter = 2 * time.Minute
	}
	if o.Reconnect.Initial == 0 {
		o.Reconnect.Initial = 500 * time.Millisecond
	}
	if o.Reconnect.Max == 0 {
		o.Reconnect.Max = 15 * time.Second
	}
	if o.StallAfter == 0 {
		o.StallAfter = 10 * time.Second
	}
}

// Reopener is a source that can be opened again after it failed:
// Reopen closes what Open (or an earlier Reopen) opened and opens again
// after pos, the last committed position. Capture reconnects only such
// sources; any error of another source stops the stage.
type Reopener interface {
	Reopen(ctx context.Context, pos []byte) error
}

// Run opens src at its last committed position and publishes until ctx is
// cancelled; then it commits what ends at a source boundary and returns
// nil. Retriable failures of the source or of Kafka are reconnected (see
// the package doc); Run returns an error only for what needs a person or
// cannot be retried.
func Run(ctx context.Context, src connectors.Source, o Options) error {
	o.defaults()
	s := &session{o: &o, src: src, offsetsTopic: change.OffsetsTopic(o.Pipeline)}
	defer src.Close()
	defer s.disconnect()
	o.Health.NotReady("connecting")
	var (
		down     time.Time // when the current outage began; zero while streaming
		attempts int
		pause    = o.Reconnect
	)
	outage := func(err error, wait time.Duration) {
		attempts++
		reconnects.WithLabelValues(o.Source).Inc()
		streaming.WithLabelValues(o.Source).Set(0)
		if down.IsZero() {
			down = time.Now()
			o.Log.Error("incident: source "+o.Source+" is not streaming; reconnecting", "source", o.Source, "err", err, "retry_in", wait.Round(time.Millisecond))
		} else {
			o.Log.Warn("source reconnect failed; retrying", "source", o.Source, "err", err, "attempt", attempts, "retry_in", wait.Round(time.Millisecond))
		}
		o.Health.NotReady("reconnecting: " + err.Error())
	}
	for {
		err := retry.Do(ctx, o.Reconnect, retry.Hooks{OnRetry: func(err error, _ int, wait time.Duration) {
			s.disconnect()
			outage(err, wait)
		}}, s.connect)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.stop(err)
		}
		if !down.IsZero() {
			o.Log.Info("incident resolved: source "+o.Source+" is streaming again", "source", o.Source,
				"down_for", time.Since(down).Round(time.Millisecond), "attempts", attempts)
			down, attempts = time.Time{}, 0
		}
		o.Health.Ready()
		streaming.WithLabelValues(o.Source).Set(1)
		err = fenced(o.Source, s.stream(ctx))
		streaming.WithLabelValues(o.Source).Set(0)
		if err == nil || ctx.Err() != nil {
			o.Health.NotReady("stopping")
			return err
		}
		if errors.Is(err, errLargeRecord) {
			// Not an outage: the next connect makes a producer whose
			// batches take it, and the source re-reads from its committed
			// position (the open transaction is aborted).
			o.Log.Info("source "+o.Source+": a change does not fit the producer's batches; reconnecting with batches of up to kafka.MaxBatchBytes",
				"source", o.Source, "err", err)
			s.disconnect()
			continue
		}
		if !s.stalled.IsZero() {
			down = s.stalled // the stalled commit's incident is this outage
		}
		s.disconnect()
		if _, ok := src.(Reopener); !ok || retry.Classify(err) != retry.Retriable {
			return s.stop(err)
		}
		if s.commits > 0 {
			pause.Reset() // it streamed: this is a new outage, not the same one again
		}
		wait := pause.Next()
		outage(err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// fenced marks an error that says a newer producer with this source's
// transactional id took over (another copy of the source started) as
// needing the user: reconnecting would fence that copy in turn, and the
// two would take turns publishing. So the older copy stops for good.
//
// INVALID_TXN_STATE counts too: a broker that detects retried EndTxn
// requests (KIP-890; kfake does) answers the fenced copy's commit with it
// when the newer producer's start aborted that copy's transaction and
// bumped the epoch by one. Inlet's producer never ends a transaction twice
// nor out of order, so for it the state is wrong only when someone else
// ended the transaction.
func fenced(source string, err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState) {
		return retry.MarkNeedsUser(fmt.Errorf("source %s: another process running this source took over its Kafka transactional id: %w", source, err),
			"run each source in one process only (inlet run --only sources --source "+source+"); this copy stopped and published nothing after the other started")
	}
	return err
}

// stop records why the source stops for good (an incident: a person must
// act, or nothing can) and returns err.
func (s *session) stop(err error) error {
	o := s.o
	attrs := []any{"source", o.Source, "err", err, "class", retry.Classify(err).String()}
	if fix := retry.Fix(err); fix != "" {
		attrs = append(attrs, "fix", fix)
	}
	o.Log.Error("incident: source "+o.Source+" stopped", attrs...)
	o.Health.NotReady("stopped: " + err.Error())
	return err
}

// session is one connection of a source to Kafka: a transactional
// producer, the source opened after the committed position, and the
// transaction being filled.
type session struct {
	o            *Options
	src          connectors.Source
	offsetsTopic string

	opened bool // src was opened once; later connects reopen it
	cl     *kgo.Client
	marks  *watermarks
	t      txn
	// large is set once a record too large for smallBatchBytes was seen:
	// from then on the producer's batches go up to kafka.MaxBatchBytes.
	large   bool
	commits int       // Kafka commits since connect
	stalled time.Time // when the commit in progress was reported stalled
}

// Producer batches. Large batches cost the producer: each request buffer
// grows to the batch's size and (pooled in a sync.Pool that every garbage
// collection empties) is allocated again and again — in the snapshot
// benchmark a quarter of all allocations. So batches are at most
// smallBatchBytes until a record needs more; then the source reconnects
// once with kafka.MaxBatchBytes (errLargeRecord).
const (
	smallBatchBytes  = 1 << 20
	smallRecordBytes = smallBatchBytes - 4<<10 // room for the batch's and the record's framing
)

// errLargeRecord makes Run reconnect the source with large batches.
var errLargeRecord = errors.New("a change is larger than the producer's batches")

// batchMax is the producer's batch size: see smallBatchBytes.
func (s *session) batchMax() int32 {
	if s.large {
		return kafka.MaxBatchBytes
	}
	return smallBatchBytes
}

// connect makes a producer, reads the committed position and (re)opens
// the source after it.
func (s *session) connect(ctx context.Context) error {
	o := s.o
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
		kgo.MaxBufferedBytes(kafka.MaxBatchBytes+4<<20),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(s.batchMax()),
		kgo.WithLogger(kafka.Logger{L: o.Log}),
	)
	if err != nil {
		return retry.MarkNeedsUser(fmt.Errorf("source %s: kafka producer: %w", o.Source, err), "check the kafka section of the config")
	}
	s.cl, s.t, s.commits, s.stalled = cl, txn{}, 0, time.Time{}
	// Initialise the producer id now: this fences an older producer and
	// aborts its open transaction before we read the committed position.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("source %s: init transactional producer: %w", o.Source, err)
	}
	positions, err := kafka.ReadCompacted(ctx, o.Kafka, s.offsetsTopic)
	if err != nil {
		return fmt.Errorf("source %s: read committed position: %w", o.Source, err)
	}
	pos := positions[o.Source]
	if !s.opened {
		err = s.src.Open(ctx, pos)
	} else if r, ok := s.src.(Reopener); ok {
		err = r.Reopen(ctx, pos)
	} else {
		err = retry.MarkPermanent(fmt.Errorf("source %s cannot be reopened", o.Source))
	}
	s.opened = true
	if err != nil {
		return err
	}
	if pos != nil {
		o.Log.Info("resuming source", "source", o.Source, "position", string(pos))
	}
	s.marks = newWatermarks(o.Kafka)
	return nil
}

// disconnect aborts the open transaction, if any, and closes the
// producer. The source stays open (Run closes it, connect reopens it).
func (s *session) disconnect() {
	if s.cl == nil {
		return
	}
	if s.t.open {
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.cl.AbortBufferedRecords(actx)
		_ = s.cl.EndTransaction(actx, kgo.TryAbort)
		cancel()
	}
	s.cl.Close()
	s.cl, s.t = nil, txn{}
}

// stream reads and publishes until ctx ends (then it shuts down and
// returns nil) or something fails.
func (s *session) stream(ctx context.Context) error {
	o := s.o
	for {
		b, err := s.src.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return s.shutdown()
			}
			return err
		}
		if len(b.Records) > 0 || b.Position != nil {
			if err := s.add(ctx, b); err != nil {
				return err
			}
		}
		switch {
		case s.t.splitDue(o.SplitAfter):
			// One source transaction has held this Kafka transaction too
			// long: commit what is published at the partial position.
			o.Log.Info("splitting a long source transaction across Kafka transactions", "source", o.Source, "records", s.t.n)
			s.t.splitAtPartial()
			if err := s.commit(ctx); err != nil {
				return err
			}
		case s.t.commitDue(o.MaxTxnRecords, o.CommitEvery, len(b.Records) == 0):
			if err := s.commit(ctx); err != nil {
				return err
			}
		}
	}
}

// add produces a batch's records into the open transaction (beginning one
// if none is open) and notes the position the batch ends at.
func (s *session) add(ctx context.Context, b connectors.Batch) error {
	if !s.t.open {
		if err := s.cl.BeginTransaction(); err != nil {
			return fmt.Errorf("source %s: begin kafka transaction: %w", s.o.Source, err)
		}
		s.t.begin()
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
	for i := range b.Records {
		n, err := s.checkSize(&b.Records[i])
		if err != nil {
			return err
		}
		if n > smallRecordBytes && !s.large {
			s.large = true
			return fmt.Errorf("source %s: %w: %d bytes (topic %s)", s.o.Source, errLargeRecord, n, b.Records[i].Topic)
		}
	}
	now := time.Now()
	for i := range b.Records {
		r := &b.Records[i]
		if r.AllPartitions {
			if err := s.produceAll(ctx, r, now); err != nil {
				return err
			}
			continue
		}
		part, keep, err := s.marks.place(ctx, r)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.o.Source, err)
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
		s.cl.Produce(ctx, kr, s.t.promise)
	}
	s.t.added(b)
	return nil
}

// checkSize refuses a record larger than Kafka takes from Inlet
// (kafka.MaxRecordBytes), before anything of its batch is produced: the
// source stops with an incident naming the table and the key, rather than
// the broker refusing the transaction (MESSAGE_TOO_LARGE) with no word of
// which row, or the row being lost.
func (s *session) checkSize(r *connectors.Record) (int, error) {
	n := len(r.Key) + len(r.Value) + len(r.Order)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	if n <= kafka.MaxRecordBytes {
		return n, nil
	}
	key := string(r.Key)
	if len(key) > 200 {
		key = key[:200] + "…"
	}
	return n, retry.MarkNeedsUser(fmt.Errorf("source %s: a change of topic %s (key %s) is %d bytes; a Kafka record from Inlet holds at most %d (kafka.MaxRecordBytes, the change topics' max.message.bytes)",
		s.o.Source, r.Topic, key, n, kafka.MaxRecordBytes),
		"shrink the row at the source (or stop capturing that table), then restart; see docs/types.md (large values)")
}

// produceAll produces one copy of r to every partition of its topic (each
// partition's watermark checked on its own).
func (s *session) produceAll(ctx context.Context, r *connectors.Record, now time.Time) error {
	n, err := s.marks.count(ctx, r.Topic)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.o.Source, err)
	}
	for p := int32(0); p < n; p++ {
		keep, err := s.marks.keep(ctx, r, p, n)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.o.Source, err)
		}
		if !keep {
			continue
		}
		kr := &kgo.Record{Topic: r.Topic, Partition: p, Key: r.Key, Value: r.Value, Timestamp: now}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		if r.Order != nil {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: kafka.HeaderOrder, Value: r.Order})
		}
		s.cl.Produce(ctx, kr, s.t.promise)
	}
	return nil
}

// commit writes the pending position, commits the transaction, and only
// then acknowledges the position to the source.
func (s *session) commit(ctx context.Context) error {
	o := s.o
	// The client retries a broker that is down by itself, so a commit
	// may wait for a long time without failing: say so.
	start := time.Now()
	fired := make(chan struct{})
	watch := time.AfterFunc(o.StallAfter, func() {
		defer close(fired)
		o.Log.Error("incident: source "+o.Source+": kafka has not acknowledged a commit for "+o.StallAfter.String()+"; is the broker down? waiting for it", "source", o.Source)
		o.Health.NotReady("kafka has not acknowledged a commit for " + o.StallAfter.String())
	})
	err := s.commitTxn(ctx)
	if !watch.Stop() {
		<-fired // reported stalled: the report is complete
		if err != nil {
			s.stalled = start
			return err
		}
		o.Log.Info("incident resolved: source "+o.Source+" is streaming again: kafka acknowledged the commit", "source", o.Source, "waited", time.Since(start).Round(time.Millisecond))
		o.Health.Ready()
	}
	return err
}

func (s *session) commitTxn(ctx context.Context) error {
	o := s.o
	rec := &kgo.Record{Topic: s.offsetsTopic, Key: []byte(o.Source), Value: s.t.pending}
	s.cl.Produce(ctx, rec, s.t.promise)
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("source %s: flush: %w", o.Source, err)
	}
	if perr := s.t.produceErr(); perr != nil {
		return fmt.Errorf("source %s: produce to kafka: %w", o.Source, perr)
	}
	hitMidTransaction()
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("source %s: commit kafka transaction: %w", o.Source, err)
	}
	n, pos := s.t.committed()
	s.commits++
	hitAfterCommitBeforeAck()
	if err := s.src.Ack(ctx, pos); err != nil {
		return err
	}
	recordsCommitted.WithLabelValues(o.Source).Add(float64(n))
	txnsCommitted.WithLabelValues(o.Source).Inc()
	if o.OnCommit != nil {
		o.OnCommit(n)
	}
	return nil
}

// shutdown ends the session after ctx was cancelled: records read so far
// are committed if they end at a source boundary; otherwise the open
// transaction is aborted and the source resends them from the last
// committed position on the next start.
func (s *session) shutdown() error {
	o := s.o
	if !s.t.open {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.t.atBoundary && s.t.pending != nil {
		if err := s.commit(sctx); err != nil {
			return err
		}
		o.Log.Info("source stopped after final commit", "source", o.Source)
		return nil
	}
	if err := s.cl.AbortBufferedRecords(sctx); err != nil && !errors.Is(err, context.Canceled) {
		o.Log.Warn("abort buffered records", "err", err)
	}
	if err := s.cl.EndTransaction(sctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("source %s: abort kafka transaction: %w", o.Source, err)
	}
	s.t = txn{}
	o.Log.Info("source stopped mid-transaction; the open Kafka transaction was aborted and will be re-read", "source", o.Source)
	return nil
}
