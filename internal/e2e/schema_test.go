package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestSchemaChangeAddsColumn adds a column to a captured Postgres table
// while Inlet streams: ClickHouse's mirror and view gain the column (on
// 18.16, which has no ADD COLUMN IF NOT EXISTS), the lake's rows carry it,
// and rows from before keep NULL there.
func TestSchemaChangeAddsColumn(t *testing.T) {
	pg, ch := testenv.StartPostgres(t), testenv.StartClickHouse(t)
	conn := pg.Connect(t, "postgres")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, name text);
		INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g`); err != nil {
		t.Fatal(err)
	}
	dir := testDir(t, "inlet-schema-")
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables: [public.items]
`, pg.DSN("postgres")), ch.Addr, "engine:\n  batch_wait: 200ms\n")
	logPath := filepath.Join(dir, "inlet.log")
	p := startInlet(t, cfg, logPath)
	chConn := ch.Connect(t)
	wait := func(label, q, want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := chLines(ctx, chConn, q)
			if err == nil && strings.Join(got, ",") == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: got %v (%v), want %s\n%s", label, got, err, want, tailFile(logPath, 20))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("snapshot", "SELECT toString(count()) FROM shop.items_current", "100")
	if _, err := conn.Exec(ctx, `ALTER TABLE items ADD COLUMN price numeric(8,2);
		INSERT INTO items SELECT g, 'item ' || g, g / 4.0 FROM generate_series(101, 120) g;
		UPDATE items SET price = 9.99 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	wait("new column", "SELECT concat(toString(count()), '/', toString(countIf(price IS NOT NULL))) FROM shop.items_current", "120/21")
	p.stop(t, syscall.SIGTERM)
	files, n := lakeFiles(t, filepath.Join(dir, "lake", "public.items"))
	union := strings.TrimSuffix(parquetList(files), ")") + ", union_by_name = true)"
	var priced int
	if err := duck(t).QueryRow("SELECT count(*) FROM " + union + " WHERE price IS NOT NULL").Scan(&priced); err != nil {
		t.Fatal(err)
	}
	if n != 121 || priced != 21 {
		t.Errorf("lake has %d rows, %d with a price; want 121 and 21", n, priced)
	}
}
