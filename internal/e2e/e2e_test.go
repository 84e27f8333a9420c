package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"

	chsink "github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/testenv"
)

type env struct {
	pg      *testenv.Postgres
	ch      *testenv.ClickHouse
	conn    *pgx.Conn
	chConn  driver.Conn
	dir     string
	cfg     string
	log     string
	oldCH   bool // no DateTime64: ClickHouse keeps whole seconds
	workld  *workload
	lakeDir string
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{pg: testenv.StartPostgres(t), ch: testenv.StartClickHouse(t), dir: testDir(t, "inlet-e2e-")}
	e.conn = e.pg.Connect(t, "postgres")
	if _, err := e.conn.Exec(context.Background(), schemaSQL); err != nil {
		t.Fatal(err)
	}
	e.chConn = e.ch.Connect(t)
	var v string
	if err := e.chConn.QueryRow(context.Background(), "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	ver, err := chsink.ParseVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	e.oldCH = !ver.AtLeast(20, 1)
	e.cfg = writeConfig(t, e.dir, e.pg.DSN("postgres"), e.ch.Addr)
	e.log = filepath.Join(e.dir, "inlet.log")
	e.lakeDir = filepath.Join(e.dir, "lake")
	e.workld = newWorkload(42)
	t.Logf("clickhouse %s; inlet log: %s", v, e.log)
	return e
}

// compareCH returns "" when every ClickHouse _current view equals Postgres.
func (e *env) compareCH(t *testing.T) string {
	var diffs []string
	for _, s := range specs {
		want := pgRows(t, e.conn, s, false, e.oldCH)
		// ClickHouse has no Nullable(Array): a NULL array reads back as [].
		for _, r := range want {
			for i, c := range s.cols {
				if c.kind == "arr" && r[i] == "NULL" {
					r[i] = "[]"
				}
			}
		}
		got, err := chRows(context.Background(), e.chConn, s, e.oldCH)
		if err != nil {
			diffs = append(diffs, s.ch+": "+err.Error())
			continue
		}
		if d := diffRows(want, got); d != "" {
			diffs = append(diffs, "clickhouse "+s.ch+" (-postgres +clickhouse):\n"+d)
		}
	}
	return strings.Join(diffs, "\n")
}

func (e *env) lakeCounts(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, s := range specs {
		_, n := lakeFiles(t, filepath.Join(e.lakeDir, s.lake))
		out[s.lake] = n
	}
	return out
}

// waitCaughtUp waits until the lake holds every committed change and
// ClickHouse equals Postgres.
func (e *env) waitCaughtUp(t *testing.T, p *inletProc, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited early (%v); log:\n%s", err, tailFile(p.log, 40))
		}
		counts := e.lakeCounts(t)
		ok := true
		for _, tb := range tables {
			if counts[tb] < e.workld.changes[tb] {
				ok = false
				last = "lake behind: " + tb
			}
		}
		if ok {
			if last = e.compareCH(t); last == "" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up after %s: %s\nlake %v, want %v\nlog:\n%s", timeout, last, counts, e.workld.changes, tailFile(p.log, 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitSnapshot waits until the lake holds the preloaded rows: the snapshot
// is committed, so every later change is streamed.
func (e *env) waitSnapshot(t *testing.T, p *inletProc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited early (%v); log:\n%s", err, tailFile(p.log, 40))
		}
		counts, ok := e.lakeCounts(t), true
		for tb, n := range preload {
			ok = ok && counts[tb] == n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot not in the lake after 1m: %v; log:\n%s", counts, tailFile(p.log, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitProgress waits until a (re)started inlet has committed new changes
// to the lake, so the next stop hits a process that is streaming.
func (e *env) waitProgress(t *testing.T, p *inletProc) {
	t.Helper()
	total := func() int {
		n := 0
		for _, c := range e.lakeCounts(t) {
			n += c
		}
		return n
	}
	before := total()
	deadline := time.Now().Add(time.Minute)
	for total() <= before {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited (%v); log:\n%s", err, tailFile(p.log, 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted inlet made no progress in 1m; log:\n%s", tailFile(p.log, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) finalChecks(t *testing.T) {
	t.Helper()
	if d := e.compareCH(t); d != "" {
		t.Errorf("clickhouse differs from postgres:\n%s", d)
	}
	db := duck(t)
	for _, s := range specs {
		lakeCheck(t, db, e.lakeDir, s, e.workld.changes[s.lake], pgRows(t, e.conn, s, true, false))
	}
	// The summary over sales.customers (updates move rows between
	// countries) equals the same GROUP BY in Postgres.
	want := pgLines(t, e.conn, `SELECT coalesce(country, 'NULL'), count(*)::text, coalesce(sum(score)::text, '<nil>') FROM sales.customers GROUP BY 1`)
	got, err := chLines(context.Background(), e.chConn, "SELECT ifNull(country, 'NULL'), toString(customers), ifNull(toString(total_score), '<nil>') FROM shop.customers_by_country")
	if err != nil {
		t.Fatal(err)
	}
	if d := diffLines(want, got); d != "" {
		t.Errorf("summary customers_by_country differs (-postgres +clickhouse):\n%s", d)
	}
	var failed uint64
	if err := e.chConn.QueryRow(context.Background(), "SELECT countIf(ok = 0) FROM shop._inlet_checks").Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed > 0 {
		t.Errorf("%d summary checks failed", failed)
	}
}

var (
	preload = map[string]int{"public.all_types": 1000, "sales.customers": 500, "public.docs": 500}
	inserts = map[string]int{"public.all_types": 6000, "sales.customers": 2000, "public.docs": 2000}
	updates = map[string]int{"public.all_types": 1500, "sales.customers": 500, "public.docs": 1000}
	deletes = map[string]int{"public.all_types": 500, "sales.customers": 300, "public.docs": 200}
)

// TestPipelineEndToEnd is the walking skeleton's acceptance test: every
// mapped type, a snapshot of 2,000 rows, then 10,000 inserts, 3,000 updates
// and 1,000 deletes in transactions of 1 to 5,000 rows, through `inlet run`
// with the embedded broker.
func TestPipelineEndToEnd(t *testing.T) { pipelineEndToEnd(t, false) }

// TestPipelineEndToEndS3 is TestPipelineEndToEnd with the lake on S3
// (versitygw).
func TestPipelineEndToEndS3(t *testing.T) { pipelineEndToEnd(t, true) }

func pipelineEndToEnd(t *testing.T, s3 bool) {
	e := setup(t)
	if s3 {
		e.lakeOnS3(t)
	}
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	e.workld.run(t, e.conn, inserts, updates, deletes, nil)
	if got := e.workld.totalChanges(); got != 16000 {
		t.Fatalf("workload committed %d changes, want 16000", got)
	}
	e.waitCaughtUp(t, p, 3*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
}

// TestRestartMidWorkload stops inlet cleanly (SIGTERM) and kills it
// (SIGKILL) while the workload runs; after catching up nothing is lost or
// duplicated.
func TestRestartMidWorkload(t *testing.T) {
	e := setup(t)
	// This test keeps its checkpoints in Postgres rather than files.
	cfg := string(mustRead(t, e.cfg)) + fmt.Sprintf("checkpoints:\n  postgres:\n    dsn: %q\n    table: inlet.checkpoints\n", e.pg.DSN("postgres"))
	os.WriteFile(e.cfg, []byte(cfg), 0o644)
	if _, err := e.conn.Exec(context.Background(), "CREATE SCHEMA inlet"); err != nil {
		t.Fatal(err)
	}
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	restarts := 0
	e.workld.run(t, e.conn, inserts, updates, deletes, func(committed int) {
		switch {
		case restarts == 0 && committed > 4000:
			p.stop(t, syscall.SIGTERM)
			p = startInlet(t, e.cfg, e.log)
			e.waitProgress(t, p)
			restarts++
		case restarts == 1 && committed > 9000:
			p.stop(t, syscall.SIGKILL)
			p = startInlet(t, e.cfg, e.log)
			e.waitProgress(t, p)
			restarts++
		}
	})
	if restarts != 2 {
		t.Fatalf("restarted %d times, want 2", restarts)
	}
	e.waitCaughtUp(t, p, 3*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	var n int
	if err := e.conn.QueryRow(context.Background(), "SELECT count(*) FROM inlet.checkpoints WHERE pipeline = 'shop' AND sink = 'clickhouse'").Scan(&n); err != nil || n == 0 {
		t.Errorf("no clickhouse checkpoints in postgres (n=%d, err=%v)", n, err)
	}
}
