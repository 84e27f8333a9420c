package change

import (
	"time"
	"unsafe"
)

// Decoder decodes the envelopes of one batch without allocating per
// value: rows' value slices, their strings' bytes and the values
// themselves are carved from chunks it allocates a few thousand at a time.
// Everything it returns stays valid (and immutable) as long as anything
// refers to it; a chunk is freed when nothing does. One Decoder per
// goroutine; the zero value is ready.
type Decoder struct {
	a arena
}

// Decode is the package-level Decode with the decoder's arena; the Event
// is reused by the next call (its Before and After are not).
func (d *Decoder) Decode(data []byte, s *Schema) (*Event, error) {
	d.a.ev = Event{}
	return decode(data, s, &d.a, &d.a.ev)
}

const (
	slabValues = 4096     // values per chunk of a slab
	arenaBytes = 64 << 10 // string bytes per chunk
)

// arena holds the chunks of one Decoder.
type arena struct {
	ev     Event
	anys   []any
	bytes  []byte
	i16    slab[int16]
	i32    slab[int32]
	i64    slab[int64]
	f32    slab[float32]
	f64    slab[float64]
	strs   slab[string]
	times  slab[time.Time]
	blobs  slab[[]byte]
	source [5]string // the last connector, pipeline, db, schema, table read
	// fingerprint is the last schema fingerprint read.
	fingerprint string
}

// row returns a slice of n nil values (its capacity is n: appending to it
// never writes into a neighbour).
func (a *arena) row(n int) []any {
	if len(a.anys)+n > cap(a.anys) {
		a.anys = make([]any, 0, max(grow(cap(a.anys), slabValues), n))
	}
	r := a.anys[len(a.anys) : len(a.anys)+n : len(a.anys)+n]
	a.anys = a.anys[:len(a.anys)+n]
	return r
}

// str copies b into the arena's bytes and returns it as a string.
func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaBytes/8 {
		return string(b)
	}
	if len(a.bytes)+len(b) > cap(a.bytes) {
		a.bytes = make([]byte, 0, max(grow(cap(a.bytes), arenaBytes), len(b)))
	}
	start := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return unsafe.String(&a.bytes[start], len(b))
}

// blob copies b into the arena's bytes (a slice whose capacity is its
// length: appending to it never writes into a neighbour).
func (a *arena) blob(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	s := a.str(b)
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// grow is the size of a chunk after one of size n: chunks start small (a
// batch of a few records allocates little) and double up to limit.
func grow(n, limit int) int { return min(max(2*n, 64), limit) }

// slab hands out values of one type from shared chunks.
type slab[T any] struct{ buf []T }

func (s *slab[T]) put(v T) *T {
	if len(s.buf) == cap(s.buf) {
		s.buf = make([]T, 0, grow(cap(s.buf), slabValues))
	}
	s.buf = append(s.buf, v)
	return &s.buf[len(s.buf)-1]
}

// eface is the layout of an interface value with no methods (any).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	typeInt16   = typeOf(int16(0))
	typeInt32   = typeOf(int32(0))
	typeInt64   = typeOf(int64(0))
	typeFloat32 = typeOf(float32(0))
	typeFloat64 = typeOf(float64(0))
	typeString  = typeOf("")
	typeTime    = typeOf(time.Time{})
	typeBytes   = typeOf([]byte(nil))
)

// box makes an any holding *p's value without copying it to the heap.
// N.B. this is how the runtime itself boxes a value that does not fit in
// a pointer word: the interface's data word points at the value. Here it
// points into a slab chunk instead of a fresh allocation, which keeps the
// chunk alive; the value is never written again, so the interface holds
// it as if it had been copied.
func box[T any](typ unsafe.Pointer, p *T) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, unsafe.Pointer(p)
	return v
}

// Boxing helpers: with no arena they box as usual.

func (a *arena) int16(v int16) any {
	if a == nil {
		return v
	}
	return box(typeInt16, a.i16.put(v))
}

func (a *arena) int32(v int32) any {
	if a == nil {
		return v
	}
	return box(typeInt32, a.i32.put(v))
}

func (a *arena) int64(v int64) any {
	if a == nil {
		return v
	}
	return box(typeInt64, a.i64.put(v))
}

func (a *arena) float32(v float32) any {
	if a == nil {
		return v
	}
	return box(typeFloat32, a.f32.put(v))
}

func (a *arena) float64(v float64) any {
	if a == nil {
		return v
	}
	return box(typeFloat64, a.f64.put(v))
}

func (a *arena) string(v string) any {
	if a == nil {
		return v
	}
	return box(typeString, a.strs.put(v))
}

func (a *arena) time(v time.Time) any {
	if a == nil {
		return v
	}
	return box(typeTime, a.times.put(v))
}

func (a *arena) bytesVal(v []byte) any {
	if a == nil {
		return v
	}
	return box(typeBytes, a.blobs.put(v))
}
