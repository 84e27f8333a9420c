package engine

import (
	"bytes"
	"sort"

	"github.com/inlet-dev/inlet/change"
)

// tableBatch is what one micro-batch holds of one table.
type tableBatch struct {
	table     Table
	rows      []change.Row
	rowOrd    [][]byte        // each row's source order (nil: none)
	markers   []change.Marker // full refresh markers
	markerOrd [][]byte
}

// sinkPart is what one sink takes of a table batch.
type sinkPart struct {
	rows    []change.Row
	markers []change.Marker
	ranges  map[int32]change.Range // offsets of what it takes, per partition
	ord     map[int32][]byte       // highest order it takes, per partition
	skipped int                    // records it already holds by source order
}

// take returns what a sink at positions next, having applied orders up to
// ord, still needs: records at or after its next offset whose source order
// (when they have one) is above what it applied. Skipped records do not
// count in the ranges, so the sink's position stays on the last record it
// applied and a restart finds that record's order there.
func (b *tableBatch) take(next map[tp]int64, ord map[tp][]byte) sinkPart {
	s := sinkPart{ranges: map[int32]change.Range{}, ord: map[int32][]byte{}}
	type part struct {
		next int64
		hi   []byte // highest order applied or taken
		rg   change.Range
		took bool
	}
	parts := map[int32]*part{}
	finish := func() sinkPart {
		for p, st := range parts {
			if st.took {
				s.ranges[p] = st.rg
				if st.hi != nil {
					s.ord[p] = st.hi
				}
			}
		}
		return s
	}
	want := func(p int32, off int64, o []byte) bool {
		st := parts[p]
		if st == nil {
			k := tp{Topic: b.table.Topic, Partition: p}
			st = &part{next: next[k], hi: ord[k]}
			parts[p] = st
		}
		if off < st.next {
			return false
		}
		if o != nil && st.hi != nil && bytes.Compare(o, st.hi) <= 0 {
			s.skipped++
			return false
		}
		if o != nil {
			st.hi = o
		}
		if !st.took {
			st.rg.From, st.took = off, true
		}
		st.rg.To = off
		return true
	}
	if len(b.markers) == 0 {
		// Usually a sink takes every row: then it shares the batch's rows
		// (sinks never write to them); the first row it skips starts its
		// own copy.
		all := true
		for i, r := range b.rows {
			switch {
			case !want(r.Partition, r.Offset, b.rowOrd[i]):
				if all {
					all, s.rows = false, append(make([]change.Row, 0, len(b.rows)), b.rows[:i]...)
				}
			case !all:
				s.rows = append(s.rows, r)
			}
		}
		if all {
			s.rows = b.rows
		}
		return finish()
	}
	s.rows = make([]change.Row, 0, len(b.rows))
	// Full refresh markers interleave with rows: walk each partition in
	// offset order (orders rise with offsets).
	type item struct {
		p      int32
		off    int64
		i      int
		marker bool
	}
	items := make([]item, 0, len(b.rows)+len(b.markers))
	for i, r := range b.rows {
		items = append(items, item{r.Partition, r.Offset, i, false})
	}
	for i, m := range b.markers {
		items = append(items, item{m.Partition, m.Offset, i, true})
	}
	sort.Slice(items, func(x, y int) bool {
		if items[x].p != items[y].p {
			return items[x].p < items[y].p
		}
		return items[x].off < items[y].off
	})
	for _, it := range items {
		switch {
		case it.marker && want(it.p, it.off, b.markerOrd[it.i]):
			s.markers = append(s.markers, b.markers[it.i])
		case !it.marker && want(it.p, it.off, b.rowOrd[it.i]):
			s.rows = append(s.rows, b.rows[it.i])
		}
	}
	return finish()
}
