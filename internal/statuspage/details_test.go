package statuspage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// TestCollectorFollowsTheLake: the collector reads a lake table another
// process writes (version, rows, files, schema) and follows new commits.
func TestCollectorFollowsTheLake(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "p.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`pipeline: p
state_dir: %[1]s/state
sources:
  - name: pg
    postgres:
      dsn: "postgres://u@db.example.com:5432/app"
      tables: [public.orders]
lake:
  path: "file://%[1]s/lake"
`, dir)), 0o644)
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	sc := &change.Schema{Namespace: "public", Table: "orders", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, SourceType: "int8", Key: true}, {Name: "note", Kind: change.String, SourceType: "text"}}}
	sc.Seal()
	writer, err := lake.Open(filepath.Join(dir, "lake"), "p")
	if err != nil {
		t.Fatal(err)
	}
	write := func(from int64) {
		rows := []change.Row{
			{Schema: sc, Op: 'c', Values: []any{from, "a"}, Version: uint64(from), TsMs: time.Now().UnixMilli(), Offset: from},
			{Schema: sc, Op: 'c', Values: []any{from + 1, "b"}, Version: uint64(from + 1), TsMs: time.Now().UnixMilli(), Offset: from + 1},
		}
		if _, _, err := writer.Write(context.Background(), lake.Batch{Table: "public.orders", Topic: "p.public.orders", Rows: rows,
			Ranges: map[int32]change.Range{0: {From: from, To: from + 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	col := &collector{cfg: c, tables: tableNames(c)}
	col.cur = &details{Lake: map[string]lakeDetail{}, Mirrors: map[string]clickhouse.MirrorInfo{}, Summaries: map[string]clickhouse.SummaryInfo{}}
	col.lakeOnce(context.Background())
	d := col.get().Lake["public.orders"]
	if d.Version != 0 || d.Rows != 2 || d.Files != 1 || d.Committed.IsZero() || d.Schema == nil || len(d.Schema.Columns) != 2 {
		t.Fatalf("after one commit: %+v (err %q)", d, col.get().LakeErr)
	}
	if d.Schema.Columns[0].SourceType != "int8" {
		t.Errorf("schema: %+v", d.Schema.Columns)
	}
	write(2)
	col.lakeOnce(context.Background())
	if d := col.get().Lake["public.orders"]; d.Version != 1 || d.Rows != 4 {
		t.Errorf("after a second commit: version %d, rows %d", d.Version, d.Rows)
	}
}
