package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/config"
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
	sinks := map[string]bool{}
	switch sink {
	case "all":
		sinks[engine.SinkLake], sinks[engine.SinkClickHouse] = c.Lake != nil, c.ClickHouse != nil
	case engine.SinkLake, engine.SinkClickHouse:
		sinks[sink] = true
	default:
		return fmt.Errorf("--sink %q: use lake, clickhouse or all", sink)
	}
	if sinks[engine.SinkLake] && c.Lake == nil || sinks[engine.SinkClickHouse] && c.ClickHouse == nil {
		return fmt.Errorf("--sink %s is not configured", sink)
	}
	lock, err := LockStateDir(c.StateDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	store, err := OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	brokers, stop, err := Kafka(ctx, c, log)
	if err != nil {
		return err
	}
	defer stop()
	opts := engine.Options{Kafka: brokers, Pipeline: c.Pipeline, Tables: Tables(c), Store: store, Log: log,
		BatchRecords: c.Engine.BatchRecords, BatchBytes: c.Engine.BatchBytes, BatchWait: time.Duration(c.Engine.BatchWait),
		StopWhenIdle: true}
	if sinks[engine.SinkLake] {
		hist, err := store.History(ctx, engine.SinkLake)
		if err != nil {
			return err
		}
		b, err := resolveCheckpoint(hist, from)
		if err != nil {
			return fmt.Errorf("lake: %w", err)
		}
		lk, err := OpenLake(c)
		if err != nil {
			return err
		}
		for _, t := range opts.Tables {
			v := int64(-1) // the table's version as of checkpoint b
			for _, h := range hist {
				if h.ID <= b.ID {
					if hv, ok := h.LakeVersions[t.Name]; ok {
						v = hv
					}
				}
			}
			if err := lk.Rewind(ctx, t.Name, v); err != nil {
				return fmt.Errorf("lake: rewind %s: %w", t.Name, err)
			}
			fmt.Fprintf(out, "lake: %s rewound to version %d (checkpoint %d)\n", t.Name, v, b.ID)
		}
		if _, err := store.Rewind(ctx, engine.SinkLake, b.ID); err != nil {
			return err
		}
		opts.Lake = lk
	}
	if sinks[engine.SinkClickHouse] {
		hist, err := store.History(ctx, engine.SinkClickHouse)
		if err != nil {
			return err
		}
		b, err := resolveCheckpoint(hist, from)
		if err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		if _, err := store.Rewind(ctx, engine.SinkClickHouse, b.ID); err != nil {
			return err
		}
		fmt.Fprintf(out, "clickhouse: rewound to checkpoint %d (%s)\n", b.ID, b.Time.Format(time.RFC3339))
		sink, err := clickhouse.Open(ctx, c.ClickHouse, log)
		if err != nil {
			return err
		}
		defer sink.Close()
		opts.ClickHouse = sink
	}
	var records, lakeRows, chRows int
	opts.OnBatch = func(s engine.BatchStats) { records += s.Records; lakeRows += s.LakeRows; chRows += s.CHRows }
	eng, err := engine.New(opts)
	if err != nil {
		return err
	}
	if err := eng.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "replayed %d records: %d lake rows, %d clickhouse rows written\n", records, lakeRows, chRows)
	return nil
}

// Rebuild recreates the ClickHouse mirror tables from the lake (for when
// Kafka no longer holds the changes), and sets the ClickHouse checkpoint to
// the lake's progress so `inlet run` continues from there.
func Rebuild(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer) error {
	if c.Lake == nil || c.ClickHouse == nil {
		return fmt.Errorf("rebuild needs both lake and clickhouse configured")
	}
	lock, err := LockStateDir(c.StateDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	store, err := OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	lk, err := OpenLake(c)
	if err != nil {
		return err
	}
	sink, err := clickhouse.Open(ctx, c.ClickHouse, log)
	if err != nil {
		return err
	}
	defer sink.Close()
	var offsets []checkpoint.Offset
	rowsPer := map[string]int64{}
	for _, t := range Tables(c) {
		tbl, err := lk.Table(t.Name)
		if err != nil {
			return err
		}
		if err := sink.DropTable(ctx, t.Name); err != nil {
			return err
		}
		sc := tbl.Schema()
		sc.Topic = t.Topic
		n := 0
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
			_, err := sink.Write(ctx, rows)
			return err
		})
		if err != nil {
			return fmt.Errorf("rebuild %s: %w", t.Name, err)
		}
		rowsPer[t.Name] = int64(n)
		prefix := lk.AppID(t.Topic, 0)
		prefix = prefix[:strings.LastIndexByte(prefix, '/')+1]
		for app, v := range tbl.Txns() {
			if !strings.HasPrefix(app, prefix) {
				continue
			}
			p, err := strconv.ParseInt(app[len(prefix):], 10, 32)
			if err != nil {
				continue
			}
			offsets = append(offsets, checkpoint.Offset{Topic: t.Topic, Partition: int32(p), Next: v + 1})
		}
		fmt.Fprintf(out, "clickhouse: rebuilt %s from %d lake changes\n", t.Name, n)
	}
	sort.Slice(offsets, func(i, j int) bool {
		return offsets[i].Topic < offsets[j].Topic || offsets[i].Topic == offsets[j].Topic && offsets[i].Partition < offsets[j].Partition
	})
	next := uint64(1)
	if b, ok, err := store.Latest(ctx, engine.SinkClickHouse); err != nil {
		return err
	} else if ok {
		next = b.ID + 1
	}
	if err := store.Commit(ctx, checkpoint.Batch{ID: next, Sink: engine.SinkClickHouse, Offsets: offsets, Rows: rowsPer}); err != nil {
		return err
	}
	fmt.Fprintf(out, "clickhouse checkpoint %d set to the lake's offsets\n", next)
	return nil
}
