package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/retry"
)

// SinkName is the lake's name in the checkpoint store, metrics and logs.
const SinkName = "lake"

// Sink is the lake as an engine sink. Its own progress is the txn action
// of each Delta table (appId inlet/<pipeline>/engine/<topic>/<partition>,
// version = last offset written), committed in the same Delta version as
// the rows, so Apply is idempotent by construction.
//
// Write checkpoints a table when one is due. The rest of table maintenance
// (log cleanup, compaction, retention, vacuum: Lake.Maintain) runs in the
// background beside Apply every MaintainEvery. It commits optimistically,
// so a streaming commit that races it retries on the next version; it
// never blocks Apply. A table loading in bulk (a snapshot or a catch-up:
// more than bulkRate rows a second since the last pass) has its pass put
// off, up to maxDeferred passes in a row: compacting it then would
// rewrite files that keep arriving, several times over, with the CPU the
// load needs.
type Sink struct {
	l       *Lake
	log     *slog.Logger
	cleaned map[string]bool

	every    time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	known    map[string]bool  // tables written
	recent   map[string]int64 // rows applied per table since its last pass
	deferred map[string]int   // passes put off in a row per table
}

// Maintenance waits while a table takes more than bulkRate rows a second
// (and at least bulkRows since its last pass), at most maxDeferred passes.
const (
	bulkRate    = 50_000
	bulkRows    = 100_000
	maxDeferred = 10
)

var (
	_ connectors.Sink      = (*Sink)(nil)
	_ connectors.Rewinder  = (*Sink)(nil)
	_ connectors.Adopter   = (*Sink)(nil)
	_ connectors.Describer = (*Sink)(nil)
	_ connectors.Reporter  = (*Sink)(nil)
)

// MaintainEvery is how often the lake sink maintains its tables.
const MaintainEvery = 30 * time.Second

// Sink returns the lake as an engine sink; maintenance problems are logged
// to log.
func (l *Lake) Sink(log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{l: l, log: log, cleaned: map[string]bool{}, every: MaintainEvery,
		stop: make(chan struct{}), done: make(chan struct{}), known: map[string]bool{},
		recent: map[string]int64{}, deferred: map[string]int{}}
}

// Name implements connectors.Sink.
func (s *Sink) Name() string { return SinkName }

// Progress reads each table's txn actions, including what other processes
// committed since it last read them. The first call per table also
// removes files an uncommitted batch left behind.
func (s *Sink) Progress(ctx context.Context, tables []connectors.Table) (connectors.Progress, error) {
	out := connectors.Progress{Next: map[connectors.TopicPartition]int64{}, Versions: map[string]int64{}, TopicIDs: map[string]string{}}
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
		// Other engines of a consumer group commit to the table too: what
		// they committed since this process read it counts.
		if err := tbl.Follow(); err != nil {
			return out, err
		}
		if v := tbl.Version(); v >= 0 {
			out.Versions[t.Name] = v
		}
		if tbl.topicID != "" {
			out.TopicIDs[t.Topic] = tbl.topicID
		}
		for p, v := range s.l.partitionTxns(tbl, t.Topic) {
			out.Next[connectors.TopicPartition{Topic: t.Topic, Partition: p}] = v + 1
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
			FullRefresh: tb.Table.FullRefresh, Markers: tb.Markers, TopicID: tb.TopicID})
		if err != nil {
			switch {
			case errors.Is(err, ErrIncompatible):
				err = retry.MarkNeedsUser(err, "re-snapshot the table into a new lake table (inlet backfill), or fix the source; then inlet resume --table "+n)
			case errors.Is(err, ErrOtherTopic):
				err = retry.MarkNeedsUser(err, connectors.KafkaChangedFix)
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
		s.noteTable(n, int64(len(tb.Rows)))
	}
	return res, nil
}

// noteTable starts maintenance on first use and adds table n, which just
// took rows rows, to it.
func (s *Sink) noteTable(n string, rows int64) {
	s.once.Do(func() { go s.maintain() })
	s.mu.Lock()
	s.known[n] = true
	s.recent[n] += rows
	s.mu.Unlock()
}

