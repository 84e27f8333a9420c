package statuspage

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/health"
	"github.com/inlet-dev/inlet/internal/incident"
	"github.com/inlet-dev/inlet/internal/lineage"
)

func loadShop(t *testing.T) (*config.Config, *lineage.Graph) {
	t.Helper()
	c, err := config.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := lineage.Build(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}

// health returns each node's health by name.
func healthByName(nodes []NodeStatus) map[string]Health {
	out := map[string]Health{}
	for _, n := range nodes {
		out[string(n.Kind)+" "+n.Name] = n.Health
	}
	return out
}

func reasonsOf(nodes []NodeStatus, kind lineage.Kind, name string) []string {
	for _, n := range nodes {
		if n.Kind == kind && n.Name == name {
			return n.Reasons
		}
	}
	return nil
}

func TestHealthAndImpact(t *testing.T) {
	c, g := loadShop(t)
	now := time.Now()
	okSinks := []engine.SinkStatus{{Sink: "lake", State: "ok"}, {Sink: "clickhouse", State: "ok"}}
	all := func(h Health) map[string]Health {
		return map[string]Health{
			"postgres_table public.orders": h, "postgres_table sales.customers": h,
			"kafka_topic shop.public.orders": h, "kafka_topic shop.sales.customers": h,
			"lake_table public.orders": h, "lake_table sales.customers": h,
			"clickhouse_mirror shop.orders": h, "clickhouse_mirror shop.sales_customers": h,
			"clickhouse_view shop.orders_current": h, "clickhouse_view shop.sales_customers_current": h,
			"clickhouse_summary shop.orders_daily": h,
		}
	}
	with := func(base map[string]Health, kv ...any) map[string]Health {
		for i := 0; i < len(kv); i += 2 {
			base[kv[i].(string)] = kv[i+1].(Health)
		}
		return base
	}
	tests := []struct {
		name  string
		state State
		open  []Incident
		want  map[string]Health
		// a reason the summary must carry
		summaryReason string
	}{
		{name: "all ok", state: State{Running: true, Sinks: okSinks}, want: all(OK)},
		{
			name: "clickhouse retrying: mirrors and views failing, summary stale",
			state: State{Running: true, Sinks: []engine.SinkStatus{{Sink: "lake", State: "ok"},
				{Sink: "clickhouse", State: "retrying", LastError: "read: i/o timeout", LagRecords: 40, LagSeconds: 12}}},
			want: with(all(OK), "clickhouse_mirror shop.orders", Failing, "clickhouse_mirror shop.sales_customers", Failing,
				"clickhouse_view shop.orders_current", Failing, "clickhouse_view shop.sales_customers_current", Failing,
				"clickhouse_summary shop.orders_daily", Stale),
			summaryReason: "upstream clickhouse sink retrying: read: i/o timeout",
		},
		{
			name: "one table quarantined in clickhouse",
			state: State{Running: true, Sinks: []engine.SinkStatus{{Sink: "lake", State: "ok"},
				{Sink: "clickhouse", State: "ok", Quarantined: []engine.Quarantine{{Table: "public.orders", Error: "type change", Fix: "inlet resume"}}}}},
			want: with(all(OK), "clickhouse_mirror shop.orders", Failing, "clickhouse_view shop.orders_current", Failing,
				"clickhouse_summary shop.orders_daily", Stale),
			summaryReason: "upstream public.orders quarantined in clickhouse: type change (fix: inlet resume)",
		},
		{
			name: "source not ready: everything downstream stale",
			state: State{Running: true, Sinks: okSinks, Stages: []health.StageState{
				{Name: "source pg", Reason: "reconnecting: connection refused", Since: now.Add(-time.Minute)}}},
			want:          with(all(Stale), "postgres_table public.orders", Failing, "postgres_table sales.customers", Failing),
			summaryReason: "upstream source pg not ready: reconnecting: connection refused",
		},
		{
			name: "clickhouse stalled (frozen mid-write, no error yet)",
			state: State{Running: true, Sinks: []engine.SinkStatus{{Sink: "lake", State: "ok", LastCommit: now},
				{Sink: "clickhouse", State: "ok", LagRecords: 52, LagSeconds: 0, LastCommit: now.Add(-20 * time.Second)}}},
			want: with(all(OK), "clickhouse_mirror shop.orders", Failing, "clickhouse_mirror shop.sales_customers", Failing,
				"clickhouse_view shop.orders_current", Failing, "clickhouse_view shop.sales_customers_current", Failing,
				"clickhouse_summary shop.orders_daily", Stale),
			summaryReason: "upstream clickhouse sink stalled: no commit for 20s while 52 records wait",
		},
		{
			name:  "lake catching up: lagging",
			state: State{Running: true, Sinks: []engine.SinkStatus{{Sink: "lake", State: "catching_up", LagRecords: 9000, LagSeconds: 40}, {Sink: "clickhouse", State: "ok"}}},
			want:  with(all(OK), "lake_table public.orders", Lagging, "lake_table sales.customers", Lagging),
		},
		{
			name:  "open source incident",
			state: State{Running: true, Sinks: okSinks},
			open:  []Incident{{Msg: "incident: source pg is not streaming; reconnecting", Attrs: map[string]any{"source": "pg"}, Open: true}},
			want:  with(all(Stale), "postgres_table public.orders", Failing, "postgres_table sales.customers", Failing),
		},
		{
			name:  "not running",
			state: State{Reason: "last status report 2m ago"},
			want:  all(Stale),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := evaluate(g, []observed{{cfg: c, state: tt.state, incidents: tt.open}}, now)
			if d := cmp.Diff(tt.want, healthByName(nodes)); d != "" {
				t.Errorf("health (-want +got):\n%s", d)
			}
			for _, n := range nodes {
				if n.Sink == "clickhouse" && strings.Contains(tt.name, "stalled") && n.LagSeconds < 20 {
					t.Errorf("%s: stalled 20s, lag %.1fs", n.Name, n.LagSeconds)
				}
			}
			if tt.summaryReason != "" {
				rs := reasonsOf(nodes, lineage.CHSummary, "shop.orders_daily")
				if !contains(rs, tt.summaryReason) {
					t.Errorf("summary reasons %q lack %q", rs, tt.summaryReason)
				}
			}
		})
	}
}

