package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/lake"
)

// resolveCheckpoint finds a sink's batch by id or by time (the latest
// batch at or before it).
func resolveCheckpoint(hist []checkpoint.Batch, from string) (checkpoint.Batch, error) {
	if id, err := strconv.ParseUint(from, 10, 64); err == nil {
		for _, b := range hist {
			if b.ID == id {
				return b, nil
			}
		}
		return checkpoint.Batch{}, fmt.Errorf("no checkpoint %d (list them with inlet checkpoints)", id)
	}
	at, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return checkpoint.Batch{}, fmt.Errorf("--from %q: give a checkpoint id or an RFC 3339 time", from)
	}
	var best *checkpoint.Batch
	for i := range hist {
		if !hist[i].Time.After(at) {
			best = &hist[i]
		}
	}
	if best == nil {
		return checkpoint.Batch{}, fmt.Errorf("no checkpoint at or before %s", from)
	}
	return *best, nil
}

// Replay rewinds the chosen sinks to a checkpoint and re-materializes
// forward from Kafka until it has caught up, then returns. It takes the
// state dir lock: stop `inlet run` first.
func Replay(ctx context.Context, c *config.Config, sink, from string, log *slog.Logger, out io.Writer) error {
	names := SinkNames(c)
	only := map[string]bool{}
	switch {
	case sink == "all":
		for _, n := range names {
			only[n] = true
		}
	case slices.Contains(names, sink):
		only[sink] = true
	default:
		return fmt.Errorf("--sink %q: use one of %s, or all (only configured sinks can be replayed)", sink, strings.Join(names, ", "))
	}
	o, err := openOffline(ctx, c, "replay", only, true, log)
	if err != nil {
		return err
	}
	defer o.close()
	store, brokers, sinks := o.store, o.brokers, o.sinks
	tables := Tables(c)
	for _, s := range sinks {
		name := s.Name()
		hist, err := store.History(ctx, name)
		if err != nil {
			return err
		}
		b, err := resolveCheckpoint(hist, from)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := stillInKafka(ctx, brokers, name, b); err != nil {
			return err
		}
		if rw, ok := s.(connectors.Rewinder); ok {
			for _, t := range tables {
				v := int64(-1) // the table's version as of checkpoint b
				for _, h := range hist {
					if h.ID <= b.ID {
						if hv, ok := h.LakeVersions[t.Name]; ok {
							v = hv
						}
					}
				}
				if err := rw.Rewind(ctx, t.Name, v); err != nil {
					return fmt.Errorf("%s: rewind %s: %w", name, t.Name, err)
				}
				fmt.Fprintf(out, "%s: %s rewound to version %d (checkpoint %d)\n", name, t.Name, v, b.ID)
			}
		}
		if _, err := store.Rewind(ctx, name, b.ID); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: rewound to checkpoint %d (%s)\n", name, b.ID, b.Time.Format(time.RFC3339))
	}
	rows := &counters{}
	var records atomic.Int64
	opts := engine.Options{Kafka: brokers, Pipeline: c.Pipeline, Tables: tables, Store: store, Log: log, Sinks: sinks,
		BatchRecords: c.Engine.BatchRecords, BatchBytes: c.Engine.BatchBytes, BatchWait: time.Duration(c.Engine.BatchWait),
		StopWhenIdle: true,
		OnBatch:      func(s engine.BatchStats) { records.Add(int64(s.Records)); rows.add(s.Sink, int64(s.Rows)) }}
	eng, err := engine.New(opts)
	if err != nil {
		return err
	}
	if err := eng.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "replayed %d records (as taken by the sinks); rows written: %s\n", records.Load(), rows)
	return nil
}

