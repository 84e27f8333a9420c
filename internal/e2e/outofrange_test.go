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

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestOutOfRangePolicyAndReservedNames: a source column named _version
// keeps its data as _version_ in the lake and ClickHouse, and a date
// ClickHouse 18.16 cannot hold (9999-12-31) fails the ClickHouse sink only
// under out_of_range: fail — that table is quarantined in ClickHouse alone,
// the lake still gets it and another table keeps flowing — and flows,
// clamped, under the default clamp once the table is resumed.
func TestOutOfRangePolicyAndReservedNames(t *testing.T) {
	ctx := context.Background()
	pg := testenv.StartPostgres(t)
	chs := testenv.StartClickHouse(t)
	chdb := testenv.StartChDB(t)
	dir := testDir(t, "inlet-oor-")
	conn := pg.Connect(t, "postgres")
	if _, err := conn.Exec(ctx, `CREATE TABLE poison (id int PRIMARY KEY, "_version" int, d date, note text);
		INSERT INTO poison VALUES (1, 7, '9999-12-31', 'far'), (2, 8, '2026-01-01', 'ok');
		CREATE TABLE fine (id int PRIMARY KEY, d date);
		INSERT INTO fine VALUES (1, '2026-01-01');`); err != nil {
		t.Fatal(err)
	}
	sources := fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables: ["public.poison", "public.fine"]
`, pg.DSN("postgres"))
	engine := "engine:\n  batch_wait: 200ms\n"
	cfg := writePipeline(t, dir, sources, chs.Addr, "  out_of_range: fail\n"+engine)
	logPath := filepath.Join(dir, "inlet.log")
	lakeTable := filepath.Join(dir, "lake", "public.poison")
	chConn := chs.Connect(t)

	// fail: the lake has both rows, ClickHouse none, and the log says why.
	p := startInlet(t, cfg, logPath)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited (%v): a value ClickHouse cannot hold must not stop the process; log:\n%s", err, tailFile(logPath, 30))
		}
		_, n := lakeFiles(t, lakeTable)
		log, _ := os.ReadFile(logPath)
		var fine uint64
		chConn.QueryRow(ctx, "SELECT count() FROM shop.fine_current").Scan(&fine)
		if n == 2 && fine == 1 && strings.Contains(string(log), "incident: value out of ClickHouse's range") && strings.Contains(string(log), "quarantined") {
			if !strings.Contains(string(log), `key="id=1"`) || !strings.Contains(string(log), "policy=fail") || !strings.Contains(string(log), "9999-12-31") {
				t.Errorf("the incident does not name the key, the value and the policy:\n%s", grepLines(string(log), "incident: value"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy fail: lake rows %d, want 2, public.fine in clickhouse, and the out-of-range and quarantine incidents; log:\n%s", n, tailFile(logPath, 30))
		}
		time.Sleep(300 * time.Millisecond)
	}
	var inCH uint64
	if err := chConn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'shop' AND name = 'poison'").Scan(&inCH); err != nil {
		t.Fatal(err)
	}
	if inCH > 0 {
		if err := chConn.QueryRow(ctx, "SELECT count() FROM shop.poison").Scan(&inCH); err != nil {
			t.Fatal(err)
		}
	}
	if inCH != 0 {
		t.Errorf("policy fail: clickhouse has %d rows of the poisoned batch, want 0", inCH)
	}
	p.stop(t, syscall.SIGKILL)

	// clamp (the default): the same batch flows, the date clamped.
	cfg = writePipeline(t, dir, sources, chs.Addr, engine)
	p = startInlet(t, cfg, logPath)
	if out, err := execInlet("resume", "-c", cfg, "--table", "public.poison"); err != nil {
		t.Fatalf("inlet resume: %v: %s", err, out)
	}
	deadline = time.Now().Add(90 * time.Second)
	var got []string
	for {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited (%v); log:\n%s", err, tailFile(logPath, 30))
		}
		got = got[:0]
		rows, err := chConn.Query(ctx, "SELECT toString(id), toString(`_version_`), toString(d), note, toString(`_version` > 0) FROM shop.poison_current ORDER BY id")
		if err == nil {
			for rows.Next() {
				var a, b, c, d, e string
				if err := rows.Scan(&a, &b, &c, &d, &e); err != nil {
					t.Fatal(err)
				}
				got = append(got, strings.Join([]string{a, b, c, d, e}, " "))
			}
			rows.Close()
		}
		if len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy clamp: clickhouse has %v; log:\n%s", got, tailFile(logPath, 30))
		}
		time.Sleep(300 * time.Millisecond)
	}
	want := []string{"1 7 2105-12-31 far 1", "2 8 2026-01-01 ok 1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("clickhouse poison_current (id _version_ d note _version>0):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The lake keeps the date exactly and the source's _version as _version_.
	lk, err := chdb.Query(fmt.Sprintf("SELECT toString(id) AS id, toString(`_version_`) AS v, toString(d) AS d FROM deltaLakeLocal('%s', 'Parquet', 'id Nullable(Int32), `_version_` Nullable(Int32), d Nullable(Int32), _version Nullable(Int64)') ORDER BY id", lakeTable))
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(lk); s != "[map[d:2932896 id:1 v:7] map[d:20454 id:2 v:8]]" {
		t.Errorf("lake via chDB: %s; want day 2932896 (9999-12-31) and _version_ 7, 8", s)
	}
	p.stop(t, syscall.SIGTERM)
}
