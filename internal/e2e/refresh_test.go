package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestFullRefreshSwapsAtomically copies a table without a primary key (and
// with a name that needs quoting everywhere) in full_refresh mode, changes
// it between refreshes, and checks after each that ClickHouse and the
// lake's current version equal Postgres, while a reader polls ClickHouse
// and never sees an empty or a doubled table. A refresh of unchanged data
// must change nothing.
func TestFullRefreshSwapsAtomically(t *testing.T) {
	pg, ch := testenv.StartPostgres(t), testenv.StartClickHouse(t)
	conn := pg.Connect(t, "postgres")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "Odd Schema";
		CREATE TABLE "Odd Schema"."Ref Täble" (n int, "Some Text" text, amt numeric(10,2));
		INSERT INTO "Odd Schema"."Ref Täble" SELECT g % 700, CASE WHEN g % 10 = 0 THEN NULL ELSE 'row ' || g END, g / 100.0 FROM generate_series(1, 1000) g;
		CREATE TABLE keep_alive (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	dir := testDir(t, "inlet-refresh-")
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables:
        - public.keep_alive
        - name: '"Odd Schema"."Ref Täble"'
          mode: full_refresh
          interval: 2s
`, pg.DSN("postgres")), ch.Addr, "engine:\n  batch_wait: 200ms\n")
	logPath := filepath.Join(dir, "inlet.log")
	p := startInlet(t, cfg, logPath)
	chConn := ch.Connect(t)
	view := "`shop`.`Odd Schema_Ref Täble_current`"
	lakeTable := filepath.Join(dir, "lake", "Odd Schema.Ref Täble")

	pgSet := func() []string {
		rows, err := conn.Query(ctx, `SELECT coalesce(n::text, 'NULL') || '|' || coalesce("Some Text", 'NULL') || '|' || coalesce(amt::text, 'NULL') FROM "Odd Schema"."Ref Täble"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	chSet := func() ([]string, error) {
		rows, err := chConn.Query(ctx, "SELECT concat(ifNull(toString(n), 'NULL'), '|', ifNull(`Some Text`, 'NULL'), '|', ifNull(toString(amt), 'NULL')) FROM "+view)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		sort.Strings(out)
		return out, rows.Err()
	}
	lakeSet := func() []string {
		files := lakeCurrent(t, lakeTable, -1)
		if len(files) == 0 {
			return nil
		}
		db := duck(t)
		rows, err := db.Query(`SELECT coalesce(n::VARCHAR, 'NULL') || '|' || coalesce("Some Text", 'NULL') || '|' || coalesce(printf('%.2f', amt), 'NULL') FROM ` + parquetList(files))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}

	// A reader polls ClickHouse throughout; every count it sees must be
	// one of the table's states, never 0 once filled, never a sum.
	var mu sync.Mutex
	seen := map[uint64]int{}
	stopReader := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stopReader:
				return
			default:
			}
			var n uint64
			if err := chConn.QueryRow(ctx, "SELECT count() FROM "+view).Scan(&n); err == nil {
				mu.Lock()
				seen[n]++
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	waitEqual := func(round int) {
		t.Helper()
		want := pgSet()
		deadline := time.Now().Add(90 * time.Second)
		for {
			got, err := chSet()
			lk := lakeSet()
			if err == nil && strings.Join(got, "\n") == strings.Join(want, "\n") && strings.Join(lk, "\n") == strings.Join(want, "\n") {
				return
			}
			if err, exited := p.exited(); exited {
				t.Fatalf("inlet exited: %v\n%s", err, tailFile(logPath, 30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: after 90s clickhouse has %d rows (err %v), lake %d, postgres %d\n%s", round, len(got), err, len(lk), len(want), tailFile(logPath, 20))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	counts := []int{}
	waitEqual(0)
	counts = append(counts, len(pgSet()))
	changes := []string{
		`INSERT INTO "Odd Schema"."Ref Täble" SELECT g, 'new ' || g, 1.25 FROM generate_series(1, 300) g`,
		`DELETE FROM "Odd Schema"."Ref Täble" WHERE n < 150; UPDATE "Odd Schema"."Ref Täble" SET amt = amt * 2 WHERE n % 3 = 0`,
		`UPDATE "Odd Schema"."Ref Täble" SET "Some Text" = NULL WHERE n % 7 = 0; INSERT INTO "Odd Schema"."Ref Täble" VALUES (NULL, NULL, NULL)`,
	}
	for i, sql := range changes {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		waitEqual(i + 1)
		counts = append(counts, len(pgSet()))
	}

	// Unchanged data: another refresh sends nothing, the lake gets no
	// new version and ClickHouse keeps its version.
	before := lakeVersions(t, lakeTable)
	var chVer uint64
	chConn.QueryRow(ctx, "SELECT max(`_version`) FROM "+view).Scan(&chVer)
	time.Sleep(5 * time.Second)
	if after := lakeVersions(t, lakeTable); after != before {
		t.Errorf("unchanged refresh made lake versions %d -> %d", before, after)
	}
	var chVer2 uint64
	chConn.QueryRow(ctx, "SELECT max(`_version`) FROM "+view).Scan(&chVer2)
	if chVer2 != chVer {
		t.Errorf("unchanged refresh changed the clickhouse version %d -> %d", chVer, chVer2)
	}
	if !strings.Contains(string(mustRead(t, logPath)), "table unchanged, nothing sent") {
		t.Errorf("no unchanged refresh logged")
	}
	close(stopReader)
	<-readerDone
	p.stop(t, syscall.SIGTERM)

	valid := map[uint64]bool{0: true}
	for _, c := range counts {
		valid[uint64(c)] = true
	}
	mu.Lock()
	for n, times := range seen {
		if !valid[n] {
			t.Errorf("a reader saw %d rows (%d times); valid states are %v", n, times, counts)
		}
	}
	t.Logf("reader saw counts %v; table states %v", seen, counts)
	mu.Unlock()
	// Every lake version holds one whole copy (or nothing before the first).
	for v := int64(0); v < lakeVersions(t, lakeTable); v++ {
		files := lakeCurrent(t, lakeTable, v)
		n := 0
		if len(files) > 0 {
			db := duck(t)
			db.QueryRow("SELECT count(*) FROM " + parquetList(files)).Scan(&n)
		}
		if !valid[uint64(n)] {
			t.Errorf("lake version %d holds %d rows; valid states are %v", v, n, counts)
		}
	}
}

// lakeVersions is the number of versions in a Delta table's log.
func lakeVersions(t *testing.T, tableDir string) int64 {
	entries, _ := os.ReadDir(filepath.Join(tableDir, "_delta_log"))
	n := int64(0)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// lakeCurrent replays a Delta log up to version upTo (-1: all) with plain
// JSON parsing and returns the data files listed then.
func lakeCurrent(t *testing.T, tableDir string, upTo int64) []string {
	t.Helper()
	files := map[string]bool{}
	for v := int64(0); v < lakeVersions(t, tableDir) && (upTo < 0 || v <= upTo); v++ {
		data, err := os.ReadFile(filepath.Join(tableDir, "_delta_log", fmt.Sprintf("%020d.json", v)))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var a struct {
				Add    *struct{ Path string } `json:"add"`
				Remove *struct{ Path string } `json:"remove"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatal(err)
			}
			if a.Add != nil {
				files[a.Add.Path] = true
			}
			if a.Remove != nil {
				delete(files, a.Remove.Path)
			}
		}
	}
	var out []string
	for f := range files {
		out = append(out, filepath.Join(tableDir, f))
	}
	sort.Strings(out)
	return out
}
