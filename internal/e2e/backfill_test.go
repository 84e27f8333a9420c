package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os/exec"
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

// TestBackfillWhileUpdating backfills a key range of a table while updates
// hit the same rows. ClickHouse lost rows of that range beforehand (as after
// a bug); afterwards ClickHouse and the lake's latest images equal Postgres,
// the backfill's op "r" rows are exactly the range minus the rows the
// stream carried during their window, and no (id, _version) repeats.
func TestBackfillWhileUpdating(t *testing.T) {
	const rows = 40_000
	const lo, hi = 10_001, 30_000
	pg, ch := testenv.StartPostgres(t), testenv.StartClickHouse(t)
	conn := pg.Connect(t, "postgres")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, amount numeric(12,2), n int NOT NULL DEFAULT 0);
		INSERT INTO orders SELECT g, 'new', g / 10.0, 0 FROM generate_series(1, %d) g`, rows)); err != nil {
		t.Fatal(err)
	}
	dir := testDir(t, "inlet-backfill-")
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables:
        - name: public.orders
          chunk_rows: 1000
`, pg.DSN("postgres")), ch.Addr, "engine:\n  batch_wait: 200ms\n")
	logPath := filepath.Join(dir, "inlet.log")
	lakeTable := filepath.Join(dir, "lake", "public.orders")
	p := startInlet(t, cfg, logPath)
	chConn := ch.Connect(t)
	waitLake := func(want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, n := lakeFiles(t, lakeTable)
			if n >= want {
				if n > want {
					t.Fatalf("lake has %d changes, want %d", n, want)
				}
				return
			}
			if err, exited := p.exited(); exited {
				t.Fatalf("inlet exited: %v\n%s", err, tailFile(logPath, 30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("lake has %d changes, want %d\n%s", n, want, tailFile(logPath, 20))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitLake(rows)
	time.Sleep(time.Second)

	// "A bug" lost every third row of the range in ClickHouse.
	if err := chConn.Exec(ctx, fmt.Sprintf("ALTER TABLE shop.orders DELETE WHERE id BETWEEN %d AND %d AND id %% 3 = 0", lo, hi)); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		var n uint64
		chConn.QueryRow(ctx, "SELECT count() FROM shop.orders_current").Scan(&n)
		if n < rows {
			break
		}
		if i > 300 {
			t.Fatal("clickhouse mutation did not apply")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Updates hit the range (and around it) during the backfill.
	var updates atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	wconn := pg.Connect(t, "postgres")
	go func() {
		rng := rand.New(rand.NewSource(5))
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			id := lo - 500 + rng.Intn(hi-lo+1000)
			if _, err := wconn.Exec(ctx, "UPDATE orders SET n = n + 1, status = $2, amount = amount + 1 WHERE id = $1", id, fmt.Sprintf("s%d", rng.Intn(5))); err != nil {
				done <- err
				return
			}
			updates.Add(1)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	out, err := exec.Command(inletBin, "backfill", "-c", cfg, "--table", "public.orders", "--where", fmt.Sprintf("id BETWEEN %d AND %d", lo, hi)).CombinedOutput()
	if err != nil {
		t.Fatalf("inlet backfill: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	re := regexp.MustCompile(`backfill done.* rows=(\d+) left_to_stream=(\d+)`)
	var m []string
	for i := 0; m == nil; i++ {
		m = re.FindStringSubmatch(string(mustRead(t, logPath)))
		if i > 1200 {
			t.Fatalf("backfill did not finish in 2m\n%s", tailFile(logPath, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // updates after the backfill, too
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sent, _ := strconv.Atoi(m[1])
	skipped, _ := strconv.Atoi(m[2])
	if sent+skipped != hi-lo+1 {
		t.Errorf("backfill sent %d and left %d to the stream; want %d together", sent, skipped, hi-lo+1)
	}
	t.Logf("backfill sent %d rows, %d changed during their window; %d updates", sent, skipped, updates.Load())
	want := rows + int(updates.Load()) + sent
	waitLake(want)
	time.Sleep(2 * time.Second)
	p.stop(t, syscall.SIGTERM)

	spec := tableSpec{pg: "public.orders", ch: "orders", lake: "public.orders", cols: []col{{"id", "int", true}, {"status", "text", true}, {"amount", "num", true}, {"n", "int", true}}}
	pgWant := pgRows(t, conn, spec, false, false)
	got, err := chRows(ctx, chConn, spec, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffRows(pgWant, got); d != "" {
		t.Errorf("clickhouse differs (-postgres +clickhouse):\n%s", d)
	}
	db := duck(t)
	lakeCheck(t, db, filepath.Join(dir, "lake"), spec, want, pgWant)
	files, _ := lakeFiles(t, lakeTable)
	var backfilled, outside int
	db.QueryRow(fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE id < %d OR id > %d) FROM %s WHERE _op = 'r' AND _version > (SELECT min(_version) FROM %s)", lo, hi, parquetList(files), parquetList(files))).Scan(&backfilled, &outside)
	if backfilled != sent || outside != 0 {
		t.Errorf("lake has %d backfill rows (%d outside the range), want %d", backfilled, outside, sent)
	}
}
