package postgres

import (
	"encoding/binary"
	"fmt"
)

// dml is one row change of the pgoutput stream (protocol version 1): an
// Insert, Update or Delete message. Its cells alias the message's bytes,
// which stay valid only until the next message is received; the encoder
// copies what it keeps. (pglogrepl.Parse allocates a struct and a copy of
// the bytes per column, copied a byte at a time: at a few hundred thousand
// changes a second that was a tenth of Inlet's CPU.)
type dml struct {
	op      byte // 'I', 'U' or 'D'
	rel     uint32
	oldType byte   // 'K' (key columns) or 'O' (old row); 0 when absent
	old     []cell // nil when absent
	new     []cell // nil for a delete
	// the cells' backing arrays, reused from message to message
	oldBuf, newBuf []cell
}

// parseDML parses data, the message (its first byte is the type), into d;
// ok is false for a message of another type, left to pglogrepl.
func parseDML(data []byte, d *dml) (ok bool, err error) {
	if len(data) == 0 {
		return false, nil
	}
	switch data[0] {
	case 'I', 'U', 'D':
	default:
		return false, nil
	}
	d.op, d.oldType, d.old, d.new = data[0], 0, nil, nil
	p := data[1:]
	if len(p) < 5 {
		return true, fmt.Errorf("pgoutput %c message of %d bytes is cut short", d.op, len(data))
	}
	d.rel = binary.BigEndian.Uint32(p)
	p = p[4:]
	tag := p[0]
	p = p[1:]
	if tag == 'K' || tag == 'O' {
		if d.op == 'I' {
			return true, fmt.Errorf("pgoutput insert message with an old tuple (%c)", tag)
		}
		d.oldType = tag
		if d.oldBuf, p, err = parseTuple(d.oldBuf[:0], p); err != nil {
			return true, fmt.Errorf("pgoutput %c message, old tuple: %w", d.op, err)
		}
		d.old = d.oldBuf
		if d.op == 'D' {
			return true, trailing(d.op, p)
		}
		if len(p) == 0 {
			return true, fmt.Errorf("pgoutput update message ends after its old tuple")
		}
		tag, p = p[0], p[1:]
	}
	if tag != 'N' || d.op == 'D' {
		return true, fmt.Errorf("pgoutput %c message: unexpected tuple tag %q", d.op, tag)
	}
	if d.newBuf, p, err = parseTuple(d.newBuf[:0], p); err != nil {
		return true, fmt.Errorf("pgoutput %c message, new tuple: %w", d.op, err)
	}
	d.new = d.newBuf
	return true, trailing(d.op, p)
}

func trailing(op byte, p []byte) error {
	if len(p) > 0 {
		return fmt.Errorf("pgoutput %c message has %d bytes after its tuples", op, len(p))
	}
	return nil
}

// parseTuple appends the columns of one TupleData to dst and returns the
// rest of p.
func parseTuple(dst []cell, p []byte) ([]cell, []byte, error) {
	if len(p) < 2 {
		return dst, p, fmt.Errorf("tuple cut short before its column count")
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if dst == nil {
		dst = make([]cell, 0, max(n, 8)) // present, even with no columns
	}
	for i := 0; i < n; i++ {
		if len(p) < 1 {
			return dst, p, fmt.Errorf("tuple cut short at column %d of %d", i+1, n)
		}
		kind := p[0]
		p = p[1:]
		switch kind {
		case 'n':
			dst = append(dst, cell{kind: 'n'})
		case 'u':
			dst = append(dst, cell{kind: 'u'})
		case 't':
			if len(p) < 4 {
				return dst, p, fmt.Errorf("tuple cut short in the length of column %d", i+1)
			}
			l := binary.BigEndian.Uint32(p)
			p = p[4:]
			if uint64(l) > uint64(len(p)) {
				return dst, p, fmt.Errorf("column %d of %d bytes runs past the message (%d bytes left)", i+1, l, len(p))
			}
			dst = append(dst, cell{kind: 't', data: p[:l:l]})
			p = p[l:]
		default: // 'b' (binary) is sent only when asked for, which Inlet does not
			return dst, p, fmt.Errorf("column %d has data kind %q; Inlet asks for text ('t')", i+1, kind)
		}
	}
	return dst, p, nil
}
