package capture

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/failpoint"
)

// txn is the Kafka transaction a session fills. Its states:
//
//	idle        no transaction open (open false); nothing read is unpublished.
//	open        records produced, not committed; atBoundary says whether
//	            they end where the source can resume (pending is that
//	            position), partial is a resume point inside a source
//	            transaction when they do not.
//
// begin: idle → open; committed (after EndTransaction commits): open →
// idle, returning the position to acknowledge; an abort is the zero txn.
type txn struct {
	open       bool
	atBoundary bool
	pending    []byte // position at the last boundary
	partial    []byte // resume point inside a source transaction
	n          int    // records read into this transaction
	start      time.Time

	mu   sync.Mutex
	perr error // first produce error
}

func (t *txn) begin() {
	t.open, t.atBoundary, t.start = true, true, time.Now()
}

// promise records the first produce error; kgo calls it from its own
// goroutines.
func (t *txn) promise(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	if t.perr == nil {
		t.perr = err
	}
	t.mu.Unlock()
}

func (t *txn) produceErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.perr
}

// added notes a batch produced into the transaction.
func (t *txn) added(b connectors.Batch) {
	t.n += len(b.Records)
	t.atBoundary = b.Position != nil
	if b.Position != nil {
		t.pending = b.Position
	}
	t.partial = b.Partial
}

// splitDue: one source transaction has kept this one open for too long
// and the source gave a point to split it at.
func (t *txn) splitDue(after time.Duration) bool {
	return t.open && !t.atBoundary && t.partial != nil && time.Since(t.start) >= after
}

// splitAtPartial makes the partial position the one to commit.
func (t *txn) splitAtPartial() {
	t.pending, t.partial, t.atBoundary = t.partial, nil, true
}

// commitDue: the transaction ends at a boundary and is full, old enough,
// or the source had nothing more (idle).
func (t *txn) commitDue(maxRecords int, every time.Duration, idle bool) bool {
	return t.open && t.atBoundary && t.pending != nil &&
		(t.n >= maxRecords || time.Since(t.start) >= every || idle)
}

// committed ends the transaction after its commit and returns the records
// it held and the position to acknowledge.
func (t *txn) committed() (int, []byte) {
	n, pos := t.n, t.pending
	t.open, t.pending, t.n = false, nil, 0
	return n, pos
}

func hitMidTransaction()       { failpoint.Hit(failpoint.CaptureMidTransaction) }
func hitAfterCommitBeforeAck() { failpoint.Hit(failpoint.CaptureAfterCommitBeforeAck) }
