package postgres

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pglogrepl"
)

// appendTuple appends a pgoutput TupleData of cells.
func appendTuple(b []byte, cells []cell) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(cells)))
	for _, c := range cells {
		b = append(b, c.kind)
		if c.kind == 't' {
			b = binary.BigEndian.AppendUint32(b, uint32(len(c.data)))
			b = append(b, c.data...)
		}
	}
	return b
}

func randomCells(r *rand.Rand) []cell {
	cells := make([]cell, 1+r.IntN(6)) // pglogrepl wants a column
	for i := range cells {
		switch r.IntN(4) {
		case 0:
			cells[i] = cell{kind: 'n'}
		case 1:
			cells[i] = cell{kind: 'u'}
		default:
			data := make([]byte, r.IntN(40))
			for j := range data {
				data[j] = byte(r.IntN(256))
			}
			cells[i] = cell{kind: 't', data: data}
		}
	}
	return cells
}

// pglogreplCells is what the stream made of pglogrepl's tuples before it
// parsed row changes itself.
func pglogreplCells(t *pglogrepl.TupleData) []cell {
	if t == nil {
		return nil
	}
	var out []cell
	for _, c := range t.Columns {
		switch c.DataType {
		case 't':
			out = append(out, cell{kind: 't', data: c.Data})
		case 'u':
			out = append(out, cell{kind: 'u'})
		default:
			out = append(out, cell{kind: 'n'})
		}
	}
	return out
}

func sameCells(a, b []cell) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kind != b[i].kind || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

// TestParseDMLMatchesPglogrepl: Insert, Update (with and without an old
// tuple of either kind) and Delete messages with random tuples parse to
// the same relation, tuple kind and cells as through pglogrepl.Parse.
func TestParseDMLMatchesPglogrepl(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var d dml
	for i := 0; i < 5000; i++ {
		rel := r.Uint32()
		msg := []byte{"IUD"[r.IntN(3)]}
		msg = binary.BigEndian.AppendUint32(msg, rel)
		switch msg[0] {
		case 'I':
			msg = appendTuple(append(msg, 'N'), randomCells(r))
		case 'U':
			if k := r.IntN(3); k > 0 {
				msg = appendTuple(append(msg, "KO"[k-1]), randomCells(r))
			}
			msg = appendTuple(append(msg, 'N'), randomCells(r))
		case 'D':
			msg = appendTuple(append(msg, "KO"[r.IntN(2)]), randomCells(r))
		}
		ok, err := parseDML(msg, &d)
		if !ok || err != nil {
			t.Fatalf("message %d (%q): ok=%v err=%v", i, msg[0], ok, err)
		}
		m, err := pglogrepl.Parse(msg)
		if err != nil {
			t.Fatalf("pglogrepl: %v", err)
		}
		var wantRel uint32
		var wantType byte
		var wantOld, wantNew *pglogrepl.TupleData
		switch m := m.(type) {
		case *pglogrepl.InsertMessage:
			wantRel, wantNew = m.RelationID, m.Tuple
		case *pglogrepl.UpdateMessage:
			wantRel, wantType, wantOld, wantNew = m.RelationID, m.OldTupleType, m.OldTuple, m.NewTuple
		case *pglogrepl.DeleteMessage:
			wantRel, wantType, wantOld = m.RelationID, m.OldTupleType, m.OldTuple
		}
		if d.op != msg[0] || d.rel != wantRel || d.oldType != wantType {
			t.Fatalf("message %d: op %q rel %d old type %q, want %q %d %q", i, d.op, d.rel, d.oldType, msg[0], wantRel, wantType)
		}
		if (d.old != nil) != (wantOld != nil) || (d.new != nil) != (wantNew != nil) {
			t.Fatalf("message %d (%q): old tuple present %v, new %v; want %v, %v", i, msg[0], d.old != nil, d.new != nil, wantOld != nil, wantNew != nil)
		}
		if !sameCells(d.old, pglogreplCells(wantOld)) || !sameCells(d.new, pglogreplCells(wantNew)) {
			t.Fatalf("message %d (%q): cells differ:\nold %v / %v\nnew %v / %v", i, msg[0], d.old, pglogreplCells(wantOld), d.new, pglogreplCells(wantNew))
		}
	}
}

// TestParseDMLRefusesBrokenMessages: every cut of a valid message, a
// binary column, a wrong tuple tag and trailing bytes are errors (not a
// panic, not a shorter row).
func TestParseDMLRefusesBrokenMessages(t *testing.T) {
	msg := binary.BigEndian.AppendUint32([]byte{'U'}, 7)
	msg = appendTuple(append(msg, 'O'), []cell{{kind: 't', data: []byte("42")}, {kind: 'n'}})
	msg = appendTuple(append(msg, 'N'), []cell{{kind: 't', data: []byte("43")}, {kind: 'u'}, {kind: 't', data: []byte("x")}})
	var d dml
	if ok, err := parseDML(msg, &d); !ok || err != nil {
		t.Fatalf("whole message: ok=%v err=%v", ok, err)
	}
	for n := 1; n < len(msg); n++ {
		if ok, err := parseDML(msg[:n], &d); !ok || err == nil {
			t.Errorf("message cut to %d of %d bytes: ok=%v err=%v", n, len(msg), ok, err)
		}
	}
	bad := map[string][]byte{
		"trailing":      append(append([]byte(nil), msg...), 0),
		"delete with N": appendTuple(append(binary.BigEndian.AppendUint32([]byte{'D'}, 7), 'N'), nil),
		"insert with K": appendTuple(append(binary.BigEndian.AppendUint32([]byte{'I'}, 7), 'K'), nil),
	}
	bad["binary column"] = append(binary.BigEndian.AppendUint32([]byte{'I'}, 7), 'N', 0, 1, 'b', 0, 0, 0, 1, 'x')
	for name, m := range bad {
		if ok, err := parseDML(m, &d); !ok || err == nil {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}
	for _, other := range [][]byte{{'B'}, {'C'}, {'R'}, {'M'}, {'T'}, nil} {
		if ok, _ := parseDML(other, &d); ok {
			t.Errorf("%q taken as a row change", other)
		}
	}
}
