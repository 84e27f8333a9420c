package statuspage

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/incident"
	"github.com/inlet-dev/inlet/internal/verify"
)

// TestThroughputReconcileVerify: a sink's per-table counts give its nodes
// (and the table's topic and source) the last hour's throughput, its own
// nodes the rows in/out and duplicates; the latest inlet verify result
// shows on the lake table and the view, and drift in ClickHouse makes its
// view failing (the summary on it stale).
func TestThroughputReconcileVerify(t *testing.T) {
	c, g := loadShop(t)
	now := time.Now()
	per := make([]int64, engine.ThroughputMinutes)
	per[len(per)-1], per[len(per)-2] = 30, 12
	lakeCounts := engine.TableCounts{Table: "public.orders", In: map[string]int64{"c": 40, "u": 2}, Out: map[string]int64{"c": 40, "u": 2}, PerMinute: per}
	chPer := make([]int64, engine.ThroughputMinutes)
	chPer[len(chPer)-1] = 5
	chCounts := engine.TableCounts{Table: "public.orders", In: map[string]int64{"c": 5}, Out: map[string]int64{"c": 5}, Skipped: 3, PerMinute: chPer}
	st := State{Running: true, Sinks: []engine.SinkStatus{
		{Sink: "lake", State: "ok", LastCommit: now, Tables: []engine.TableCounts{lakeCounts}},
		{Sink: "clickhouse", State: "ok", LastCommit: now, Tables: []engine.TableCounts{chCounts}}}}
	verified := map[string]verify.Latest{"public.orders": {Table: "public.orders", At: now, Postgres: 10, ClickHouse: 9, Lake: 10,
		Drift: []verify.Drift{{Sink: "clickhouse", Kind: verify.Missing, Rows: 1, Examples: []string{"id=7"}}}}}
	nodes := evaluate(g, []observed{{cfg: c, state: st, verified: verified}}, now)
	by := map[string]NodeStatus{}
	for _, n := range nodes {
		by[string(n.Kind)+" "+n.Name] = n
	}
	for name, want := range map[string]int64{
		"postgres_table public.orders": 42, "kafka_topic shop.public.orders": 42, "lake_table public.orders": 42,
		"clickhouse_mirror shop.orders": 5, "clickhouse_view shop.orders_current": 5,
	} {
		n := by[name]
		if n.LastHour == nil || *n.LastHour != want || len(n.Throughput) != engine.ThroughputMinutes {
			t.Errorf("%s: last hour %v (%d minutes), want %d", name, n.LastHour, len(n.Throughput), want)
		}
	}
	if r := by["clickhouse_view shop.orders_current"].Reconcile; r == nil || r.Skipped != 3 || r.In["c"] != 5 {
		t.Errorf("view reconcile %+v", r)
	}
	if r := by["lake_table public.orders"].Reconcile; r == nil || r.Out["u"] != 2 {
		t.Errorf("lake reconcile %+v", r)
	}
	if by["kafka_topic shop.public.orders"].Reconcile != nil {
		t.Error("a topic has no sink counts of its own")
	}
	if v := by["lake_table public.orders"].Verify; v == nil || v.Lake != 10 {
		t.Errorf("lake verify %+v", v)
	}
	if n := by["clickhouse_view shop.orders_current"]; n.Verify == nil || n.Health != Failing {
		t.Errorf("view with verify drift: %s %+v", n.Health, n.Verify)
	}
	if h := by["lake_table public.orders"].Health; h != OK {
		t.Errorf("lake table %s, want ok (the drift is in clickhouse)", h)
	}
	if n := by["clickhouse_summary shop.orders_daily"]; n.Health != Stale {
		t.Errorf("summary %s, want stale below the drifted view", n.Health)
	}
}

// TestEscalationBanner: /api/status lists, per pipeline, the open
// incidents older than incidents.escalate_after (the page's banner), not
// the younger ones.
func TestEscalationBanner(t *testing.T) {
	c, _ := loadShop(t)
	c.StateDir = t.TempDir()
	c.Incidents.EscalateAfter = conf.Duration(15 * time.Minute)
	now := time.Now().UTC()
	var lines []string
	for _, e := range []incident.Entry{
		{V: 2, Time: now.Add(-20 * time.Minute), Level: "ERROR", Msg: "incident: sink write failed", Attrs: map[string]any{"sink": "clickhouse"}},
		{V: 2, Time: now.Add(-time.Minute), Level: "ERROR", Msg: "incident: source failed", Attrs: map[string]any{"source": "pg"}},
	} {
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(incident.Path(c.StateDir), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, []Pipeline{{Config: c, State: func() State { return State{Running: true, Updated: now} }}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	p := st.Pipelines[0]
	if p.Open != 2 || len(p.Escalated) != 1 || p.Escalated[0].Subject != "sink=clickhouse" || p.EscalateAfter != "15m0s" {
		t.Fatalf("open %d, escalated %+v (after %s); want the clickhouse incident only", p.Open, p.Escalated, p.EscalateAfter)
	}
}
