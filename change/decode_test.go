package change

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testSchema = &Schema{Namespace: "public", Table: "t", Columns: []Column{
	{Name: "id", Kind: Int64, Key: true}, {Name: "n", Kind: Decimal, Precision: 10, Scale: 2},
	{Name: "ts", Kind: TimestampTZ}, {Name: "b", Kind: Bytes}, {Name: "a", Kind: Array, Elem: Int32},
	{Name: "big", Kind: String},
}}

func TestDecode(t *testing.T) {
	ev, err := Decode([]byte(`{"v":1,"op":"u","before":{"id":7},"after":{"id":7,"n":"1.50","ts":"2026-01-02T03:04:05.000006Z","b":"AP8=","a":[1,null]},"unchanged":["big"],"source":{"commit_lsn":42,"seq":3},"ts_ms":1,"schema":"x"}`), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Op != 'u' || ev.Source.CommitLSN != 42 || ev.Source.Seq != 3 || ev.Before[0] != int64(7) {
		t.Fatalf("event %+v", ev)
	}
	if ev.After[1] != "1.50" || !ev.After[2].(time.Time).Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
		t.Errorf("values %v", ev.After)
	}
	if b := ev.After[3].([]byte); len(b) != 2 || b[1] != 0xff {
		t.Errorf("bytes %v", b)
	}
	if a := ev.After[4].([]any); len(a) != 2 || a[0] != int32(1) || a[1] != nil {
		t.Errorf("array %v", a)
	}
	if _, ok := ev.After[5].(Unchanged); !ok {
		t.Errorf("unchanged column decoded as %v", ev.After[5])
	}
	if _, err := Decode([]byte(`{"v":2,"op":"c"}`), testSchema); err == nil {
		t.Error("accepted an unknown envelope version")
	}
}

// FuzzDecode: malformed envelopes are errors, never panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"c","after":{"id":1,"a":[1,2]},"source":{}}`))
	f.Add([]byte(`{"v":1,"op":"d","before":{"id":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(b, testSchema)
	})
}

// FuzzDecodeMatchesReference: the scanner and encoding/json agree on every
// envelope both accept.
func FuzzDecodeMatchesReference(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"u","before":{"id":7},"after":{"id":7,"n":"1.50","ts":"2026-01-02T03:04:05.000006Z","b":"AP8=","a":[1,null],"big":"x\"\\u00e9"},"unchanged":["big"],"source":{"commit_lsn":42,"seq":3,"table":"t\\n"},"ts_ms":1,"schema":"x"}`))
	f.Add([]byte(`{"v":1,"op":"c","after":{"id":-1,"ts":"2026-02-30T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// encoding/json matches keys case-insensitively; envelope keys are
		// lower case, and the scanner is exact. Compare where that cannot
		// matter.
		if bytes.ContainsFunc(b, func(r rune) bool { return r >= 'A' && r <= 'Z' }) {
			return
		}
		fast, err1 := Decode(b, testSchema)
		ref, err2 := decodeReference(b, testSchema)
		if err1 != nil || err2 != nil {
			return
		}
		if d := cmp.Diff(ref, fast); d != "" {
			t.Fatalf("%s: (-reference +fast)\n%s", b, d)
		}
		var dec Decoder
		arena, err := dec.Decode(b, testSchema)
		if err != nil {
			t.Fatalf("%s: the decoder's arena failed where the heap did not: %v", b, err)
		}
		if d := cmp.Diff(ref, arena); d != "" {
			t.Fatalf("%s: (-reference +arena)\n%s", b, d)
		}
	})
}

// TestDecoderArena decodes many envelopes with one Decoder, collects
// garbage, and checks every value is still what was sent (the arena's
// chunks outlive the decoder while rows refer to them).
func TestDecoderArena(t *testing.T) {
	var dec Decoder
	sc := &Schema{Namespace: "public", Table: "t", Columns: []Column{
		{Name: "id", Kind: Int64}, {Name: "s", Kind: String}, {Name: "f", Kind: Float64}, {Name: "i", Kind: Int16},
		{Name: "ts", Kind: TimestampTZ}, {Name: "b", Kind: Bytes}, {Name: "r", Kind: Float32}, {Name: "j", Kind: Int32},
	}}
	var rows [][]any
	const n = 20_000
	for i := range n {
		env := fmt.Sprintf(`{"v":1,"op":"c","after":{"id":%d,"s":"s%d","f":%d.5,"i":%d,"ts":"2026-01-02T03:04:05Z","b":"AP8=","r":1.5,"j":%d},"source":{"table":"t%d"}}`, i*1000, i, i, i%30000, -i, i%2)
		ev, err := dec.Decode([]byte(env), sc)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Source.Table != fmt.Sprintf("t%d", i%2) {
			t.Fatalf("source table %q", ev.Source.Table)
		}
		rows = append(rows, ev.After)
	}
	dec = Decoder{}
	runtime.GC()
	for i, r := range rows {
		want := []any{int64(i * 1000), fmt.Sprintf("s%d", i), float64(i) + 0.5, int16(i % 30000),
			time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), []byte{0, 0xff}, float32(1.5), int32(-i)}
		if d := cmp.Diff(want, r); d != "" {
			t.Fatalf("row %d (-sent +decoded):\n%s", i, d)
		}
	}
}

// BenchmarkDecoder decodes envelopes of the snapshot benchmark's table
// (with -benchmem: allocations per envelope).
func BenchmarkDecoder(b *testing.B) {
	sc := &Schema{Namespace: "public", Table: "snap", Columns: []Column{
		{Name: "id", Kind: Int64}, {Name: "customer_id", Kind: Int32}, {Name: "status", Kind: String},
		{Name: "amount", Kind: Decimal, Precision: 12, Scale: 2}, {Name: "created_at", Kind: TimestampTZ},
		{Name: "active", Kind: Bool}, {Name: "note", Kind: String},
	}}
	env := []byte(`{"v":1,"op":"r","before":null,"after":{"id":1234567,"customer_id":34567,"status":"paid","amount":"345.67","created_at":"2026-01-15T06:56:07Z","active":false,"note":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef nnnn"},"source":{"connector":"postgres","pipeline":"bsnap","db":"postgres","schema":"public","table":"snap","lsn":0,"commit_lsn":24000000,"seq":1234567,"txid":750,"ts_ms":1780000000000,"snapshot":true},"ts_ms":1780000000001,"schema":"0123456789abcdef"}`)
	b.Run("heap", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := Decode(env, sc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("arena", func(b *testing.B) {
		b.ReportAllocs()
		var dec Decoder
		for range b.N {
			if _, err := dec.Decode(env, sc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
