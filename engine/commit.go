package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/failpoint"
	"github.com/inlet-dev/inlet/lake"
)

// commitWithRetry commits a decoded batch, retrying sink errors.
func (e *Engine) commitWithRetry(ctx context.Context, d *decoded) error {
	return e.retry(ctx, commitStep, d.firstOffset, d.records, func() error { return e.commit(ctx, d) })
}

// step names what a batch goes through in retry's incident messages.
type step struct {
	failed   string // logged before each retry
	stopped  string // the error when ctx ends while retrying
	resolved string // logged when an attempt after the first succeeds; "" for none
}

var (
	decodeStep = step{failed: "incident: batch failed to decode; retrying",
		stopped: "engine stopped with an undecoded batch (it is re-read on restart)"}
	commitStep = step{failed: "incident: batch failed; retrying",
		stopped:  "engine stopped with an uncommitted batch (it is re-read on restart)",
		resolved: "incident resolved: batch committed after retry"}
)

// retry runs fn for a batch of records records from offset first until it
// succeeds, backing off exponentially (500ms doubling, at most 30s) between
// attempts, each failure an incident; a permanentError stops at once, and
// so does ctx ending.
func (e *Engine) retry(ctx context.Context, s step, first int64, records int, fn func() error) error {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			if attempt > 1 && s.resolved != "" {
				e.o.Log.Info(s.resolved, "attempts", attempt)
			}
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			incidents.WithLabelValues("permanent").Inc()
			e.o.Log.Error("incident: batch failed permanently", "err", err, "first_offset", first, "records", records)
			return err
		}
		incidents.WithLabelValues("retried").Inc()
		e.o.Log.Error(s.failed, "err", err, "attempt", attempt, "records", records, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", s.stopped, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
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
