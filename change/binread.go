package change

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Reading the binary envelope (binary.go has the layout and the writers):
// a binReader walks the bytes with a sticky error, values go into the
// Decoder's arena as the JSON scanner's do.

// binReader reads a binary envelope; the first error sticks and every
// later read returns zero values.
type binReader struct {
	b    []byte
	i    int
	err  error
	what string // what is being read, for errors
}

func (r *binReader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("binary envelope: %s at byte %d of %d reading %s", msg, r.i, len(r.b), r.what)
		r.i = len(r.b)
	}
}

func (r *binReader) byte() byte {
	if r.i >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *binReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.i:])
	if !r.advance(n) {
		return 0
	}
	return v
}

func (r *binReader) varint() int64 {
	v, n := binary.Varint(r.b[r.i:])
	if !r.advance(n) {
		return 0
	}
	return v
}

// advance moves past a varint of n bytes as encoding/binary reports it
// (0: truncated, negative: overflow), failing on either.
func (r *binReader) advance(n int) bool {
	switch {
	case n == 0:
		r.fail("truncated")
	case n < 0:
		r.fail("varint overflows 64 bits")
	default:
		r.i += n
		return true
	}
	return false
}

func (r *binReader) fixed(n int) []byte {
	if len(r.b)-r.i < n {
		r.fail("truncated")
		return nil
	}
	out := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return out
}

func (r *binReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.i) {
		r.fail(fmt.Sprintf("length %d past the end", n))
		return nil
	}
	return r.fixed(int(n))
}

var errBinaryVersion = errors.New("binary envelope")

// decodeBinary parses a binary envelope into ev, allocating from a (nil:
// the heap).
func decodeBinary(data []byte, s *Schema, a *arena, ev *Event) (*Event, error) {
	if data[0] != BinaryV1 {
		return nil, fmt.Errorf("%w version %d (first byte 0x%02x); this Inlet reads version 1 (upgrade Inlet)", errBinaryVersion, data[0]-0xB0, data[0])
	}
	r := binReader{b: data, i: 1, what: "the head"}
	ev.Op = r.byte()
	flags := r.byte()
	if r.err == nil && (ev.Op == 0 || flags&^(binBefore|binAfter|binSnapshot) != 0) {
		r.i--
		r.fail(fmt.Sprintf("bad op %q or flags %#x", ev.Op, flags))
	}
	fp := r.bytes()
	switch {
	case a == nil:
		ev.Schema = string(fp)
	case a.fingerprint == string(fp):
		ev.Schema = a.fingerprint
	default:
		ev.Schema = string(fp)
		a.fingerprint = ev.Schema
	}
	src := &ev.Source
	for f, dst := range [...]*string{&src.Connector, &src.Pipeline, &src.DB, &src.Schema, &src.Table} {
		*dst = intern(a, f, r.bytes())
	}
	r.what = "the source block"
	src.LSN, src.CommitLSN = r.uvarint(), r.uvarint()
	seq, txid := r.uvarint(), r.uvarint()
	if seq > math.MaxUint32 || txid > math.MaxUint32 {
		r.fail("seq or txid past 32 bits")
	}
	src.Seq, src.TxID = uint32(seq), uint32(txid)
	src.TsMs, ev.TsMs = r.varint(), r.varint()
	src.Snapshot = flags&binSnapshot != 0
	if r.err != nil {
		return nil, fmt.Errorf("decode change: %w", r.err)
	}
	var err error
	if flags&binBefore != 0 {
		r.what = "the before row"
		if ev.Before, err = r.row(s, a, false); err != nil {
			return nil, fmt.Errorf("decode change: %w", err)
		}
	}
	if flags&binAfter != 0 {
		r.what = "the after row"
		if ev.After, err = r.row(s, a, true); err != nil {
			return nil, fmt.Errorf("decode change: %w", err)
		}
	}
	if r.i != len(r.b) {
		r.what = "the end"
		r.fail(fmt.Sprintf("%d bytes after the last row", len(r.b)-r.i))
		return nil, fmt.Errorf("decode change: %w", r.err)
	}
	return ev, nil
}

