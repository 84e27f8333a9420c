package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// runFreshness measures how old a change is when it becomes visible: from
// its Postgres commit (as the client sees it return) to ClickHouse's
// mirror and to the Delta commit, at steady rates of single-row INSERT
// transactions (BENCH_RATES, default 1000,5000,20000 per second, each for
// BENCH_SECONDS, default 10), with inlet's default settings.
//
// Rows become visible in commit order (one partition), so the k-th commit
// is visible once a sink holds k rows: each sink is polled every 5 ms for
// its row count and each commit gets the first poll that covers it.
func runFreshness(e *env) error {
	ctx := context.Background()
	pg := testenv.StartPostgres(e)
	chs := testenv.StartClickHouse(e)
	dir, bin, err := workDir(e, "inlet-fresh-")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE fresh (id bigserial PRIMARY KEY, v int NOT NULL, pad text)`); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`pipeline: fresh
state_dir: %s/state
sources:
  - name: pg
    postgres:
      dsn: "%s"
      tables: ["public.fresh"]
lake:
  path: "file://%s/lake"
clickhouse:
  addr: "%s"
  database: fresh
`, dir, pg.DSN("postgres"), dir, chs.Addr)), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "inlet.log"))
	defer logf.Close()
	cmd := exec.Command(bin, "run", "-c", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	chConn, err := ch.Open(&ch.Options{Addr: []string{chs.Addr}})
	if err != nil {
		return err
	}
	defer chConn.Close()
	chRows := func() int64 {
		var n uint64
		if chConn.QueryRow(ctx, "SELECT count() FROM fresh.fresh").Scan(&n) != nil {
			return 0
		}
		return int64(n)
	}
	_, lakeRows := followLake(filepath.Join(dir, "lake"), "fresh", "public.fresh")
	// Warm up: the first row creates the mirror and the Delta table.
	if _, err := conn.Exec(ctx, "INSERT INTO fresh (v) VALUES (0)"); err != nil {
		return err
	}
	if err := waitFor(2*time.Minute, func() bool { return chRows() >= 1 && lakeRows() >= 1 }); err != nil {
		return fmt.Errorf("warm-up: %w (see %s)", err, logf.Name())
	}

	rates := envList("BENCH_RATES", []int{1000, 5000, 20000})
	secs := envInt("BENCH_SECONDS", 10)
	type result struct {
		rate, achieved int
		ch, lk         []time.Duration
	}
	var results []result
	base := int64(1)
	for _, rate := range rates {
		var total atomic.Int64 // the rows to wait for, once the inserts end
		total.Store(-1)
		want := total.Load
		chS, lkS := make(chan []sample, 1), make(chan []sample, 1)
		go func() { chS <- sampleRows(chRows, base, want) }()
		go func() { lkS <- sampleRows(lakeRows, base, want) }()
		commits, err := steadyInserts(ctx, pg.DSN("postgres"), rate, time.Duration(secs)*time.Second)
		if err != nil {
			return err
		}
		total.Store(int64(len(commits)))
		chLat, lkLat := latencies(commits, <-chS), latencies(commits, <-lkS)
		base += int64(len(commits))
		results = append(results, result{rate: rate, achieved: len(commits) / secs, ch: chLat, lk: lkLat})
	}
	fmt.Printf("\nInlet freshness: single-row INSERT transactions at a steady rate, %d s each, default settings (engine.batch_wait 1s)\n", secs)
	fmt.Printf("machine: %d CPUs; Postgres, ClickHouse and the embedded broker on the same machine; visibility polled every 5 ms\n\n", runtime.NumCPU())
	fmt.Println("| target rate/s | achieved/s | ClickHouse p50 | ClickHouse p99 | Delta commit p50 | Delta commit p99 |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %d | %d | %s | %s | %s | %s |\n", r.rate, r.achieved, pct(r.ch, 50), pct(r.ch, 99), pct(r.lk, 50), pct(r.lk, 99))
	}
	return nil
}

// steadyInserts commits single-row INSERTs at rate per second for d, from
// enough connections, and returns each commit's return time in commit
// order (as the server acknowledged them).
func steadyInserts(ctx context.Context, dsn string, rate int, d time.Duration) ([]time.Time, error) {
	workers := max(1, min(16, rate/500))
	var mu sync.Mutex
	var commits []time.Time
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	per := time.Duration(float64(time.Second) * float64(workers) / float64(rate))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer conn.Close(ctx)
			next := start.Add(per * time.Duration(w) / time.Duration(workers))
			for time.Since(start) < d {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				next = next.Add(per)
				if _, err := conn.Exec(ctx, "INSERT INTO fresh (v, pad) VALUES (1, 'freshness')"); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mu.Lock()
				commits = append(commits, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return commits, firstErr
}

// sample is a sink's row count (less the rows before the run) at a time.
type sample struct {
	at time.Time
	n  int64
}

// sampleRows polls rows every 5 ms until total (known once the inserts
// end; -1 before) rows are there, or two minutes pass.
func sampleRows(rows func() int64, base int64, total func() int64) []sample {
	var out []sample
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		n := rows() - base
		out = append(out, sample{time.Now(), n})
		if t := total(); t >= 0 && n >= t {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

// latencies gives each commit's age when first visible: the k-th commit
// (in commit order) is visible at the first sample that counts more than
// k rows.
func latencies(commits []time.Time, samples []sample) []time.Duration {
	out := make([]time.Duration, 0, len(commits))
	j := 0
	for k, c := range commits {
		for j < len(samples) && samples[j].n <= int64(k) {
			j++
		}
		if j == len(samples) {
			break
		}
		out = append(out, max(0, samples[j].at.Sub(c)))
	}
	return out
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "n/a"
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := min(len(s)-1, len(s)*p/100)
	return fmt.Sprintf("%d ms", s[i].Milliseconds())
}

func envList(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		var n int
		if _, err := fmt.Sscanf(f, "%d", &n); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}
