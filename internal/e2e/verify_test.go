package e2e

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestVerify runs `inlet verify` against a running pipeline: it passes on
// a healthy pipeline while Postgres keeps changing, then reports a row
// changed behind Inlet's back in ClickHouse and a lake file removed behind
// its back, by table, kind of drift and key, and exits non-zero.
func TestVerify(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	e.workld.run(t, e.conn,
		map[string]int{"public.all_types": 600, "sales.customers": 300, "public.docs": 300},
		map[string]int{"public.all_types": 300, "sales.customers": 200, "public.docs": 200},
		map[string]int{"public.all_types": 100, "sales.customers": 50, "public.docs": 50}, nil)
	e.waitCaughtUp(t, p, 3*time.Minute)

	// Healthy, and online: updates keep landing while verify compares.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgx.Connect(ctx, e.pg.DSN("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		rng := rand.New(rand.NewSource(1))
		for ctx.Err() == nil {
			conn.Exec(ctx, "UPDATE sales.customers SET score = score + 1 WHERE id = $1", 1+rng.Intn(400))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	out, err := execInlet("verify", "-c", e.cfg)
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("verify on a healthy pipeline under writes failed: %v\n%s\nlog:\n%s", err, out, tailFile(e.log, 20))
	}
	t.Logf("healthy:\n%s", out)
	for _, tb := range tables {
		if !strings.Contains(out, tb) {
			t.Errorf("report does not name %s:\n%s", tb, out)
		}
	}

	// The online updates landed first: one still on its way would
	// overwrite the tampered row below with its higher version (under
	// load the report then showed no drift).
	e.waitCaughtUp(t, p, 2*time.Minute)

	// A row changed in ClickHouse behind Inlet's back: a higher _version.
	var id int32
	if err := e.conn.QueryRow(context.Background(), "SELECT min(id) FROM sales.customers").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := e.chConn.Exec(context.Background(), `INSERT INTO shop.sales_customers (id, name, country, score, updated, _version, _deleted, _synced_at)
		SELECT id, 'tampered', country, score, updated, _version + 1, 0, now() FROM shop.sales_customers FINAL WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	out, err = execInlet("verify", "-c", e.cfg, "--table", "sales.customers", "--wait", "20s")
	t.Logf("clickhouse tampered:\n%s", out)
	if err == nil {
		t.Errorf("verify exited 0 after a row was changed in clickhouse")
	}
	for _, want := range []string{"sales.customers", "DRIFT", "clickhouse: 1 row different in name", "e.g. key " + itoa(id)} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}

	// A lake file removed behind Inlet's back.
	files, _ := lakeFiles(t, filepath.Join(e.lakeDir, "public.docs"))
	if len(files) == 0 {
		t.Fatal("no lake files for public.docs")
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	out, err = execInlet("verify", "-c", e.cfg, "--table", "public.docs", "--wait", "20s")
	t.Logf("lake file removed:\n%s", out)
	if err == nil {
		t.Errorf("verify exited 0 after a lake file was removed")
	}
	for _, want := range []string{"public.docs", "DRIFT", "lake: ", "missing (in Postgres, not in lake)", "e.g. key ", "cannot be read"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	p.stop(t, 15)
}

func itoa(n int32) string { return fmtInt(int64(n)) }

func fmtInt(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}
