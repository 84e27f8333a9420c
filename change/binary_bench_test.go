package change

import (
	"testing"
)

// BenchmarkEnvelopeFormats decodes one envelope of the snapshot
// benchmark's table as JSON and as the binary envelope (EncodeBinary of
// the same event), both into a Decoder's arena; bytes/envelope is the
// record size.
func BenchmarkEnvelopeFormats(b *testing.B) {
	sc := &Schema{Namespace: "public", Table: "snap", Columns: []Column{
		{Name: "id", Kind: Int64}, {Name: "customer_id", Kind: Int32}, {Name: "status", Kind: String},
		{Name: "amount", Kind: Decimal, Precision: 12, Scale: 2}, {Name: "created_at", Kind: TimestampTZ},
		{Name: "active", Kind: Bool}, {Name: "note", Kind: String},
	}}
	js := []byte(`{"v":1,"op":"r","before":null,"after":{"id":1234567,"customer_id":34567,"status":"paid","amount":"345.67","created_at":"2026-01-15T06:56:07Z","active":false,"note":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef nnnn"},"source":{"connector":"postgres","pipeline":"bsnap","db":"postgres","schema":"public","table":"snap","lsn":0,"commit_lsn":24000000,"seq":1234567,"txid":750,"ts_ms":1780000000000,"snapshot":true},"ts_ms":1780000000001,"schema":"0123456789abcdef"}`)
	ev, err := Decode(js, sc)
	if err != nil {
		b.Fatal(err)
	}
	bin, err := EncodeBinary(nil, ev, sc)
	if err != nil {
		b.Fatal(err)
	}
	back, err := Decode(bin, sc)
	if err != nil {
		b.Fatal(err)
	}
	if diff := eventDiff(ev, back); diff != "" {
		b.Fatalf("binary round trip (-json +binary):\n%s", diff)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"json", js}, {"binary", bin}} {
		b.Run(f.name, func(b *testing.B) {
			var dec Decoder
			b.ReportAllocs()
			for range b.N {
				if _, err := dec.Decode(f.data, sc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(f.data)), "bytes/envelope")
		})
	}
}
