package lake

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
)

// TestWidenIntegerColumn: a column widened at the source (integer to
// bigint) widens in place in the lake with Delta's typeWidening feature:
// old files keep INT32, new ones INT64, and both the lake's own reader and
// an independent one (chDB's deltaLakeLocal, delta-kernel-rs) read every
// value as the wide type, before and after a checkpoint. A change the lake
// cannot follow in place (integer to text) is ErrIncompatible.
func TestWidenIntegerColumn(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	narrow := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.Int32, SourceType: "integer"}}}
	wide := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.Int64, SourceType: "bigint"}}}
	text := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.String, SourceType: "text"}}}
	for _, s := range []*change.Schema{narrow, wide, text} {
		s.Seal()
	}
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	write := func(off int64, sc *change.Schema, v any) error {
		_, _, err := l.Write(ctx, Batch{Table: "public.w", Topic: "p.public.w", Ranges: map[int32]Range{0: {From: off, To: off}},
			Rows: []change.Row{{Schema: sc, Op: 'c', Values: []any{off, v}, Version: uint64(off + 1), TsMs: ts, Offset: off}}})
		return err
	}
	if err := write(0, narrow, int32(-7)); err != nil {
		t.Fatal(err)
	}
	if err := write(1, narrow, int32(2147483647)); err != nil {
		t.Fatal(err)
	}
	if err := write(2, wide, int64(9000000000)); err != nil {
		t.Fatalf("widening int to bigint: %v", err)
	}
	want := []string{"0 -7", "1 2147483647", "2 9000000000"}
	check := func(when string) {
		t.Helper()
		tbl, err := l.Table("public.w")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := tbl.ReadRows(func(rows []change.Row) error {
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%v %v", r.Values[0], r.Values[1]))
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: lake read: %v", when, err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: lake reads %v, want %v", when, got, want)
		}
		dir := filepath.Join(root, "public.w")
		out := chdbQuery(t, root, fmt.Sprintf("SELECT toString(id), toString(v), toTypeName(v) FROM deltaLakeLocal('%s') ORDER BY id", dir))
		var cg []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if !strings.Contains(f[2], "Int64") {
				t.Errorf("%s: chDB reads v as %s, want Int64", when, f[2])
			}
			cg = append(cg, f[0]+" "+f[1])
		}
		if strings.Join(cg, ",") != strings.Join(want, ",") {
			t.Errorf("%s: chDB reads %v, want %v", when, cg, want)
		}
	}
	check("after widening")
	tbl, err := l.Table("public.w")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.writeCheckpoint(time.Now(), &l.opts); err != nil {
		t.Fatal(err)
	}
	l = testOpen(t, root, "p")
	check("after a checkpoint and reopen")
	if err := write(3, text, "x"); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("bigint to text: err %v, want ErrIncompatible", err)
	}
}
