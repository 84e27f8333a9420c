package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
)

// TestRenameColumn: a source column renamed (the same attnum under a new
// name) is renamed in the lake with Delta column mapping in name mode: the
// table gains the columnMapping feature, the field keeps its physical name,
// and every earlier value reads under the new name, in the lake's own
// reader and in an independent one (chDB's deltaLakeLocal), before and
// after a checkpoint and a compaction. A later column taking the old name
// is a new column with its own physical name; rows written before the
// rename in the same batch, or in a later one, land under the new name
// too.
func TestRenameColumn(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, err := Open(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	schema := func(cols ...change.Column) *change.Schema {
		s := &change.Schema{Topic: "p.public.r", Namespace: "public", Table: "r",
			Columns: append([]change.Column{{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint", Attnum: 1}}, cols...)}
		s.Seal()
		return s
	}
	before := schema(change.Column{Name: "a", Kind: change.String, SourceType: "text", Attnum: 2})
	after := schema(change.Column{Name: "b", Kind: change.String, SourceType: "text", Attnum: 2})
	again := schema(change.Column{Name: "b", Kind: change.String, SourceType: "text", Attnum: 2},
		change.Column{Name: "a", Kind: change.String, SourceType: "text", Attnum: 3})
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	row := func(off int64, sc *change.Schema, vals ...any) Row {
		return Row{Schema: sc, Op: 'c', Values: append([]any{off}, vals...), Version: uint64(off + 1), TsMs: ts, Offset: off}
	}
	write := func(from, to int64, rows ...Row) {
		t.Helper()
		if _, _, err := l.Write(ctx, Batch{Table: "public.r", Topic: "p.public.r", Ranges: map[int32]Range{0: {From: from, To: to}}, Rows: rows}); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 0, row(0, before, "zero"))
	write(1, 2, row(1, before, "one"), row(2, after, "two")) // the rename inside a batch
	write(3, 3, row(3, after, "three"))
	write(4, 4, row(4, again, "four", "new a"))
	// A row of the old schema in a later batch (another partition lagging):
	// older than the rename, it is written under the new name, and the
	// table is not renamed back.
	late := row(5, before, "late")
	late.Version = 2
	write(5, 5, late)
	want := []string{"0 zero <nil>", "1 one <nil>", "2 two <nil>", "3 three <nil>", "4 four new a", "5 late <nil>"}
	check := func(when string) {
		t.Helper()
		tbl, err := l.Table("public.r")
		if err != nil {
			t.Fatal(err)
		}
		sc := tbl.Schema()
		var names []string
		for _, c := range sc.Columns {
			names = append(names, c.Name)
		}
		if got := strings.Join(names, ","); got != "id,b,a" {
			t.Fatalf("%s: lake columns %s, want id,b,a", when, got)
		}
		var got []string
		if err := tbl.ReadRows(func(rows []change.Row) error {
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%v %v %v", r.Values[0], r.Values[1], r.Values[2]))
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: lake read: %v", when, err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: lake reads %v, want %v", when, got, want)
		}
		dir := filepath.Join(root, "public.r")
		out := chdbQuery(t, root, fmt.Sprintf("SELECT toString(id), ifNull(b, '<nil>'), ifNull(a, '<nil>') FROM deltaLakeLocal('%s') ORDER BY id", dir))
		var cg []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			cg = append(cg, strings.ReplaceAll(line, "\t", " "))
		}
		if strings.Join(cg, ",") != strings.Join(want, ",") {
			t.Errorf("%s: chDB reads %v, want %v", when, cg, want)
		}
	}
	check("after the rename")
	log, err := os.ReadFile(filepath.Join(root, "public.r", "_delta_log", logName(1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"columnMapping"`, `"delta.columnMapping.mode":"name"`, `"delta.columnMapping.physicalName":"a"`} {
		if !strings.Contains(strings.ReplaceAll(string(log), `\"`, `"`), s) {
			t.Errorf("version 1 of the log lacks %s:\n%s", s, log)
		}
	}
	tbl, err := l.Table("public.r")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.writeCheckpoint(time.Now(), &l.opts); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(root, "p"); err != nil {
		t.Fatal(err)
	}
	check("after a checkpoint and reopen")
	l.opts.CompactMinFiles = 2
	if _, err := l.Compact(ctx, "public.r"); err != nil {
		t.Fatal(err)
	}
	if tbl, err = l.Table("public.r"); err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Files()); n != 1 {
		t.Errorf("after compaction the table has %d files, want 1", n)
	}
	check("after a compaction")
}
