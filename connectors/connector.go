// Package connectors holds the contracts between Inlet's sources, sinks and
// the runtime; each connector lives in a sub-package.
package connectors

import "context"

// Record is one Kafka record a source publishes.
type Record struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
	// Order, when set, increases (bytewise) within a topic in the order the
	// source emits records, and is the same when the source emits the same
	// change again after a restart. The runtime drops a record whose Order
	// is not above the highest one already committed in its partition: that
	// is how re-reading a source after a crash never duplicates.
	Order []byte
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Batch is a run of records read from a source, in source order.
type Batch struct {
	Records []Record
	// Position is set when the batch ends at a point the source can resume
	// from: the end of a source transaction, or of a snapshot. Every record
	// up to here plus Position, committed in one Kafka transaction, is the
	// unit of exactly-once delivery. A nil Position means the batch ends
	// inside a source transaction and more records of it follow.
	Position []byte
	// Partial, set only when Position is nil, is where the source could
	// resume inside the current source transaction: committing it splits
	// that transaction across Kafka transactions (readers then see it in
	// parts). The runtime uses it only when a source transaction outlives
	// the Kafka transaction timeout; resuming from it neither skips nor
	// repeats a change.
	Partial []byte
}

// Source captures changes from one system.
//
// The runtime calls Open once, then Read in a loop from one goroutine, and
// Ack from any goroutine (Ack may overlap Read). After Close returns no
// method is called again. When ctx is cancelled, Read returns ctx.Err()
// promptly; records it returned before stay valid.
type Source interface {
	// Open connects and prepares to resume after pos, the last Position made
	// durable; pos nil means start from the beginning (snapshot, then stream).
	Open(ctx context.Context, pos []byte) error
	// Read returns the next records. It waits a short time at most (about
	// 100ms) and returns an empty batch when nothing is new, so the caller can
	// commit what it holds.
	Read(ctx context.Context) (Batch, error)
	// Ack reports that pos (a Position from Read) is durable in Kafka. The
	// source may then release what it retains up to pos (e.g. confirm WAL).
	// It must never be told of a position that is not durable.
	Ack(ctx context.Context, pos []byte) error
	// Close releases connections. It does not acknowledge anything.
	Close() error
}
