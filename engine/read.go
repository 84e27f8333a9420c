package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/lake"
)

// read polls micro-batches, decodes them and hands them to the writer
// until ctx is done (the batch in hand is still handed over) or, with
// StopWhenIdle, nothing arrives for a few polls.
func (e *Engine) read(ctx context.Context, cl *kgo.Client, ready chan<- *decoded, quit <-chan struct{}) error {
	// N.B. The send waits on quit (the writer has stopped), not on
	// ctx.Done(): when ctx ends, the batch in hand is still handed over so
	// a clean stop commits what was read.
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
	var d *decoded
	err := e.retry(ctx, decodeStep, recs[0].Offset, len(recs), func() error {
		var err error
		d, err = e.decode(ctx, recs)
		return err
	})
	return d, err
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
