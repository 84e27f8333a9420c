package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// summarySpec is a summary and the same aggregate written for Postgres;
// both queries return text columns in the same order.
type summarySpec struct {
	name string
	ch   string // over the summary table
	pg   string // over the source table
	dims string // the summary's dimension columns, for the uniqueness check
}

var summarySpecs = []summarySpec{
	{
		name: "orders_daily",
		ch:   "SELECT toString(day), ifNull(status, 'NULL'), toString(orders), toString(revenue), toString(customers) FROM shop.orders_daily",
		pg: `SELECT (created_at AT TIME ZONE 'UTC')::date::text, coalesce(status, 'NULL'), count(*)::text, sum(amount)::text, count(DISTINCT customer_id)::text
			FROM orders WHERE status != 'test' GROUP BY 1, 2`,
		dims: "day, status",
	},
	{
		name: "orders_by_status",
		ch:   "SELECT ifNull(status, 'NULL'), toString(orders), toString(revenue) FROM shop.orders_by_status",
		pg:   `SELECT coalesce(status, 'NULL'), count(*)::text, sum(amount)::text FROM orders GROUP BY 1`,
		dims: "status",
	},
	{
		name: "customer_buckets",
		ch:   "SELECT toString(bucket), toString(n), toString(top) FROM shop.customer_buckets",
		pg:   `SELECT (customer_id % 7)::text, count(*)::text, max(amount)::text FROM orders WHERE status IS NOT NULL GROUP BY 1`,
		dims: "bucket",
	},
}

const summaryConfig = `  summaries:
    - name: orders_daily
      from: public.orders
      dimensions: ["toDate(created_at) AS day", "status"]
      measures: ["count() AS orders", "sum(amount) AS revenue", "uniqExact(customer_id) AS customers"]
      where: "status != 'test'"
      partition_by: day
      on_check_failure: stop
    - name: orders_by_status
      from: public.orders
      dimensions: [status]
      measures: ["count() AS orders", "sum(amount) AS revenue"]
      on_check_failure: stop
    - name: customer_buckets
      from: public.orders
      dimensions: ["customer_id % 7 AS bucket"]
      measures: ["count() AS n", "max(amount) AS top"]
      where: "isNotNull(status)"
      refresh: full
      on_check_failure: stop
`

