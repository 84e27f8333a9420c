package capture

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecBufsReuseOnlyFlushed: slices come back only after a successful
// flush, zeroed (no reference to a record's bytes survives), and never
// while the client may still hold them (dropped after a failure).
func TestRecBufsReuseOnlyFlushed(t *testing.T) {
	var b recBufs
	r1 := b.records(3000)
	h1 := b.headerSpace(6000)
	r1[0].Value, r1[2999].Key = []byte("v"), []byte("k")
	h1 = append(h1, kgo.RecordHeader{Key: "inlet.order", Value: []byte{1}})
	r2 := b.records(10) // same transaction: must not share r1's array
	if &r2[0] == &r1[0] {
		t.Fatal("two slices of one transaction share an array")
	}
	b.flushed()
	r3 := b.records(2500)
	if &r3[0] != &r1[0] && &r3[0] != &r2[0] {
		t.Errorf("a flushed slice was not reused")
	}
	for i := range r3[:cap(r3)] {
		if r3[:cap(r3)][i].Value != nil || r3[:cap(r3)][i].Key != nil {
			t.Fatalf("record %d of a reused slice still refers to bytes", i)
		}
	}
	h3 := b.headerSpace(10)
	if len(h3) != 0 || cap(h3) < 6000 {
		t.Errorf("reused header space: len %d cap %d", len(h3), cap(h3))
	}
	if h3[:1][0].Value != nil {
		t.Error("a reused header still refers to bytes")
	}
	_ = h1
	b.dropped() // r3 may still be held by the client
	r4 := b.records(2500)
	if &r4[0] == &r3[0] {
		t.Error("a slice of a dropped transaction was reused")
	}
}
