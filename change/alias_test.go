package change

import (
	"fmt"
	"strings"
	"testing"
)

// TestDecodedValuesOwnTheirBytes: nothing a Decoder returns refers to the
// record it decoded. A decoded batch is all the engine keeps of its
// records: a value pointing into one would keep the record's whole
// decompressed fetch alive for as long as a sink holds the batch (and
// would change under the sinks if that memory were ever reused).
func TestDecodedValuesOwnTheirBytes(t *testing.T) {
	s := &Schema{Namespace: "public", Table: "t", Columns: []Column{
		{Name: "id", Kind: Int64, Key: true}, {Name: "n", Kind: Decimal, Precision: 10, Scale: 2},
		{Name: "ts", Kind: TimestampTZ}, {Name: "b", Kind: Bytes}, {Name: "a", Kind: Array, Elem: String},
		{Name: "s", Kind: String}, {Name: "esc", Kind: String}, {Name: "big", Kind: String},
		{Name: "j", Kind: JSON}, {Name: "u", Kind: UUID}, {Name: "f", Kind: Float64},
	}}
	big := strings.Repeat("y", 20<<10) // above the arena's largest copied string
	env := `{"v":1,"op":"u","before":{"id":7,"s":"old"},"after":{"id":7,"n":"1.50","ts":"2026-01-02T03:04:05.000006Z","b":"AP8=",` +
		`"a":["p","q"],"s":"plain","esc":"e\"\u00e9","big":"` + big + `","j":"{\"k\":1}","u":"0b1f3c1e-8a5e-4d4e-9d1a-3f1e2b3c4d5e","f":1.25},` +
		`"source":{"connector":"postgres","pipeline":"p","db":"d","schema":"public","table":"t","commit_lsn":42,"seq":3},"ts_ms":1,"schema":"fp1"}`
	ref, err := Decode([]byte(env), s)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EncodeBinary(nil, ref, s)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	for i := 0; i < 6; i++ { // JSON, then binary; later records reuse the cached source block and fingerprint
		rec := []byte(env)
		if i >= 3 {
			rec = append([]byte(nil), bin...)
		}
		ev, err := d.Decode(rec, s)
		if err != nil {
			t.Fatal(err)
		}
		before := fmt.Sprintf("%v|%v|%+v|%s", ev.After, ev.Before, ev.Source, ev.Schema)
		after, beforeImg := ev.After, ev.Before
		for j := range rec {
			rec[j] = 'x'
		}
		if got := fmt.Sprintf("%v|%v|%+v|%s", after, beforeImg, ev.Source, ev.Schema); got != before {
			t.Fatalf("record %d: decoded values changed when the record's bytes were overwritten:\nbefore %.300s\nafter  %.300s", i, before, got)
		}
	}
}
