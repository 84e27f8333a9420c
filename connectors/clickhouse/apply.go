package clickhouse

import (
	"context"
	"errors"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/retry"
)

// SinkName is ClickHouse's name in the checkpoint store, metrics and logs.
const SinkName = "clickhouse"

var (
	_ connectors.Sink     = (*Sink)(nil)
	_ connectors.Idler    = (*Sink)(nil)
	_ connectors.Resetter = (*Sink)(nil)
)

// Name implements connectors.Sink.
func (s *Sink) Name() string { return SinkName }

// Progress implements connectors.Sink: ClickHouse keeps no progress of its
// own; its position is its checkpoint. Mirror rows carry their source
// version, so re-applying a batch after a crash collapses onto the same
// rows (ReplacingMergeTree(_version)).
func (s *Sink) Progress(context.Context, []connectors.Table) (connectors.Progress, error) {
	return connectors.Progress{}, nil
}

// Apply upserts each table's rows (full-refresh tables through their
// staging generation), then refreshes the summary partitions the batch
// touched, so a committed batch is reflected in every summary (a crash
// before the checkpoint re-reads the batch, and the pending partitions are
// redone). A failed summary check with on_check_failure: stop is permanent.
func (s *Sink) Apply(ctx context.Context, b connectors.SinkBatch) (connectors.Applied, error) {
	res := connectors.Applied{Rows: map[string]int64{}}
	for _, tb := range b.Tables {
		var n int
		var err error
		if tb.Table.FullRefresh {
			n, err = s.WriteRefresh(ctx, tb.Table.Name, tb.Rows, tb.Markers)
		} else {
			n, err = s.Write(ctx, tb.Rows)
		}
		if err != nil {
			return res, err
		}
		res.Rows[tb.Table.Name] = int64(len(tb.Rows))
		res.Written += n
	}
	if err := s.RefreshSummaries(ctx); err != nil {
		if errors.Is(err, ErrSummaryCheck) {
			return res, retry.MarkPermanent(err)
		}
		return res, err
	}
	return res, nil
}

// Idle implements connectors.Idler: full-refresh summaries whose interval
// has passed.
func (s *Sink) Idle(ctx context.Context) error { return s.RefreshSummaries(ctx) }

// Reset implements connectors.Resetter: drops a table's mirror to rebuild it.
func (s *Sink) Reset(ctx context.Context, table string) error { return s.DropTable(ctx, table) }