// Rebuild recreates every other sink's tables from the lake (for when
// Kafka no longer holds the changes), and sets each one's checkpoint to the
// lake's progress so `inlet run` continues from there.
func Rebuild(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer) error {
	if c.Lake == nil {
		return fmt.Errorf("rebuild reads the lake: configure lake")
	}
	only := map[string]bool{}
	for _, n := range SinkNames(c) {
		if n != lake.SinkName {
			only[n] = true
		}
	}
	if len(only) == 0 {
		return fmt.Errorf("rebuild writes the lake's rows into another sink: none is configured (e.g. clickhouse)")
	}
	o, err := openOffline(ctx, c, "rebuild", only, false, log)
	if err != nil {
		return err
	}
	defer o.close()
	store, sinks := o.store, o.sinks
	lk, err := OpenLake(c)
	if err != nil {
		return err
	}
	tables := Tables(c)
	progress, err := lk.Sink(nil).Progress(ctx, tables)
	if err != nil {
		return err
	}
	var offsets []checkpoint.Offset
	for k, next := range progress.Next {
		offsets = append(offsets, checkpoint.Offset{Topic: k.Topic, Partition: k.Partition, Next: next, TopicID: progress.TopicIDs[k.Topic]})
	}
	checkpoint.SortOffsets(offsets)
	for _, s := range sinks {
		name := s.Name()
		rowsPer := map[string]int64{}
		for _, t := range tables {
			tbl, err := lk.Table(t.Name)
			if err != nil {
				return err
			}
			if r, ok := s.(connectors.Resetter); ok {
				if err := r.Reset(ctx, t.Name); err != nil {
					return err
				}
			}
			sc := tbl.Schema()
			sc.Topic = t.Topic
			n := 0
			id := uint64(0)
			err = tbl.ReadRows(func(rows []change.Row) error {
				for i := range rows {
					rows[i].Schema = sc
				}
				sort.SliceStable(rows, func(i, j int) bool {
					if rows[i].Partition != rows[j].Partition {
						return rows[i].Partition < rows[j].Partition
					}
					return rows[i].Offset < rows[j].Offset
				})
				n += len(rows)
				id++
				// Rows of a full-refresh table are already its live
				// generations: write them as plain changes.
				tt := t
				tt.FullRefresh = false
				_, err := s.Apply(ctx, connectors.SinkBatch{ID: id, Tables: []connectors.TableBatch{{Table: tt, Rows: rows}}})
				return err
			})
			if err != nil {
				return fmt.Errorf("rebuild %s in %s: %w", t.Name, name, err)
			}
			rowsPer[t.Name] = int64(n)
			fmt.Fprintf(out, "%s: rebuilt %s from %d lake changes\n", name, t.Name, n)
		}
		next := uint64(1)
		if b, ok, err := store.Latest(ctx, name); err != nil {
			return err
		} else if ok {
			next = b.ID + 1
		}
		if err := store.Commit(ctx, checkpoint.Batch{ID: next, Sink: name, Offsets: offsets, Rows: rowsPer}); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s checkpoint %d set to the lake's offsets\n", name, next)
	}
	return nil
}

// stillInKafka refuses a replay from checkpoint b when the broker no longer
// holds the records after it (retention deleted them).
func stillInKafka(ctx context.Context, brokers *kafka.Cluster, sink string, b checkpoint.Batch) error {
	topics := map[string]bool{}
	for _, o := range b.Offsets {
		topics[o.Topic] = true
	}
	names := slices.Sorted(maps.Keys(topics))
	if len(names) == 0 {
		return nil
	}
	starts, err := kafka.StartOffsets(ctx, brokers, names...)
	if err != nil {
		return fmt.Errorf("%s: check what Kafka still holds: %w", sink, err)
	}
	for _, o := range b.Offsets {
		if start, ok := starts[o.Topic][o.Partition]; ok && o.Next < start {
			return fmt.Errorf("%s: checkpoint %d needs %s/%d from offset %d, but Kafka holds it only from %d (retention deleted the rest); replay from a later checkpoint, or use inlet rebuild --from-lake", sink, b.ID, o.Topic, o.Partition, o.Next, start)
		}
	}
	return nil
}
