package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestSnapshotResumesAfterKill snapshots a 2,000,000-row table of mixed
// types in chunks, copied by two workers in parallel, while updates hit
// it; kills inlet (SIGKILL) mid-snapshot, and checks that the restart
// resumes after the committed chunks (no row is read twice, where a full
// restart would read them all again), that progress shows in /metrics,
// and that every row and every update lands exactly once in ClickHouse
// and the lake.
func TestSnapshotResumesAfterKill(t *testing.T) {
	const rows = 2_000_000
	pg, ch := testenv.StartPostgres(t), testenv.StartClickHouse(t)
	conn := pg.Connect(t, "postgres")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE big (id bigint PRIMARY KEY, payload text, n int NOT NULL DEFAULT 0,
			amount numeric(12,2), at timestamptz, ok boolean, day date, ref uuid, doc jsonb);
		INSERT INTO big SELECT g, md5(g::text) || repeat('x', g %% 50), 0, (g %% 100000) / 100.0,
			timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', CASE WHEN g %% 7 = 0 THEN NULL ELSE g %% 2 = 0 END,
			date '2020-01-01' + g %% 2000, md5(g::text)::uuid, jsonb_build_object('g', g, 'tag', 't' || g %% 10)
		FROM generate_series(1, %d) g;
		ANALYZE big`, rows)); err != nil {
		t.Fatal(err)
	}
	dir := testDir(t, "inlet-snap-")
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables:
        - name: public.big
          workers: 2
      snapshot_chunk_rows: 20000
`, pg.DSN("postgres")), ch.Addr, "")
	logPath := filepath.Join(dir, "inlet.log")
	lakeDir := filepath.Join(dir, "lake")

	// Crash right after the second Kafka commit: some snapshot chunks are
	// committed, most are not.
	os.Setenv("INLET_FAILPOINT", "capture.after_commit_before_ack@2")
	p := startInlet(t, cfg, logPath)
	os.Unsetenv("INLET_FAILPOINT")
	// Updates run during the snapshot and after; each touches one row once.
	var updates atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	wconn := pg.Connect(t, "postgres")
	startUpdates := func() {
		go func() {
			rng := rand.New(rand.NewSource(3))
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if _, err := wconn.Exec(ctx, "UPDATE big SET n = n + 1 WHERE id = $1", 1+rng.Intn(rows)); err != nil {
					done <- err
					return
				}
				updates.Add(1)
			}
		}()
	}
	// Updates start once the slot exists: earlier ones are part of the
	// snapshot's values, not changes of their own.
	for i := 0; ; i++ {
		var n int
		conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE confirmed_flush_lsn IS NOT NULL").Scan(&n)
		if n == 1 {
			break
		}
		if i > 600 {
			t.Fatal("no replication slot after 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	startUpdates()
	lakeRows := func() int {
		_, n := lakeFiles(t, filepath.Join(lakeDir, "public.big"))
		return n
	}
	select {
	case <-p.done:
		p.done <- nil
	case <-time.After(2 * time.Minute):
		t.Fatalf("failpoint not reached; log:\n%s", tailFile(logPath, 20))
	}
	httpPort := testenv.FreePort(t)
	p = startInlet(t, cfg, logPath, "--http", fmt.Sprintf("127.0.0.1:%d", httpPort))
	time.Sleep(2 * time.Second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := rows + int(updates.Load())
	deadline := time.Now().Add(4 * time.Minute)
	for lakeRows() < want {
		if err, exited := p.exited(); exited {
			t.Fatalf("inlet exited: %v\n%s", err, tailFile(logPath, 30))
		}
		if time.Now().After(deadline) {
			files, _ := lakeFiles(t, filepath.Join(lakeDir, "public.big"))
			var r, u int
			db := duck(t)
			db.QueryRow("SELECT count(*) FILTER (WHERE _op = 'r'), count(*) FILTER (WHERE _op = 'u') FROM "+parquetList(files)).Scan(&r, &u)
			t.Fatalf("lake has %d rows (%d reads, %d updates), want %d (%d updates) in %s", lakeRows(), r, u, want, updates.Load(), dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// ClickHouse commits right after the lake, and the source's progress
	// shows done in /metrics: wait (bounded) for both, then check them.
	wantMetrics := []string{`inlet_snapshot_rows{source="pg",table="public.big"} 2e+06`, `inlet_snapshot_done{source="pg",table="public.big"} 1`,
		`inlet_snapshot_estimated_rows{source="pg",table="public.big"}`, `inlet_engine_batches_total`}
	chConn := ch.Connect(t)
	var metrics string
	var chCount uint64
	for deadline := time.Now().Add(60 * time.Second); ; {
		metrics = scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
		chConn.QueryRow(ctx, "SELECT count() FROM shop.big_current").Scan(&chCount)
		missing := 0
		for _, want := range wantMetrics {
			if !strings.Contains(metrics, want) {
				missing++
			}
		}
		if (missing == 0 && chCount == rows) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, want := range wantMetrics {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if chCount != rows {
		t.Errorf("clickhouse has %d current rows 60s after the lake had every change; log:\n%s", chCount, tailFile(logPath, 30))
	}
	p.stop(t, syscall.SIGTERM)

	m := regexp.MustCompile(`resuming snapshot.*rows_done=(\d+)`).FindStringSubmatch(string(mustRead(t, logPath)))
	if m == nil {
		t.Fatalf("the restart did not resume the snapshot; log:\n%s", tailFile(logPath, 30))
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("resumed with no rows done: the whole table was read again")
	}
	spec := tableSpec{pg: "public.big", ch: "big", lake: "public.big", cols: []col{{"id", "int", true}, {"payload", "text", true}, {"n", "int", true},
		{"amount", "num", true}, {"at", "tstz", true}, {"ok", "bool", true}, {"day", "date", true}, {"ref", "uuid", true}, {"doc", "cast", true}}}
	pgWant := pgRows(t, conn, spec, false, false)
	got, err := chRows(ctx, ch.Connect(t), spec, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRows(pgWant, got); d != "" {
		t.Errorf("clickhouse differs (-postgres +clickhouse):\n%s", d)
	}
	db := duck(t)
	lakeCheck(t, db, lakeDir, spec, want, pgWant)
	files, _ := lakeFiles(t, filepath.Join(lakeDir, "public.big"))
	var reads int
	db.QueryRow("SELECT count(*) FROM " + parquetList(files) + " WHERE _op = 'r'").Scan(&reads)
	if reads != rows {
		t.Errorf("lake has %d snapshot reads, want exactly %d (each row once)", reads, rows)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