// bulkLoading reports whether table n's pass is put off (it counts the
// pass as seen either way).
func (s *Sink) bulkLoading(n string, since time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := s.recent[n]
	s.recent[n] = 0
	if rows >= bulkRows && float64(rows) > bulkRate*since.Seconds() && s.deferred[n] < maxDeferred {
		s.deferred[n]++
		return true
	}
	s.deferred[n] = 0
	return false
}

// maintain runs Lake.Maintain over the known tables until Close.
func (s *Sink) maintain() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		names := make([]string, 0, len(s.known))
		for n := range s.known {
			names = append(names, n)
		}
		s.mu.Unlock()
		sort.Strings(names)
		for _, n := range names {
			if s.bulkLoading(n, s.every) {
				s.log.Debug("lake maintenance put off while the table loads in bulk", "table", n)
				continue
			}
			now := time.Now()
			rep, err := s.l.Maintain(context.Background(), n, now)
			if err != nil {
				s.log.Warn("lake maintenance failed; retrying later", "table", n, "err", err)
			}
			if st, err := s.l.Stats(n); err == nil {
				publish(n, st, rep, now)
			}
			if rep.Checkpoint >= 0 || len(rep.Compacted) > 0 || len(rep.Vacuumed) > 0 || len(rep.LogFilesDeleted) > 0 || len(rep.RetentionRemoved) > 0 {
				s.log.Info("lake table maintained", "table", n, "checkpoint", rep.Checkpoint, "compactions", len(rep.Compacted),
					"log_files_deleted", len(rep.LogFilesDeleted), "vacuumed", len(rep.Vacuumed), "retention_removed", len(rep.RetentionRemoved))
			}
		}
	}
}

// Adopt implements connectors.Adopter.
func (s *Sink) Adopt(ctx context.Context, t connectors.Table, topicID string, next map[int32]int64) error {
	return s.l.Adopt(ctx, t.Name, t.Topic, topicID, next)
}

// Rewind implements connectors.Rewinder: time travel of one table.
func (s *Sink) Rewind(ctx context.Context, table string, version int64) error {
	return s.l.Rewind(ctx, table, version)
}

// Close implements connectors.Sink: it stops maintenance (a run in
// progress finishes first).
func (s *Sink) Close() error {
	started := false
	s.once.Do(func() { close(s.done) }) // never started: nothing to wait for
	select {
	case <-s.done:
	default:
		started = true
	}
	if started {
		close(s.stop)
		<-s.done
	}
	return nil
}

// Describe implements connectors.Describer.
func (s *Sink) Describe(ctx context.Context, t connectors.Table) (connectors.TableInfo, error) {
	info := connectors.TableInfo{Where: s.l.st.Location(t.Name), Kind: "Delta table; one row per change", Rows: -1, Version: -1}
	tbl, err := s.l.Table(t.Name)
	if err != nil {
		return info, err
	}
	info.Version, info.Rows, info.Exists = tbl.Version(), tbl.Rows(), tbl.Version() >= 0
	return info, nil
}

// Report implements connectors.Reporter: for inlet status, per table its
// log and file counts and last checkpoint (nothing for analysts: describe
// shows the path).
func (s *Sink) Report(ctx context.Context, w io.Writer, tables []connectors.Table, forAnalysts bool) error {
	if forAnalysts {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "LAKE TABLE\tVERSIONS\tFILES\tBYTES\tSMALL FILES\tLAST CHECKPOINT")
	for _, t := range tables {
		st, err := s.l.Stats(t.Name)
		if err != nil {
			return err
		}
		if st.Version < 0 {
			fmt.Fprintf(w, "%s\tnone\t0\t0\t0\tnone\n", t.Name)
			continue
		}
		ck := "none"
		if st.LastCheckpoint >= 0 {
			ck = fmt.Sprintf("%d (%s ago)", st.LastCheckpoint, time.Since(st.LastCheckpointAt).Round(time.Second))
		}
		fmt.Fprintf(w, "%s\t%d..%d\t%d\t%d\t%d\t%s\n", t.Name, st.OldestVersion, st.Version, st.Files, st.Bytes, st.SmallFiles, ck)
	}
	return nil
}
