package engine

import (
	"sort"
	"sync"
	"time"
)

// Reconciliation counts: after every batch a sink commits, the engine
// records per table and op what the sink took (rows in), what the sink
// reports it wrote (rows out) and the records it skipped as duplicates,
// as metrics (inlet_sink_rows_in_total, inlet_sink_rows_out_total,
// inlet_sink_duplicates_skipped_by_table_total) and in SinkStatus.Tables
// with a per-minute ring of the last hour's rows for the status page.
// Memory is bounded: one counter set and a 60-slot ring per table.

// ThroughputMinutes is how many minutes of per-minute counts a table keeps.
const ThroughputMinutes = 60

// TableCounts is what one sink took and wrote of one table since the
// process started.
type TableCounts struct {
	Table string `json:"table"`
	// In is the changes the sink took, by op (c, u, d, r, t; "marker" for
	// full-refresh markers); Out what it reports written, by op.
	In      map[string]int64 `json:"in"`
	Out     map[string]int64 `json:"out"`
	Skipped int64            `json:"duplicates_skipped"`
	// PerMinute is the changes written in each of the last
	// ThroughputMinutes minutes, oldest first, the current minute last.
	PerMinute []int64   `json:"per_minute"`
	LastBatch time.Time `json:"last_batch,omitzero"`
}

// tableCounter keeps one table's counts and its ring of minutes.
type tableCounter struct {
	in, out map[string]int64
	skipped int64
	ring    [ThroughputMinutes]int64
	minute  [ThroughputMinutes]int64 // the Unix minute each slot holds
	last    time.Time
}

// counters are a sink's tableCounters, by table.
type counters struct {
	mu     sync.Mutex
	tables map[string]*tableCounter
}

func (c *counters) table(t string) *tableCounter {
	if c.tables == nil {
		c.tables = map[string]*tableCounter{}
	}
	tc := c.tables[t]
	if tc == nil {
		tc = &tableCounter{in: map[string]int64{}, out: map[string]int64{}}
		c.tables[t] = tc
	}
	return tc
}

// opName is a row's op as metrics and the page name it.
func opName(op byte) string {
	if op == 0 {
		return "?"
	}
	return string(rune(op))
}

// record adds one committed batch of a table: in by op, the rows the sink
// reports written, and the duplicates it skipped. A sink reports written
// rows per table only; when it wrote as many as it took (every change is
// one row in both sinks), out per op equals in per op, otherwise the
// written rows count under op "all".
func (c *counters) record(sink, table string, in map[string]int64, written, skipped int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc := c.table(table)
	var took int64
	for op, n := range in {
		tc.in[op] += n
		took += n
		sinkRowsIn.WithLabelValues(sink, table, op).Add(float64(n))
	}
	if written == took {
		for op, n := range in {
			tc.out[op] += n
			sinkRowsOut.WithLabelValues(sink, table, op).Add(float64(n))
		}
	} else {
		tc.out["all"] += written
		sinkRowsOut.WithLabelValues(sink, table, "all").Add(float64(written))
	}
	if skipped > 0 {
		tc.skipped += skipped
		sinkSkipped.WithLabelValues(sink, table).Add(float64(skipped))
	}
	m := now.Unix() / 60
	i := m % ThroughputMinutes
	if tc.minute[i] != m {
		tc.minute[i], tc.ring[i] = m, 0
	}
	tc.ring[i] += written
	tc.last = now
}

// skip counts duplicates of a table outside a committed batch.
func (c *counters) skip(sink, table string, n int64) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.table(table).skipped += n
	sinkSkipped.WithLabelValues(sink, table).Add(float64(n))
}

// snapshot returns every table's counts at now, sorted by table.
func (c *counters) snapshot(now time.Time) []TableCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TableCounts, 0, len(c.tables))
	m := now.Unix() / 60
	for t, tc := range c.tables {
		r := TableCounts{Table: t, In: cloneCounts(tc.in), Out: cloneCounts(tc.out), Skipped: tc.skipped, LastBatch: tc.last,
			PerMinute: make([]int64, ThroughputMinutes)}
		for k := int64(0); k < ThroughputMinutes; k++ {
			want := m - (ThroughputMinutes - 1) + k
			if i := want % ThroughputMinutes; want >= 0 && tc.minute[i] == want {
				r.PerMinute[k] = tc.ring[i]
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

func cloneCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// LastHour sums a table's per-minute counts.
func (t TableCounts) LastHour() int64 {
	var n int64
	for _, v := range t.PerMinute {
		n += v
	}
	return n
}
