package change

import (
	"bytes"
	"encoding/hex"
	"flag"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// eventDiff compares two events, times by instant.
func eventDiff(a, b *Event) string {
	return cmp.Diff(a, b, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) }))
}

// allKinds has a column of every kind, arrays of every element kind
// included (the values of the e2e type test's columns, by kind).
var allKinds = func() *Schema {
	s := &Schema{Topic: "p.public.all", Connector: "postgres", Pipeline: "p", Database: "db", Namespace: "public", Table: "all"}
	add := func(name string, k, elem Kind) {
		s.Columns = append(s.Columns, Column{Name: name, Kind: k, Elem: elem, SourceType: string(k), Key: name == "id"})
	}
	add("id", Int64, "")
	for _, k := range []Kind{Int16, Int32, Int64, Decimal, Float32, Float64, Bool, String, UUID, JSON, Bytes, Date, Timestamp, TimestampTZ} {
		add("c_"+string(k), k, "")
		add("a_"+string(k), Array, k)
	}
	add("toast", String, "")
	s.Seal()
	return s
}()

// kindValues are values of each kind to round-trip: extremes, specials and
// the forms the type test sends.
var kindValues = map[Kind][]any{
	Int16:       {int16(0), int16(math.MinInt16), int16(math.MaxInt16), int16(-1)},
	Int32:       {int32(0), int32(math.MinInt32), int32(math.MaxInt32), int32(42)},
	Int64:       {int64(0), int64(math.MinInt64), int64(math.MaxInt64), int64(-300)},
	Decimal:     {"0", "-12345678901234567890.123456789", "NaN", "Infinity", "-Infinity", "1.50"},
	Float32:     {float32(0), float32(math.Inf(1)), float32(math.Inf(-1)), float32(3.4028235e38), float32(-1.5e-45)},
	Float64:     {float64(0), math.Inf(1), math.Inf(-1), math.MaxFloat64, 5e-324, -0.1},
	Bool:        {true, false},
	String:      {"", "plain", "tab\tquote\"back\\slash\nnewline", "héllo 世界 🎉", strings.Repeat("x", 70000)},
	UUID:        {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
	JSON:        {`{"a":[1,2,{"b":null}]}`, `"x"`, `null`},
	Bytes:       {[]byte{}, []byte{0, 1, 0xff}, bytes.Repeat([]byte{0xab}, 10000)},
	Date:        {time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(-4712, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(5874897, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), PosInfinity, NegInfinity},
	Timestamp:   {time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(-4712, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(294276, 12, 31, 23, 59, 59, 999999000, time.UTC), PosInfinity, NegInfinity},
	TimestampTZ: {time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 23, 59, 59, 1000, time.UTC), PosInfinity, NegInfinity},
}

// allKindsRows is one row per index into kindValues' lists (cycling),
// with a null in every column of the last row and Unchanged in toast.
func allKindsRows() [][]any {
	var rows [][]any
	for r := range 6 {
		row := make([]any, len(allKinds.Columns))
		row[0] = int64(r)
		for i, c := range allKinds.Columns[1:] {
			k := c.Kind
			if k == Array {
				k = c.Elem
			}
			vals := kindValues[k]
			v := vals[r%len(vals)]
			if c.Kind == Array {
				v = []any{v, nil, vals[(r+1)%len(vals)]}
				if r == 4 {
					v = []any{}
				}
			}
			if r == 5 {
				v = nil
			}
			row[i+1] = v
		}
		row[len(row)-1] = Unchanged{}
		rows = append(rows, row)
	}
	return rows
}

func TestBinaryRoundTripEveryKind(t *testing.T) {
	src := Source{Connector: "postgres", Pipeline: "p", DB: "db", Schema: "public", Table: "all", LSN: 1 << 40, CommitLSN: math.MaxUint64, Seq: math.MaxUint32, TxID: 7, TsMs: -1}
	var dec Decoder
	for i, after := range allKindsRows() {
		before := make([]any, len(allKinds.Columns))
		before[0] = after[0]
		ev := &Event{Op: OpUpdate, Before: before, After: after, Source: src, TsMs: 1780000000000, Schema: allKinds.Fingerprint}
		bin, err := EncodeBinary(nil, ev, allKinds)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		for _, name := range []string{"heap", "arena"} {
			var got *Event
			if name == "heap" {
				got, err = Decode(bin, allKinds)
			} else {
				got, err = dec.Decode(bin, allKinds)
			}
			if err != nil {
				t.Fatalf("row %d (%s): %v", i, name, err)
			}
			if diff := eventDiff(ev, got); diff != "" {
				t.Errorf("row %d (%s) (-sent +decoded):\n%s", i, name, diff)
			}
		}
	}
}

// TestBinaryMatchesJSON: the JSON envelope and the binary one of the same
// change decode to the same event.
func TestBinaryMatchesJSON(t *testing.T) {
	js := []byte(`{"v":1,"op":"u","before":{"id":7},"after":{"id":7,"n":"1.50","ts":"2026-01-02T03:04:05.000006Z","b":"AP8=","a":[1,null],"big":null},"unchanged":["big"],"source":{"connector":"postgres","pipeline":"p","db":"d","schema":"public","table":"t","lsn":3,"commit_lsn":42,"seq":3,"txid":9,"ts_ms":1764043200123,"snapshot":false},"ts_ms":1,"schema":"x"}`)
	want, err := Decode(js, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EncodeBinary(nil, want, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bin, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if diff := eventDiff(want, got); diff != "" {
		t.Errorf("(-json +binary):\n%s", diff)
	}
	if len(bin) >= len(js) {
		t.Errorf("binary %d bytes, JSON %d", len(bin), len(js))
	}
}

// TestBinaryGolden pins the bytes of one event (docs/envelope.md walks
// through the same dump): a change to the layout must be a new version.
func TestBinaryGolden(t *testing.T) {
	sc := &Schema{Namespace: "public", Table: "orders", Columns: []Column{
		{Name: "id", Kind: Int64, Key: true}, {Name: "amount", Kind: Decimal}, {Name: "at", Kind: TimestampTZ},
		{Name: "tags", Kind: Array, Elem: String}, {Name: "body", Kind: String},
	}}
	ev := &Event{Op: OpUpdate,
		Before: []any{int64(42), nil, nil, nil, nil},
		After:  []any{int64(42), "12.50", time.Date(2025, 11, 25, 4, 0, 0, 123000000, time.UTC), []any{"a", nil}, Unchanged{}},
		Source: Source{Connector: "postgres", Pipeline: "shop", DB: "shop", Schema: "public", Table: "orders",
			LSN: 23841992, CommitLSN: 23842104, Seq: 3, TxID: 771, TsMs: 1764043200123},
		TsMs: 1764043200456, Schema: "20eb56188016861c"}
	bin, err := EncodeBinary(nil, ev, sc)
	if err != nil {
		t.Fatal(err)
	}
	dump := hex.Dump(bin)
	path := "testdata/binary_envelope_v1.hex"
	if *update {
		os.WriteFile(path, []byte(dump), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), dump); diff != "" {
		t.Errorf("binary envelope bytes changed (-golden +now):\n%s", diff)
	}
	got, err := Decode(bin, sc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := eventDiff(ev, got); diff != "" {
		t.Errorf("(-sent +decoded):\n%s", diff)
	}
}

// TestBinaryMalformed: every truncation of a valid envelope, a bad tag, a
// short row, trailing bytes and an unknown version are errors that say
// what was being read.
func TestBinaryMalformed(t *testing.T) {
	ev := &Event{Op: OpCreate, After: allKindsRows()[0], Source: Source{Table: "all"}, Schema: allKinds.Fingerprint}
	ev.After[len(ev.After)-1] = "x"
	bin, err := EncodeBinary(nil, ev, allKinds)
	if err != nil {
		t.Fatal(err)
	}
	var dec Decoder
	for n := 1; n < len(bin); n++ {
		_, err := dec.Decode(bin[:n], allKinds)
		if err == nil || !strings.Contains(err.Error(), "binary envelope: truncated at byte") && !strings.Contains(err.Error(), "past the end") {
			t.Fatalf("cut at %d of %d: %v", n, len(bin), err)
		}
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"trailing":     {append(bytes.Clone(bin), 0), "1 bytes after the last row"},
		"version":      {append([]byte{0xB2}, bin[1:]...), "binary envelope version 2 (first byte 0xb2); this Inlet reads version 1 (upgrade Inlet)"},
		"flags":        {append([]byte{BinaryV1, 'c', 0x80}, bin[3:]...), "bad op 'c' or flags 0x80"},
		"unchanged in": {mustEncode(t, &Event{Op: OpDelete, Before: ev.After, Schema: "x"}, allKinds, func(b []byte) { b[bytes.LastIndexByte(b, 'x')-2] = BinUnchanged }), "column public.all.toast (string): binary envelope: bad tag 2 at byte"},
	}
	short := &Schema{Namespace: "public", Table: "all", Columns: allKinds.Columns[:3]}
	cases["columns"] = struct {
		data []byte
		want string
	}{bin, "row of 30 columns, but schema public.all () has 3"}
	for name, c := range cases {
		sc := allKinds
		if name == "columns" {
			sc = short
		}
		_, err := dec.Decode(c.data, sc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want …%s…", name, err, c.want)
		}
	}
}

func mustEncode(t *testing.T, ev *Event, s *Schema, edit func([]byte)) []byte {
	b, err := EncodeBinary(nil, ev, s)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	return b
}

// TestBinaryDecodeAllocs: a Decoder reads a binary envelope of every kind
// (arrays aside) without allocating per value.
func TestBinaryDecodeAllocs(t *testing.T) {
	row := allKindsRows()[1]
	for i, c := range allKinds.Columns {
		if c.Kind == Array {
			row[i] = nil
		}
	}
	row[len(row)-1] = "short"
	bin, err := EncodeBinary(nil, &Event{Op: OpCreate, After: row, Schema: allKinds.Fingerprint, Source: Source{Connector: "postgres", Table: "all"}}, allKinds)
	if err != nil {
		t.Fatal(err)
	}
	var dec Decoder
	dec.Decode(bin, allKinds)
	// Each decode boxes its values into slab chunks of 4096: over 10,000
	// runs of 16 values that is ~40 chunk allocations per type, not one
	// per value.
	n := testing.AllocsPerRun(10000, func() {
		if _, err := dec.Decode(bin, allKinds); err != nil {
			t.Fatal(err)
		}
	})
	if n > 0.5 {
		t.Errorf("%.2f allocations per envelope", n)
	}
}

// FuzzDecodeBinary: malformed binary envelopes are errors, never panics.
func FuzzDecodeBinary(f *testing.F) {
	for _, row := range allKindsRows() {
		b, err := EncodeBinary(nil, &Event{Op: OpCreate, After: row, Schema: "x"}, allKinds)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 {
			b[0] = BinaryV1
		}
		var dec Decoder
		dec.Decode(b, allKinds)
		Decode(b, allKinds)
	})
}

func TestBudgetBytes(t *testing.T) {
	if got := BudgetBytes([]byte(`{"v":1}`)); got != 7 {
		t.Errorf("JSON: %d", got)
	}
	if got := BudgetBytes([]byte{BinaryV1, 'c', 0, 0, 0, 0, 0, 0, 0, 0}); got != 25 {
		t.Errorf("binary: %d", got)
	}
}
