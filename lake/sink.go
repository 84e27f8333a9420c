package lake

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/retry"
)

// SinkName is the lake's name in the checkpoint store, metrics and logs.
const SinkName = "lake"

// Sink is the lake as an engine sink. Its own progress is the txn action
// of each Delta table (appId inlet/<pipeline>/engine/<topic>/<partition>,
// version = last offset written), committed in the same Delta version as
// the rows, so Apply is idempotent by construction.
type Sink struct {
	l       *Lake
	cleaned map[string]bool
}

var (
	_ connectors.Sink      = (*Sink)(nil)
	_ connectors.Rewinder  = (*Sink)(nil)
	_ connectors.Describer = (*Sink)(nil)
)

// Sink returns the lake as an engine sink.
func (l *Lake) Sink() *Sink { return &Sink{l: l, cleaned: map[string]bool{}} }

// Name implements connectors.Sink.
func (s *Sink) Name() string { return SinkName }

// Progress reads each table's txn actions. The first call per table also
// removes files an uncommitted batch left behind.
func (s *Sink) Progress(ctx context.Context, tables []connectors.Table) (connectors.Progress, error) {
	out := connectors.Progress{Next: map[connectors.TopicPartition]int64{}, Versions: map[string]int64{}}
	for _, t := range tables {
		if !s.cleaned[t.Name] {
			if _, err := s.l.RemoveOrphans(t.Name); err != nil {
				return out, err
			}
			s.cleaned[t.Name] = true
		}
		tbl, err := s.l.Table(t.Name)
		if err != nil {
			return out, err
		}
		if v := tbl.Version(); v >= 0 {
			out.Versions[t.Name] = v
		}
		prefix := s.l.AppID(t.Topic, 0)
		prefix = prefix[:strings.LastIndexByte(prefix, '/')+1]
		for app, v := range tbl.Txns() {
			if !strings.HasPrefix(app, prefix) {
				continue
			}
			p, err := strconv.ParseInt(app[len(prefix):], 10, 32)
			if err != nil {
				continue
			}
			out.Next[connectors.TopicPartition{Topic: t.Topic, Partition: int32(p)}] = v + 1
		}
	}
	return out, nil
}

// Apply commits one Delta version per table of b (none for a table whose
// txn actions show it already holds the batch).
func (s *Sink) Apply(ctx context.Context, b connectors.SinkBatch) (connectors.Applied, error) {
	res := connectors.Applied{Rows: map[string]int64{}, Versions: map[string]int64{}}
	for _, tb := range b.Tables {
		n, topic := tb.Table.Name, tb.Table.Topic
		info := map[string]any{"pipeline": s.l.pipeline, "topic": topic, "batch": b.ID, "source_table": n}
		v, did, err := s.l.Write(ctx, Batch{Table: n, Topic: topic, Rows: tb.Rows, Ranges: tb.Ranges, Info: info,
			FullRefresh: tb.Table.FullRefresh, Markers: tb.Markers})
		if err != nil {
			if errors.Is(err, ErrIncompatible) {
				err = retry.MarkNeedsUser(err, "re-snapshot the table into a new lake table (inlet backfill), or fix the source; then inlet resume --table "+n)
			}
			return res, &connectors.TableError{Table: n, Err: err}
		}
		// A batch the table already held (a retry after the checkpoint
		// failed) still gets its history entry, with the same counts.
		res.Rows[n] = int64(len(tb.Rows))
		if v >= 0 {
			res.Versions[n] = v
		}
		if did {
			res.Written += len(tb.Rows)
		}
	}
	return res, nil
}

// Rewind implements connectors.Rewinder: time travel of one table.
func (s *Sink) Rewind(ctx context.Context, table string, version int64) error {
	return s.l.Rewind(ctx, table, version)
}

// Close implements connectors.Sink.
func (s *Sink) Close() error { return nil }

// Describe implements connectors.Describer.
func (s *Sink) Describe(ctx context.Context, t connectors.Table) (connectors.TableInfo, error) {
	info := connectors.TableInfo{Where: filepath.Join(s.l.root, t.Name), Kind: "Delta table; one row per change", Rows: -1, Version: -1}
	tbl, err := s.l.Table(t.Name)
	if err != nil {
		return info, err
	}
	info.Version, info.Rows, info.Exists = tbl.Version(), tbl.Rows(), tbl.Version() >= 0
	return info, nil
}
