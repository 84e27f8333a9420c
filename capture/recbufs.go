package capture

import "github.com/twmb/franz-go/pkg/kgo"

// recBufs recycles the kgo.Record and header slices that add produces
// from. kgo refers to a record until its promise has run, and a Flush
// that returns nil has run every promise of the transaction: its slices
// are then free again. After anything else (a failed flush, an abort, a
// disconnect) they are dropped, since the client may still hold them. At
// snapshot rates these slices were a sixth of all Inlet allocated.
type recBufs struct {
	recs    [][]kgo.Record // in the open transaction
	headers [][]kgo.RecordHeader
	freeR   [][]kgo.Record
	freeH   [][]kgo.RecordHeader
}

// maxFree bounds the slices kept for reuse (a source's batches hold up to
// a few thousand records: some MB in all).
const maxFree = 16

// records returns n zero records.
func (b *recBufs) records(n int) []kgo.Record {
	var r []kgo.Record
	if i := fit(b.freeR, n); i >= 0 {
		r = b.freeR[i][:n] // zeroed when freed
		b.freeR[i] = b.freeR[len(b.freeR)-1]
		b.freeR = b.freeR[:len(b.freeR)-1]
	} else {
		r = make([]kgo.Record, n, roundUp(n))
	}
	b.recs = append(b.recs, r)
	return r
}

// headerSpace returns an empty slice of capacity n or more.
func (b *recBufs) headerSpace(n int) []kgo.RecordHeader {
	var h []kgo.RecordHeader
	if i := fit(b.freeH, n); i >= 0 {
		h = b.freeH[i][:0]
		b.freeH[i] = b.freeH[len(b.freeH)-1]
		b.freeH = b.freeH[:len(b.freeH)-1]
	} else {
		h = make([]kgo.RecordHeader, 0, roundUp(n))
	}
	b.headers = append(b.headers, h[:cap(h)])
	return h
}

// flushed frees the open transaction's slices (every promise has run).
func (b *recBufs) flushed() {
	// Zeroed now, not when reused: a free slice must not keep the
	// records' bytes (the source's buffers) alive.
	for _, r := range b.recs {
		if len(b.freeR) < maxFree {
			r = r[:cap(r)]
			clear(r)
			b.freeR = append(b.freeR, r)
		}
	}
	for _, h := range b.headers {
		if len(b.freeH) < maxFree {
			clear(h)
			b.freeH = append(b.freeH, h)
		}
	}
	b.recs, b.headers = b.recs[:0], b.headers[:0]
}

// dropped forgets the open transaction's slices without reusing them.
func (b *recBufs) dropped() { b.recs, b.headers = nil, nil }

// fit is the index of a slice in free with capacity n or more, or -1.
func fit[T any](free [][]T, n int) int {
	for i, s := range free {
		if cap(s) >= n {
			return i
		}
	}
	return -1
}

// roundUp rounds n up to a multiple of 1,024, so batches of slightly
// different sizes reuse each other's slices.
func roundUp(n int) int { return (n + 1023) &^ 1023 }