func TestEpisodes(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ch := map[string]any{"sink": "clickhouse", "err": "i/o timeout"}
	entries := []incident.Entry{
		{Time: at(0), Level: "ERROR", Msg: "incident: batch failed; retrying", Attrs: ch},
		{Time: at(1), Level: "ERROR", Msg: "incident: batch failed; retrying", Attrs: ch},
		{Time: at(2), Level: "ERROR", Msg: "incident: table quarantined; the other tables keep flowing", Attrs: map[string]any{"sink": "clickhouse", "table": "public.orders"}},
		{Time: at(3), Level: "INFO", Msg: "incident resolved: sink caught up after failures", Attrs: map[string]any{"sink": "clickhouse"}},
		{Time: at(4), Level: "WARN", Msg: "incident: skipped records the sink already holds", Attrs: map[string]any{"sink": "lake"}},
		{Time: at(5), Level: "ERROR", Msg: "incident: batch failed; retrying", Attrs: ch},
	}
	type ep struct {
		Subject string
		Count   int
		Open    bool
		Res     string
	}
	var got []ep
	for _, in := range episodes("shop", entries, time.Time{}) {
		got = append(got, ep{in.Subject, in.Count, in.Open, in.Resolution})
	}
	want := []ep{
		{"sink=clickhouse", 1, true, ""},
		{"sink=lake", 1, false, "recorded"},
		{"sink=clickhouse table=public.orders", 1, true, ""},
		{"sink=clickhouse", 2, false, "incident resolved: sink caught up after failures"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("episodes (-want +got):\n%s", d)
	}
	// A run that started after them: nothing is open any more.
	for _, in := range episodes("shop", entries, at(10)) {
		if in.Open {
			t.Errorf("%s still open after a restart", in.Subject)
		}
	}
}

func TestLayout(t *testing.T) {
	_, g := loadShop(t)
	pos := layout(g)
	seen := map[[2]int]string{}
	for _, n := range g.Nodes {
		p, ok := pos[n.ID]
		if !ok {
			t.Fatalf("%s not placed", n.ID)
		}
		if p[0] != column[n.Kind] {
			t.Errorf("%s in column %d, want %d", n.ID, p[0], column[n.Kind])
		}
		if o, ok := seen[p]; ok {
			t.Errorf("%s and %s both at %v", n.ID, o, p)
		}
		seen[p] = n.ID
	}
	// A view sits beside its mirror, a summary beside its view.
	row := func(name string) int {
		for _, n := range g.Nodes {
			if n.Name == name {
				return pos[n.ID][1]
			}
		}
		t.Fatalf("no node %s", name)
		return -1
	}
	if row("shop.orders") != row("shop.orders_current") || row("shop.orders_current") != row("shop.orders_daily") {
		t.Errorf("mirror, view and summary rows: %d %d %d", row("shop.orders"), row("shop.orders_current"), row("shop.orders_daily"))
	}
}

// TestServer serves the page and its API with no lake, ClickHouse or
// journal to read: the page still answers, every node present.
func TestServer(t *testing.T) {
	c, g := loadShop(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, []Pipeline{{Config: c, State: func() State {
		return State{Running: true, Updated: time.Now(), Sinks: []engine.SinkStatus{{Sink: "clickhouse", State: "retrying", LastError: "boom"}}}
	}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	get := func(path string) (int, string, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, p := range []string{"/", "/incidents", "/checkpoints", "/table?pipeline=shop&table=public.orders"} {
		if code, ct, body := get(p); code != 200 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "/static/app.js") {
			t.Errorf("GET %s: %d %s", p, code, ct)
		}
	}
	for _, p := range []string{"/static/app.js", "/static/style.css"} {
		if code, _, _ := get(p); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _, _ := get("/nope"); code != 404 {
		t.Errorf("GET /nope: %d, want 404", code)
	}
	code, _, body := get("/api/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("/api/status: %d %v\n%s", code, err, body)
	}
	if len(st.Nodes) != len(g.Nodes) || st.Counts[Failing] != 4 || st.Counts[Stale] != 1 {
		t.Errorf("/api/status: %d nodes (want %d), counts %v", len(st.Nodes), len(g.Nodes), st.Counts)
	}
	code, _, body = get("/api/table?pipeline=shop&table=public.orders")
	var tp TablePage
	if err := json.Unmarshal([]byte(body), &tp); err != nil || code != 200 {
		t.Fatalf("/api/table: %d %v\n%s", code, err, body)
	}
	if len(tp.Nodes) != 6 { // source, topic, lake, mirror, view, summary
		t.Errorf("/api/table: %d nodes, want 6", len(tp.Nodes))
	}
	if code, _, _ := get("/api/table?pipeline=shop&table=nope"); code != 400 {
		t.Errorf("/api/table of an unknown table: %d, want 400", code)
	}
}

func TestSummaryCheckEpisodeResolvedByLaterPass(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	eps := episodes("shop", []incident.Entry{{Time: t0, Level: "ERROR", Msg: "incident: summary check failed", Attrs: map[string]any{"summary": "orders_daily"}}}, time.Time{})
	d := &details{Summaries: map[string]clickhouse.SummaryInfo{"orders_daily": {Name: "orders_daily", Checks: []clickhouse.CheckResult{
		{Check: "unique_dimensions", At: t0.Add(time.Minute), OK: true}, {Check: "matches_mirror", At: t0.Add(-time.Minute), OK: false}}}}}
	resolveChecked(eps, d)
	if !eps[0].Open {
		t.Fatal("resolved while a check has not passed since")
	}
	d.Summaries["orders_daily"].Checks[1] = clickhouse.CheckResult{Check: "matches_mirror", At: t0.Add(time.Minute), OK: true}
	resolveChecked(eps, d)
	if eps[0].Open || eps[0].Resolved.IsZero() {
		t.Errorf("still open after every check passed: %+v", eps[0])
	}
}

// TestTwoPipelines: inlet serve over two pipelines that read one Postgres
// table. One is not running: its own nodes are stale, the shared table is
// not (the other pipeline still reads it), the other pipeline's are ok.
func TestTwoPipelines(t *testing.T) {
	shop, err := config.Load(filepath.Join("testdata", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	billing, err := config.Load(filepath.Join("testdata", "billing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*config.Config{shop, billing} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	g, err := lineage.Build(shop, billing)
	if err != nil {
		t.Fatal(err)
	}
	nodes := evaluate(g, []observed{
		{cfg: shop, state: State{Running: true, Sinks: []engine.SinkStatus{{Sink: "lake", State: "ok"}, {Sink: "clickhouse", State: "ok"}}}},
		{cfg: billing, state: State{Reason: "no status report"}},
	}, time.Now())
	for _, n := range nodes {
		want := OK
		if len(n.Pipelines) == 1 && n.Pipelines[0] == "billing" {
			want = Stale
		}
		if n.Health != want {
			t.Errorf("%s (%v): %s, want %s %v", n.ID, n.Pipelines, n.Health, want, n.Reasons)
		}
	}
	shared := 0
	for _, n := range nodes {
		if len(n.Pipelines) == 2 {
			shared++
		}
	}
	if shared != 1 {
		t.Errorf("%d nodes shared by both pipelines, want 1 (public.orders)", shared)
	}
}

func TestSnapshotProgress(t *testing.T) {
	c, g := loadShop(t)
	nodes := evaluate(g, []observed{{cfg: c, state: State{Running: true, Sources: []postgres.Status{{Source: "pg",
		Snapshot: []postgres.TableProgress{{Table: "public.orders", Rows: 250, Estimated: 1000}, {Table: "sales.customers", Rows: 40, Done: true}}}}}}}, time.Now())
	got := map[string]string{}
	for _, n := range nodes {
		if n.Kind == lineage.PostgresTable {
			got[n.Name] = n.Progress
		}
	}
	want := map[string]string{"public.orders": "snapshot 250 of ~1000 rows (25%)", "sales.customers": "snapshot done: 40 rows"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
}
