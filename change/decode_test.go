package change

import (
	"bytes"
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
	})
}
