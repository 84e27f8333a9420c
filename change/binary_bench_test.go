package change

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"
)

// A binary envelope, measured against the JSON one (issue 15): the same
// event as varints and length-prefixed bytes, decoded into the same arena.
// It exists only here, to size what switching formats would gain; the
// envelope on the wire stays JSON (docs/benchmarks.md has the numbers).

func appendBinaryEnvelope(b []byte, ev *Event, s *Schema) []byte {
	b = append(b, EnvelopeVersion, ev.Op)
	src := &ev.Source
	for _, str := range []string{src.Connector, src.Pipeline, src.DB, src.Schema, src.Table, ev.Schema} {
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	}
	b = binary.AppendUvarint(b, src.LSN)
	b = binary.AppendUvarint(b, src.CommitLSN)
	b = binary.AppendUvarint(b, uint64(src.Seq))
	b = binary.AppendUvarint(b, uint64(src.TxID))
	b = binary.AppendVarint(b, src.TsMs)
	b = binary.AppendVarint(b, ev.TsMs)
	for i, c := range s.Columns {
		v := ev.After[i]
		if v == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		switch c.Kind {
		case Int16:
			b = binary.AppendVarint(b, int64(v.(int16)))
		case Int32:
			b = binary.AppendVarint(b, int64(v.(int32)))
		case Int64:
			b = binary.AppendVarint(b, v.(int64))
		case Float64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.(float64)))
		case Bool:
			if v.(bool) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case Date, Timestamp, TimestampTZ:
			b = binary.AppendVarint(b, v.(time.Time).UnixMicro())
		default:
			str := v.(string)
			b = binary.AppendUvarint(b, uint64(len(str)))
			b = append(b, str...)
		}
	}
	return b
}

var errShort = errors.New("short binary envelope")

type binReader struct {
	b []byte
	i int
}

func (r *binReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		panic(errShort)
	}
	r.i += n
	return v
}

func (r *binReader) varint() int64 {
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		panic(errShort)
	}
	r.i += n
	return v
}

func (r *binReader) bytes() []byte {
	n := int(r.uvarint())
	out := r.b[r.i : r.i+n]
	r.i += n
	return out
}

func decodeBinaryEnvelope(data []byte, s *Schema, a *arena, ev *Event) {
	r := binReader{b: data, i: 2}
	ev.Op = data[1]
	for f := range 5 {
		raw := r.bytes()
		if a.source[f] != string(raw) {
			a.source[f] = string(raw)
		}
	}
	src := &ev.Source
	src.Connector, src.Pipeline, src.DB, src.Schema, src.Table = a.source[0], a.source[1], a.source[2], a.source[3], a.source[4]
	if fp := r.bytes(); a.fingerprint != string(fp) {
		a.fingerprint = string(fp)
	}
	ev.Schema = a.fingerprint
	src.LSN, src.CommitLSN = r.uvarint(), r.uvarint()
	src.Seq, src.TxID = uint32(r.uvarint()), uint32(r.uvarint())
	src.TsMs, ev.TsMs = r.varint(), r.varint()
	row := a.row(len(s.Columns))
	for i, c := range s.Columns {
		tag := r.b[r.i]
		r.i++
		if tag == 0 {
			continue
		}
		switch c.Kind {
		case Int16:
			row[i] = a.int16(int16(r.varint()))
		case Int32:
			row[i] = a.int32(int32(r.varint()))
		case Int64:
			row[i] = a.int64(r.varint())
		case Float64:
			row[i] = a.float64(math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:])))
			r.i += 8
		case Bool:
			row[i] = r.b[r.i] == 1
			r.i++
		case Date, Timestamp, TimestampTZ:
			row[i] = a.time(time.UnixMicro(r.varint()).UTC())
		default:
			row[i] = a.string(a.str(r.bytes()))
		}
	}
	ev.After = row
}

// BenchmarkEnvelopeFormats decodes one envelope of the snapshot
// benchmark's table as JSON (what Inlet sends) and as the binary form
// above, both into an arena; bytes/envelope is the record size.
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
	bin := appendBinaryEnvelope(nil, ev, sc)
	var check Decoder
	decodeBinaryEnvelope(bin, sc, &check.a, &check.a.ev)
	if got := check.a.ev.After; got[0] != ev.After[0] || got[6] != ev.After[6] || !got[4].(time.Time).Equal(ev.After[4].(time.Time)) {
		b.Fatalf("binary round trip: %v, want %v", got, ev.After)
	}
	b.Run("json", func(b *testing.B) {
		var dec Decoder
		b.ReportAllocs()
		for range b.N {
			if _, err := dec.Decode(js, sc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "bytes/envelope")
	})
	b.Run("binary", func(b *testing.B) {
		var dec Decoder
		b.ReportAllocs()
		for range b.N {
			dec.a.ev = Event{}
			decodeBinaryEnvelope(bin, sc, &dec.a, &dec.a.ev)
		}
		b.ReportMetric(float64(len(bin)), "bytes/envelope")
	})
}