// TestSummariesFollowChanges drives 50 rounds of random inserts, updates
// that move orders between days and statuses, and deletes. After each
// round every summary equals the same GROUP BY in Postgres, its dimension
// key is unique, and none of Inlet's own checks failed. Replaying
// ClickHouse from an early checkpoint leaves every summary identical.
func TestSummariesFollowChanges(t *testing.T) {
	pg, ch := testenv.StartPostgres(t), testenv.StartClickHouse(t)
	conn := pg.Connect(t, "postgres")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text,
			amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL);
		INSERT INTO orders SELECT g, g % 97, (ARRAY['new','paid','shipped','test'])[1 + g % 4], (g % 1000) / 10.0,
			timestamptz '2026-03-01 00:00:00+00' + (g % 30) * interval '1 day' + (g % 86400) * interval '1 second'
		FROM generate_series(1, 3000) g`); err != nil {
		t.Fatal(err)
	}
	dir := testDir(t, "inlet-summary-")
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables: ["public.orders"]
`, pg.DSN("postgres")), ch.Addr, summaryConfig+"engine:\n  batch_wait: 100ms\n")
	logPath := filepath.Join(dir, "inlet.log")
	p := startInlet(t, cfg, logPath)
	chConn := ch.Connect(t)

	rng := rand.New(rand.NewSource(11))
	nextID := 3001
	statuses := []any{"new", "paid", "shipped", "test", nil}
	day := func() time.Time {
		return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Intn(35*86400)) * time.Second)
	}
	round := func() {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5+rng.Intn(60); i++ {
			id := 1 + rng.Intn(nextID-1)
			var q string
			var args []any
			switch r := rng.Intn(10); {
			case r < 3:
				q, args = "INSERT INTO orders VALUES ($1, $2, $3, $4, $5)", []any{nextID, rng.Intn(97), statuses[rng.Intn(5)], float64(rng.Intn(100000)) / 100, day()}
				nextID++
			case r < 5: // moves the order to another day
				q, args = "UPDATE orders SET created_at = $2 WHERE id = $1", []any{id, day()}
			case r < 7: // moves it to another status (or none)
				q, args = "UPDATE orders SET status = $2, amount = amount + 1 WHERE id = $1", []any{id, statuses[rng.Intn(5)]}
			case r < 8: // both
				q, args = "UPDATE orders SET status = $2, created_at = $3 WHERE id = $1", []any{id, statuses[rng.Intn(5)], day()}
			default:
				q, args = "DELETE FROM orders WHERE id = $1", []any{id}
			}
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitSummaries := func(label string) map[string][]string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, diff := compareSummaries(t, conn, chConn)
			if diff == "" {
				return got
			}
			if err, exited := p.exited(); exited {
				t.Fatalf("%s: inlet exited: %v\n%s", label, err, tailFile(logPath, 30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: summaries differ from Postgres after 60s:\n%s\nlog:\n%s", label, diff, tailFile(logPath, 20))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitSummaries("snapshot")
	for r := 1; r <= 50; r++ {
		round()
		waitSummaries(fmt.Sprintf("round %d", r))
		for _, s := range summarySpecs {
			var dups uint64
			if err := chConn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM (SELECT count() AS c FROM shop.%s GROUP BY %s HAVING c > 1)", s.name, s.dims)).Scan(&dups); err != nil {
				t.Fatal(err)
			}
			if dups > 0 {
				t.Fatalf("round %d: %s has %d duplicated dimension keys", r, s.name, dups)
			}
		}
	}
	final := waitSummaries("final")
	p.stop(t, syscall.SIGTERM)

	var checks, failed uint64
	if err := chConn.QueryRow(ctx, "SELECT count(), countIf(ok = 0) FROM shop._inlet_checks").Scan(&checks, &failed); err != nil {
		t.Fatal(err)
	}
	if failed > 0 || checks < 100 {
		t.Errorf("inlet ran %d summary checks, %d failed; want at least 100 and none failed", checks, failed)
	}
	var touched, parts uint64
	if err := chConn.QueryRow(ctx, "SELECT countIf(summary = 'orders_daily' AND `check` = 'matches_mirror' AND partitions > 0), toUInt64(max(partitions)) FROM shop._inlet_checks").Scan(&touched, &parts); err != nil {
		t.Fatal(err)
	}
	if touched == 0 || parts >= 35 {
		t.Errorf("orders_daily was refreshed incrementally %d times, at most %d partitions at once; want incremental refreshes of some of its 35 days", touched, parts)
	}

	// Replay ClickHouse from an early checkpoint: the mirror gets old
	// versions again and every summary partition they touch is recomputed.
	out, err := execInlet("replay", "-c", cfg, "--sink", "clickhouse", "--from", "2")
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`replayed (\d+) records`).FindStringSubmatch(out); m == nil {
		t.Fatalf("no replay summary in:\n%s", out)
	} else if n, _ := strconv.Atoi(m[1]); n < 500 {
		t.Fatalf("replay re-read only %d records; want most of the workload:\n%s", n, out)
	}
	after, diff := compareSummaries(t, conn, chConn)
	if diff != "" {
		t.Errorf("after replay the summaries differ from Postgres:\n%s", diff)
	}
	for name, rows := range final {
		if strings.Join(after[name], "\n") != strings.Join(rows, "\n") {
			t.Errorf("after replay %s changed", name)
		}
	}

	// inlet status and describe show the summaries with their checks.
	out, _ = execInlet("status", "-c", cfg)
	for _, want := range []string{"orders_daily", "matches_mirror ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("inlet status does not show %q:\n%s", want, out)
		}
	}
	out, _ = execInlet("describe", "-c", cfg)
	for _, want := range []string{"shop.orders_current", "shop.orders_daily", "from public.orders", "toDate(created_at) AS day"} {
		if !strings.Contains(out, want) {
			t.Errorf("inlet describe does not show %q:\n%s", want, out)
		}
	}
}

// compareSummaries reads every summary from ClickHouse and Postgres; diff
// is empty when all are equal.
func compareSummaries(t *testing.T, conn *pgx.Conn, chConn driver.Conn) (map[string][]string, string) {
	t.Helper()
	ctx := context.Background()
	got := map[string][]string{}
	var diffs []string
	for _, s := range summarySpecs {
		want := pgLines(t, conn, s.pg)
		have, err := chLines(ctx, chConn, s.ch)
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		got[s.name] = have
		if d := diffLines(want, have); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s (-postgres +clickhouse):\n%s", s.name, d))
		}
	}
	return got, strings.Join(diffs, "\n")
}

func pgLines(t *testing.T, conn *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, joinAny(vals))
	}
	sort.Strings(out)
	return out
}

func chLines(ctx context.Context, conn driver.Conn, q string) ([]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := len(rows.Columns())
	var out []string
	for rows.Next() {
		vals := make([]string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, strings.Join(vals, "|"))
	}
	sort.Strings(out)
	return out, rows.Err()
}

func joinAny(vals []any) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, "|")
}

func diffLines(want, got []string) string {
	w, g := map[string]int{}, map[string]int{}
	for _, l := range want {
		w[l]++
	}
	for _, l := range got {
		g[l]++
	}
	var out []string
	for l, n := range w {
		if g[l] < n {
			out = append(out, "- "+l)
		}
	}
	for l, n := range g {
		if w[l] < n {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}