// row reads one row of schema s.
func (r *binReader) row(s *Schema, a *arena, after bool) ([]any, error) {
	n := r.uvarint()
	if r.err != nil {
		return nil, r.err
	}
	if n != uint64(len(s.Columns)) {
		r.fail(fmt.Sprintf("row of %d columns, but schema %s (%s) has %d", n, s.Name(), s.Fingerprint, len(s.Columns)))
		return nil, r.err
	}
	var row []any
	if a != nil {
		row = a.row(len(s.Columns))
	} else {
		row = make([]any, len(s.Columns))
	}
	for i := range s.Columns {
		c := &s.Columns[i]
		switch tag := r.byte(); tag {
		case BinNull:
		case BinValue:
			row[i] = r.value(c.Kind, c.Elem, a)
		case BinUnchanged:
			if after {
				row[i] = Unchanged{}
				break
			}
			fallthrough
		default:
			if r.err == nil {
				r.i--
				r.fail(fmt.Sprintf("bad tag %d", tag))
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("column %s.%s (%s): %w", s.Name(), c.Name, c.SourceType, r.err)
		}
	}
	return row, nil
}

// value reads one value of kind k; r.err says whether it could.
func (r *binReader) value(k, elem Kind, a *arena) any {
	switch k {
	case Int16:
		v := r.varint()
		if v < math.MinInt16 || v > math.MaxInt16 {
			r.fail(fmt.Sprintf("%d out of int16 range", v))
		}
		return a.int16(int16(v))
	case Int32:
		v := r.varint()
		if v < math.MinInt32 || v > math.MaxInt32 {
			r.fail(fmt.Sprintf("%d out of int32 range", v))
		}
		return a.int32(int32(v))
	case Int64:
		return a.int64(r.varint())
	case Float32:
		b := r.fixed(4)
		if b == nil {
			return nil
		}
		return a.float32(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case Float64:
		b := r.fixed(8)
		if b == nil {
			return nil
		}
		return a.float64(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case Bool:
		switch r.byte() {
		case 0:
			return false
		case 1:
			return true
		}
		r.i--
		r.fail("bad bool")
		return nil
	case Decimal, String, JSON:
		raw := r.bytes()
		if a == nil {
			return string(raw)
		}
		return a.string(a.str(raw))
	case UUID:
		raw := r.fixed(16)
		if raw == nil {
			return nil
		}
		var t [36]byte
		j := 0
		for i, c := range raw {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				t[j] = '-'
				j++
			}
			t[j], t[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
			j += 2
		}
		if a == nil {
			return string(t[:])
		}
		return a.string(a.str(t[:]))
	case Bytes:
		raw := r.bytes()
		if a == nil {
			return append([]byte{}, raw...)
		}
		return a.bytesVal(a.blob(raw))
	case Date, Timestamp, TimestampTZ:
		n := r.varint()
		if k == Date && (n > binDateInf || n < binDateNInf) {
			r.fail(fmt.Sprintf("%d days out of range", n))
		}
		return a.time(binTime(k, n))
	case Array:
		n := r.uvarint()
		if n > uint64(len(r.b)-r.i) { // each element takes a byte at least
			r.fail(fmt.Sprintf("%d elements past the end", n))
		}
		if r.err != nil {
			return nil
		}
		if n == 0 {
			return []any{}
		}
		var out []any
		if a != nil {
			out = a.row(int(n))
		} else {
			out = make([]any, n)
		}
		for i := range out {
			switch tag := r.byte(); tag {
			case BinNull:
			case BinValue:
				out[i] = r.value(elem, "", a)
			default:
				if r.err == nil {
					r.i--
					r.fail(fmt.Sprintf("bad tag %d of element %d", tag, i))
				}
			}
			if r.err != nil {
				return nil
			}
		}
		return out
	}
	r.fail(fmt.Sprintf("unknown kind %q", k))
	return nil
}
