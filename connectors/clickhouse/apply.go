package clickhouse

import (
	"context"
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/retry"
)

// SinkName is ClickHouse's name in the checkpoint store, metrics and logs.
const SinkName = "clickhouse"

var (
	_ connectors.Sink      = (*Sink)(nil)
	_ connectors.Idler     = (*Sink)(nil)
	_ connectors.Resetter  = (*Sink)(nil)
	_ connectors.LockTaker = (*Sink)(nil)
)

// UseLocker implements connectors.LockTaker: with several engines, a batch
// that writes a mirror with summaries holds that mirror's lock from the
// insert through the summaries' refresh and check. Each summary has one
// staging table, and its check compares it with the mirror, so two
// engines must never interleave there; mirrors without summaries are
// written without a lock.
func (s *Sink) UseLocker(l connectors.Locker) { s.locker = l }

// lock takes the locks of the mirrors whose summaries this call may
// refresh: those of tables, and those with work owed from before.
func (s *Sink) lock(ctx context.Context, tables []connectors.TableBatch) (func(), error) {
	if s.locker == nil {
		return func() {}, nil
	}
	var keys []string
	for _, tb := range tables {
		if m := mirrorOf(tb.Table.Name); len(s.byMirror[m]) > 0 {
			keys = append(keys, "clickhouse/"+s.db+"/summaries/"+m)
		}
	}
	for _, sm := range s.summaries {
		if len(sm.touched) > 0 || sm.dirty {
			keys = append(keys, "clickhouse/"+s.db+"/summaries/"+sm.def.mirror)
		}
	}
	if len(keys) == 0 {
		return func() {}, nil
	}
	return s.locker.Lock(ctx, keys...)
}

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
	unlock, err := s.lock(ctx, b.Tables)
	if err != nil {
		return res, err
	}
	defer unlock()
	for _, tb := range b.Tables {
		var n int
		var err error
		if tb.Table.FullRefresh {
			n, err = s.WriteRefresh(ctx, tb.Table.Name, tb.Rows, tb.Markers)
		} else {
			n, err = s.Write(ctx, tb.Rows)
		}
		if err != nil {
			return res, &connectors.TableError{Table: tb.Table.Name, Err: classify(err)}
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
func (s *Sink) Idle(ctx context.Context) error {
	unlock, err := s.lock(ctx, nil)
	if err != nil {
		return err
	}
	defer unlock()
	return s.RefreshSummaries(ctx)
}

// Reset implements connectors.Resetter: drops a table's mirror to rebuild it.
func (s *Sink) Reset(ctx context.Context, table string) error { return s.DropTable(ctx, table) }

// ErrValue marks a value a mirror column cannot hold.
var ErrValue = errors.New("a value ClickHouse cannot hold")

// transientCodes are server exceptions that pass with time (load, limits,
// a replica or ZooKeeper away); any other exception about a table's rows
// or DDL will fail the same way on every retry.
var transientCodes = map[int32]bool{
	3:   true, // UNEXPECTED_END_OF_FILE
	159: true, // TIMEOUT_EXCEEDED
	164: true, // READONLY
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	285: true, // TOO_FEW_LIVE_REPLICAS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	394: true, // QUERY_WAS_CANCELLED
	999: true, // KEEPER_EXCEPTION
}

// classify marks what retrying cannot fix as needing the user: a value
// the column cannot hold, or a server exception about the table.
func classify(err error) error {
	var ex *proto.Exception
	switch {
	case errors.Is(err, ErrIncompatibleChange):
		return retry.MarkNeedsUser(err, "re-snapshot the table into a new mirror (inlet backfill), then inlet resume --table")
	case errors.Is(err, ErrValue):
		return retry.MarkNeedsUser(err, "set clickhouse.out_of_range (clamp or null) or fix the value at the source, then inlet resume --table")
	case errors.As(err, &ex) && !transientCodes[ex.Code]:
		return retry.MarkNeedsUser(err, "see the ClickHouse error; fix the mirror table or the server setting, then inlet resume --table")
	}
	return err
}
