package capture

import (
	"testing"
	"time"

	"github.com/inlet-dev/inlet/connectors"
)

// TestTxnStates walks a Kafka transaction through its states: a batch
// inside a source transaction is not committable; at a boundary it is once
// full, old or idle; a long source transaction is split at its partial
// position; committing returns the position to acknowledge.
func TestTxnStates(t *testing.T) {
	var tx txn
	if tx.commitDue(10, time.Hour, true) || tx.splitDue(0) {
		t.Fatal("idle transaction is due")
	}
	tx.begin()
	tx.added(connectors.Batch{Records: make([]connectors.Record, 3), Partial: []byte("p1")})
	if tx.commitDue(1, 0, true) {
		t.Fatal("due inside a source transaction")
	}
	if !tx.splitDue(0) || tx.splitDue(time.Hour) {
		t.Fatal("split not due after SplitAfter, or due before")
	}
	tx.splitAtPartial()
	if !tx.commitDue(10, time.Hour, true) {
		t.Fatal("not due after a split")
	}
	n, pos := tx.committed()
	if n != 3 || string(pos) != "p1" || tx.open {
		t.Fatalf("committed %d at %q (open %v), want 3 at p1, closed", n, pos, tx.open)
	}
	tx.begin()
	tx.added(connectors.Batch{Records: make([]connectors.Record, 5), Position: []byte("b1")})
	for _, c := range []struct {
		max   int
		every time.Duration
		idle  bool
		want  bool
	}{{10, time.Hour, false, false}, {5, time.Hour, false, true}, {10, 0, false, true}, {10, time.Hour, true, true}} {
		if got := tx.commitDue(c.max, c.every, c.idle); got != c.want {
			t.Errorf("commitDue(%d, %s, %v) = %v, want %v", c.max, c.every, c.idle, got, c.want)
		}
	}
}
