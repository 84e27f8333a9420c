package change

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// Decode parses a change envelope, JSON or binary (told by its first
// byte: see BinaryV1), against its schema. It scans the JSON bytes
// directly (no maps, no reflection): the engine decodes every change, so
// this is on the hot path. decodeReference is the slow, obviously-correct
// twin it is fuzzed against.
func Decode(data []byte, s *Schema) (*Event, error) {
	return decode(data, s, nil, &Event{})
}

// decode parses data into ev, allocating from a (nil: the heap).
func decode(data []byte, s *Schema, a *arena, ev *Event) (*Event, error) {
	if len(data) > 0 && data[0] >= 0xB0 && data[0] <= 0xBF {
		return decodeBinary(data, s, a, ev)
	}
	sc := scanner{b: data, a: a}
	version := -1
	var unchanged [][]byte
	if err := sc.object(func(key []byte) error {
		switch string(key) {
		case "v":
			n, err := sc.int()
			version = int(n)
			return err
		case "op":
			v, err := sc.plainString()
			if err == nil && len(v) != 1 {
				err = fmt.Errorf("bad op %q", v)
			}
			if err == nil {
				ev.Op = v[0]
			}
			return err
		case "before", "after":
			row, err := sc.row(s)
			if key[0] == 'b' {
				ev.Before = row
			} else {
				ev.After = row
			}
			return err
		case "unchanged":
			return sc.array(func() error {
				v, err := sc.plainString()
				unchanged = append(unchanged, v)
				return err
			})
		case "source":
			return sc.source(&ev.Source)
		case "ts_ms":
			n, err := sc.int()
			ev.TsMs = n
			return err
		case "schema":
			v, err := sc.plainString()
			switch {
			case a == nil:
				ev.Schema = string(v)
			case a.fingerprint == string(v): // as in the previous record
				ev.Schema = a.fingerprint
			default:
				ev.Schema = string(v)
				a.fingerprint = ev.Schema
			}
			return err
		}
		return sc.skip()
	}); err != nil {
		return nil, fmt.Errorf("decode change: %w", err)
	}
	if version != EnvelopeVersion {
		return nil, fmt.Errorf("change envelope version %d; this Inlet reads %d (upgrade Inlet)", version, EnvelopeVersion)
	}
	if ev.Op == 0 {
		return nil, errors.New("change envelope: no op")
	}
	if ev.After != nil {
		idx := s.index()
		for _, name := range unchanged {
			if i, ok := idx[string(name)]; ok {
				ev.After[i] = Unchanged{}
			}
		}
	}
	return ev, nil
}

var indexes sync.Map // *Schema → map[string]int

func (s *Schema) index() map[string]int {
	if m, ok := indexes.Load(s); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, len(s.Columns))
	for i, c := range s.Columns {
		m[c.Name] = i
	}
	indexes.Store(s, m)
	return m
}

type scanner struct {
	b []byte
	i int
	a *arena // where values are allocated; nil: the heap
}

var errEOF = errors.New("unexpected end of JSON")

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() (byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, errEOF
	}
	return s.b[s.i], nil
}

func (s *scanner) expect(c byte) error {
	p, err := s.peek()
	if err != nil {
		return err
	}
	if p != c {
		return fmt.Errorf("expected %q at byte %d, found %q", c, s.i, p)
	}
	s.i++
	return nil
}

// object calls fn for each key; fn must consume the value.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if p, err := s.peek(); err != nil {
		return err
	} else if p == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.plainString()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		p, err := s.peek()
		if err != nil {
			return err
		}
		s.i++
		switch p {
		case ',':
		case '}':
			return nil
		default:
			return fmt.Errorf("expected , or } at byte %d", s.i-1)
		}
	}
}

func (s *scanner) array(fn func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if p, err := s.peek(); err != nil {
		return err
	} else if p == ']' {
		s.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		p, err := s.peek()
		if err != nil {
			return err
		}
		s.i++
		switch p {
		case ',':
		case ']':
			return nil
		default:
			return fmt.Errorf("expected , or ] at byte %d", s.i-1)
		}
	}
}

