package postgres

import (
	"sort"
	"sync"
	"time"
)

// Status is what a running source reports for inlet status.
type Status struct {
	Source    string                  `json:"source"`
	Snapshot  []TableProgress         `json:"snapshot,omitempty"`
	Backfills []Backfill              `json:"backfills,omitempty"`
	Refreshes map[string]RefreshState `json:"refreshes,omitempty"`
}

// Status reports the snapshot progress of this run and the backfill and
// refresh state of the last position sent.
func (s *Source) Status() Status {
	st := Status{Source: s.name, Snapshot: s.progress.list()}
	if b := s.lastPos.Load(); b != nil {
		if p, err := DecodePosition(*b); err == nil {
			st.Backfills, st.Refreshes = p.Backfills, p.Refreshes
		}
	}
	return st
}

// TableProgress is how far one table's snapshot got.
type TableProgress struct {
	Table     string    `json:"table"`
	Rows      int64     `json:"rows"`      // rows sent
	Estimated int64     `json:"estimated"` // pg_class.reltuples when it started
	Done      bool      `json:"done"`
	Started   time.Time `json:"started"`
	Updated   time.Time `json:"updated"`
	StartRows int64     `json:"start_rows"` // rows done before this run
}

// Rate is rows per second since the copy started (this run).
func (p TableProgress) Rate() float64 {
	el := p.Updated.Sub(p.Started).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(p.Rows-p.StartRows) / el
}

// ETA estimates the time left, 0 when unknown or done.
func (p TableProgress) ETA() time.Duration {
	r := p.Rate()
	if p.Done || r <= 0 || p.Estimated <= p.Rows {
		return 0
	}
	return time.Duration(float64(p.Estimated-p.Rows) / r * float64(time.Second))
}

// progress tracks the snapshot of every table; safe for concurrent use.
type progress struct {
	source string // for metrics labels
	mu     sync.Mutex
	tables map[string]*TableProgress
}

func (p *progress) set(table string, rows, est int64, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tables == nil {
		p.tables = map[string]*TableProgress{}
	}
	now := time.Now()
	t := p.tables[table]
	if t == nil {
		t = &TableProgress{Table: table, Started: now, StartRows: rows}
		p.tables[table] = t
	}
	t.Rows, t.Estimated, t.Done, t.Updated = rows, est, done, now
	snapshotRows.WithLabelValues(p.source, table).Set(float64(rows))
	snapshotEstimated.WithLabelValues(p.source, table).Set(float64(est))
	d := 0.0
	if done {
		d = 1
	}
	snapshotDone.WithLabelValues(p.source, table).Set(d)
}

func (p *progress) list() []TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TableProgress, 0, len(p.tables))
	for _, t := range p.tables {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

// SnapshotProgress returns the progress of every table this run copied.
func (s *Source) SnapshotProgress() []TableProgress { return s.progress.list() }

// QuietProgress turns off the periodic progress log lines (a terminal shows
// a live bar instead).
func (s *Source) QuietProgress() { s.quiet = true }
