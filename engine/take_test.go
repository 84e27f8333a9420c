package engine

import (
	"encoding/binary"
	"testing"

	"github.com/inlet-dev/inlet/change"
)

func ord(lsn uint64) []byte { return binary.BigEndian.AppendUint64(nil, lsn) }

// TestTakeSkipsAppliedOrders: a sink takes what is at or after its offset
// and above the order it applied; skipped records do not move its position.
func TestTakeSkipsAppliedOrders(t *testing.T) {
	b := &tableBatch{table: Table{Name: "public.t", Topic: "p.public.t"}}
	add := func(p int32, off int64, o []byte) {
		b.rows = append(b.rows, change.Row{Partition: p, Offset: off})
		b.rowOrd = append(b.rowOrd, o)
	}
	// Partition 0: offsets 10..13 carry orders 5,6,7,8 (re-published
	// copies of changes the sink applied up to order 6), then 14 (order 9).
	add(0, 10, ord(5))
	add(0, 11, ord(6))
	add(1, 3, ord(1))
	add(0, 12, ord(7))
	add(0, 13, nil) // no order (snapshot row): always taken
	add(0, 14, ord(9))
	add(1, 4, ord(2))
	next := map[tp]int64{{Topic: "p.public.t", Partition: 0}: 10, {Topic: "p.public.t", Partition: 1}: 4}
	applied := map[tp][]byte{{Topic: "p.public.t", Partition: 0}: ord(6)}
	s := b.take(next, applied)
	var got []int64
	for _, r := range s.rows {
		got = append(got, r.Offset)
	}
	want := []int64{12, 13, 14, 4}
	if len(got) != len(want) {
		t.Fatalf("took offsets %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("took offsets %v, want %v", got, want)
		}
	}
	if s.skipped != 2 {
		t.Errorf("skipped %d, want 2", s.skipped)
	}
	if rg := s.ranges[0]; rg.From != 12 || rg.To != 14 {
		t.Errorf("partition 0 range %+v, want 12..14", rg)
	}
	if rg := s.ranges[1]; rg.From != 4 || rg.To != 4 {
		t.Errorf("partition 1 range %+v, want 4..4 (offset 3 is below next)", rg)
	}
	if string(s.ord[0]) != string(ord(9)) || string(s.ord[1]) != string(ord(2)) {
		t.Errorf("orders %x, want 9 and 2", s.ord)
	}

	// Everything already applied: nothing taken, no range, position stays.
	s = b.take(next, map[tp][]byte{{Topic: "p.public.t", Partition: 0}: ord(9), {Topic: "p.public.t", Partition: 1}: ord(2)})
	if len(s.rows) != 1 || s.rows[0].Offset != 13 || len(s.ranges) != 1 {
		t.Errorf("with everything applied took %d rows, ranges %v; want only the unordered row", len(s.rows), s.ranges)
	}
}

// TestTakeInterleavesMarkers: full refresh markers and rows of a partition
// are taken in offset order whatever the partitions' interleaving.
func TestTakeInterleavesMarkers(t *testing.T) {
	b := &tableBatch{table: Table{Name: "public.t", Topic: "p.public.t"}}
	b.rows = []change.Row{{Partition: 1, Offset: 20}, {Partition: 0, Offset: 10}, {Partition: 0, Offset: 11}}
	b.rowOrd = [][]byte{nil, nil, nil}
	b.markers = []change.Marker{{Gen: 2, Partition: 0, Offset: 12}}
	b.markerOrd = [][]byte{ord(2)}
	s := b.take(map[tp]int64{}, map[tp][]byte{{Topic: "p.public.t", Partition: 0}: ord(1)})
	if len(s.rows) != 3 || len(s.markers) != 1 {
		t.Fatalf("took %d rows and %d markers, want 3 and 1", len(s.rows), len(s.markers))
	}
	if rg := s.ranges[0]; rg.From != 10 || rg.To != 12 {
		t.Errorf("partition 0 range %+v, want 10..12", rg)
	}
	s = b.take(map[tp]int64{}, map[tp][]byte{{Topic: "p.public.t", Partition: 0}: ord(2)})
	if len(s.markers) != 0 || s.skipped != 1 {
		t.Errorf("an applied refresh marker was taken again (%d markers, %d skipped)", len(s.markers), s.skipped)
	}
}