// rawString returns the bytes between the quotes and whether they hold
// escapes.
func (s *scanner) rawString() ([]byte, bool, error) {
	if err := s.expect('"'); err != nil {
		return nil, false, err
	}
	start, esc := s.i, false
	for s.i < len(s.b) {
		// Skip 8 bytes at a time while none ends the string, escapes or
		// is a control character.
		for s.i+8 <= len(s.b) && scanPlain8(s.b[s.i:s.i+8]) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], esc, nil
		case c == '\\':
			esc = true
			s.i += 2
		case c < 0x20:
			return nil, false, fmt.Errorf("control character in string at byte %d", s.i)
		default:
			s.i++
		}
	}
	return nil, false, errEOF
}

// scanPlain8 is plain8 for reading: bytes above ASCII are plain too.
func scanPlain8(b []byte) bool {
	w := binary.LittleEndian.Uint64(b)
	q, bs := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*0x20)&^w|(q-ones)&^q|(bs-ones)&^bs)&highs == 0
}

// plainString returns a string's bytes, unescaped if needed (then copied).
func (s *scanner) plainString() ([]byte, error) {
	start := s.i
	raw, esc, err := s.rawString()
	if err != nil || !esc {
		return raw, err
	}
	var out string
	s.ws()
	quoted := bytes.TrimLeft(s.b[start:s.i], " \t\r\n")
	if err := json.Unmarshal(quoted, &out); err != nil {
		return nil, err
	}
	return []byte(out), nil
}

var (
	internMu sync.Mutex
	interned = map[string]string{}
)

// internStr reads a string that repeats across records (source names):
// one allocation per distinct value instead of one per record.
func (s *scanner) internStr(field int) (string, error) {
	raw, err := s.plainString()
	if err != nil {
		return "", err
	}
	return intern(s.a, field, raw), nil
}

// intern returns raw as a string, the same one for the same bytes: field
// is which source name it is (a remembers the last of each).
func intern(a *arena, field int, raw []byte) string {
	if a != nil {
		// A decoder reads one batch: the block repeats record after record.
		if last := a.source[field]; last == string(raw) {
			return last
		}
	}
	internMu.Lock()
	defer internMu.Unlock()
	if v, ok := interned[string(raw)]; ok {
		if a != nil {
			a.source[field] = v
		}
		return v
	}
	v := string(raw)
	if len(interned) < 10000 {
		interned[v] = v
	}
	if a != nil {
		a.source[field] = v
	}
	return v
}

func (s *scanner) str() (string, error) {
	start := s.i
	raw, esc, err := s.rawString()
	if err != nil {
		return "", err
	}
	if !esc {
		if s.a != nil {
			return s.a.str(raw), nil
		}
		return string(raw), nil
	}
	var out string
	err = json.Unmarshal(bytes.TrimLeft(s.b[start:s.i], " \t\r\n"), &out)
	return out, err
}

// number returns the bytes of a JSON number.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		return nil, fmt.Errorf("expected a number at byte %d", start)
	}
	return s.b[start:s.i], nil
}

func (s *scanner) int() (int64, error) {
	n, err := s.number()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(unsafeString(n), 10, 64)
}

func (s *scanner) uint() (uint64, error) {
	n, err := s.number()
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(unsafeString(n), 10, 64)
}

func (s *scanner) literal(word string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// skip consumes any JSON value.
func (s *scanner) skip() error {
	p, err := s.peek()
	if err != nil {
		return err
	}
	switch p {
	case '{':
		return s.object(func([]byte) error { return s.skip() })
	case '[':
		return s.array(s.skip)
	case '"':
		_, _, err := s.rawString()
		return err
	case 't':
		if s.literal("true") {
			return nil
		}
	case 'f':
		if s.literal("false") {
			return nil
		}
	case 'n':
		if s.literal("null") {
			return nil
		}
	default:
		_, err := s.number()
		return err
	}
	return fmt.Errorf("bad value at byte %d", s.i)
}

func (s *scanner) source(src *Source) error {
	return s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "lsn":
			src.LSN, err = s.uint()
		case "commit_lsn":
			src.CommitLSN, err = s.uint()
		case "seq":
			var n uint64
			n, err = s.uint()
			src.Seq = uint32(n)
		case "txid":
			var n uint64
			n, err = s.uint()
			src.TxID = uint32(n)
		case "ts_ms":
			src.TsMs, err = s.int()
		case "snapshot":
			if s.literal("true") {
				src.Snapshot = true
			} else if !s.literal("false") {
				err = fmt.Errorf("bad snapshot flag")
			}
		case "connector":
			src.Connector, err = s.internStr(0)
		case "pipeline":
			src.Pipeline, err = s.internStr(1)
		case "db":
			src.DB, err = s.internStr(2)
		case "schema":
			src.Schema, err = s.internStr(3)
		case "table":
			src.Table, err = s.internStr(4)
		default:
			err = s.skip()
		}
		return err
	})
}

// row decodes null or an object of column values.
func (s *scanner) row(sc *Schema) ([]any, error) {
	if s.literal("null") {
		return nil, nil
	}
	idx := sc.index()
	var row []any
	if s.a != nil {
		row = s.a.row(len(sc.Columns))
	} else {
		row = make([]any, len(sc.Columns))
	}
	err := s.object(func(key []byte) error {
		i, ok := idx[unsafeString(key)]
		if !ok {
			return s.skip()
		}
		c := &sc.Columns[i]
		v, err := s.value(c.Kind, c.Elem)
		if err != nil {
			return fmt.Errorf("column %s.%s (%s): %w", sc.Name(), c.Name, c.SourceType, err)
		}
		row[i] = v
		return nil
	})
	return row, err
}

func (s *scanner) value(k, elem Kind) (any, error) {
	if s.literal("null") {
		return nil, nil
	}
	a := s.a
	switch k {
	case Int16, Int32, Int64:
		n, err := s.number()
		if err != nil {
			return nil, err
		}
		switch k {
		case Int16:
			v, err := strconv.ParseInt(unsafeString(n), 10, 16)
			return a.int16(int16(v)), err
		case Int32:
			v, err := strconv.ParseInt(unsafeString(n), 10, 32)
			return a.int32(int32(v)), err
		}
		v, err := strconv.ParseInt(unsafeString(n), 10, 64)
		return a.int64(v), err
	case Float32, Float64:
		var text string
		if p, _ := s.peek(); p == '"' {
			v, err := s.str()
			if err != nil {
				return nil, err
			}
			text = v
		} else {
			n, err := s.number()
			if err != nil {
				return nil, err
			}
			text = unsafeString(n)
		}
		if k == Float32 {
			f, err := strconv.ParseFloat(text, 32)
			return a.float32(float32(f)), err
		}
		f, err := strconv.ParseFloat(text, 64)
		return a.float64(f), err
	case Bool:
		if s.literal("true") {
			return true, nil
		}
		if s.literal("false") {
			return false, nil
		}
		return nil, fmt.Errorf("bad bool at byte %d", s.i)
	case Decimal, String, UUID, JSON:
		v, err := s.str()
		return a.string(v), err
	case Bytes:
		raw, err := s.plainString()
		if err != nil {
			return nil, err
		}
		out := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
		n, err := base64.StdEncoding.Decode(out, raw)
		return a.bytesVal(out[:n]), err
	case Date, Timestamp, TimestampTZ:
		raw, err := s.plainString()
		if err != nil {
			return nil, err
		}
		if t, ok := fastTime(k, raw); ok {
			return a.time(t), nil
		}
		t, err := ParseTime(k, string(raw))
		if err != nil {
			return nil, err
		}
		return a.time(t), nil
	case Array:
		out := []any{}
		err := s.array(func() error {
			v, err := s.value(elem, "")
			out = append(out, v)
			return err
		})
		return out, err
	}
	return nil, fmt.Errorf("unknown kind %q", k)
}

// fastTime parses the fixed forms Inlet writes: 2006-01-02, and
// 2006-01-02T15:04:05[.ffffff][Z]. Anything else returns false.
func fastTime(k Kind, b []byte) (time.Time, bool) {
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, len(b) > 0
	}
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return time.Time{}, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	if k == Date {
		if len(b) != 10 {
			return time.Time{}, false
		}
		t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		return t, t.Day() == d
	}
	rest := b[10:]
	if k == TimestampTZ {
		if len(rest) == 0 || rest[len(rest)-1] != 'Z' {
			return time.Time{}, false
		}
		rest = rest[:len(rest)-1]
	}
	if len(rest) < 9 || rest[0] != 'T' || rest[3] != ':' || rest[6] != ':' {
		return time.Time{}, false
	}
	h, ok1 := num(rest[1:3])
	mi, ok2 := num(rest[4:6])
	sec, ok3 := num(rest[7:9])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	ns := 0
	if frac := rest[9:]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		f, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			f *= 10
		}
		ns = f
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
	return t, t.Day() == d
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
