// Package connectors holds the contracts between Inlet's sources, sinks and
// the runtime; each connector lives in a sub-package.
package connectors

import (
	"context"
	"io"
	"time"

	"github.com/inlet-dev/inlet/change"
)

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
	// AllPartitions publishes the record to every partition of its topic
	// rather than the key's (a TRUNCATE, which concerns every key).
	AllPartitions bool
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

// TopicPartition names one Kafka partition of a change topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// TableBatch is what one micro-batch brings a sink for one table: only
// records above the sink's progress, in offset order per partition. Rows
// (and their values) may be shared with other sinks' batches: a sink
// reads them and never writes to them.
type TableBatch struct {
	Table   change.Table
	Rows    []change.Row
	Markers []change.Marker // full refresh generations closed in this batch
	// Ranges holds, per partition, the first and last offset taken.
	Ranges map[int32]change.Range
	// TopicID is the Kafka topic id (KIP-516) the rows were read from, ""
	// when the broker has none: a sink that keeps its own progress records
	// it, so that its offsets are never taken for another topic's.
	TopicID string
}

// SinkBatch is one micro-batch as one sink receives it.
type SinkBatch struct {
	ID     uint64 // the sink's batch number (1, 2, ...), for lineage
	Tables []TableBatch
}

// Applied is what Apply wrote, for the batch history and metrics.
type Applied struct {
	Rows     map[string]int64 // changes written, per table
	Written  int              // rows the sink inserted (after collapsing)
	Versions map[string]int64 // the sink's own version of each table it holds (Delta versions); nil if it has none
}

// Progress is what a sink holds durably by itself.
type Progress struct {
	// Next is, per partition, the next offset the sink needs.
	Next map[TopicPartition]int64
	// Versions is the sink's own version of each table, as in Applied.
	Versions map[string]int64
	// TopicIDs is, per topic, the Kafka topic id Next was read from (as
	// TableBatch.TopicID); a topic is absent when the sink has none.
	TopicIDs map[string]string
}

// Sink materializes change topics into one system.
//
// The engine calls Progress once at start, then Apply for each batch from
// one goroutine; Close after the last call. Apply is retried with the same
// batch after an error, so it must be idempotent: a record it already holds
// is not written twice. The engine keeps every sink's position in the
// checkpoint store (committed after each Apply); a sink that also keeps its
// progress itself (the lake: Delta txn actions) reports it from Progress,
// and the engine resumes from whichever is further.
//
// When ctx is cancelled Apply returns promptly with an error; what it did
// before stays valid, since the next Apply starts where Progress says.
type Sink interface {
	// Name is the sink's name in the checkpoint store, metrics and logs.
	Name() string
	// Progress reports the sink's own durable progress on tables; a sink
	// whose truth is the checkpoint store returns an empty Progress.
	Progress(ctx context.Context, tables []change.Table) (Progress, error)
	// Apply writes b, whose records all lie above the sink's progress, and
	// returns once it is durable in the sink.
	Apply(ctx context.Context, b SinkBatch) (Applied, error)
	Close() error
}

// Idler is implemented by sinks with work to do while no records arrive
// (ClickHouse: full-refresh summaries whose interval has passed).
type Idler interface {
	Idle(ctx context.Context) error
}

// Locker takes locks shared by every process of a pipeline, so that work
// on one shared thing never runs in two engines of a consumer group at
// once (Postgres advisory locks when checkpoints live in Postgres). A
// process that dies releases its locks.
type Locker interface {
	Lock(ctx context.Context, keys ...string) (unlock func(), err error)
}

// LockTaker is implemented by sinks with work that must not run in two
// engines at once (ClickHouse: summary refreshes); the runner hands them
// the pipeline's Locker when several engines may run.
type LockTaker interface {
	UseLocker(Locker)
}

// Rewinder is implemented by sinks that can go back to an earlier version
// of a table (the lake's time travel), for replay.
type Rewinder interface {
	Rewind(ctx context.Context, table string, version int64) error
}

// Adopter is implemented by sinks that keep their own progress (the
// lake): Adopt makes table t count it on the Kafka topic id topicID from
// next (per partition, the next offset to read), keeping what it holds.
// It is for after Kafka lost the topics a sink consumed (inlet
// adopt-kafka).
type Adopter interface {
	Adopt(ctx context.Context, t Table, topicID string, next map[int32]int64) error
}

// KafkaChangedFix is what an operator does when Kafka no longer holds the
// topic a sink consumed: the fix the engine's and the lake's refusals name.
const KafkaChangedFix = "point kafka.brokers (or state_dir, for the embedded broker) back at the Kafka this pipeline wrote to; if that Kafka is gone for good, start the sinks over from this one (docs/failures.md, \"Kafka lost its data\")"

// Resetter is implemented by sinks that can drop a table to rebuild it.
type Resetter interface {
	Reset(ctx context.Context, table string) error
}

// Table is one change topic and the source table it carries.
type Table = change.Table

// Describer is implemented by sinks that report what they hold of a table,
// for inlet status and inlet describe.
type Describer interface {
	Describe(ctx context.Context, t change.Table) (TableInfo, error)
}

// TableInfo is what a sink holds of one table.
type TableInfo struct {
	Where   string // what a reader opens: a path, a database table
	Kind    string // what it is, e.g. "Delta table; one row per change"
	Exists  bool
	Rows    int64 // rows a reader of it sees (-1: unknown)
	Version int64 // the sink's own version of it (-1: none)
	// Query is where analysts read the current rows, if not Where.
	Query      string
	LastChange time.Time // zero: unknown
}

// Reporter is implemented by sinks with more to show than their tables'
// rows (ClickHouse: summaries and their checks; the lake: versions, files,
// checkpoints). Report writes a section; for analysts (inlet describe) in
// prose, else (inlet status) a table.
type Reporter interface {
	Report(ctx context.Context, w io.Writer, tables []Table, forAnalysts bool) error
}

// TableError is what Apply returns when one table's rows cannot be
// written. Classed retriable (internal/retry), the batch is retried; classed
// permanent or needing the user, the engine quarantines that table for
// this sink (its partitions pause, with an incident) and applies the rest
// of the batch again without it.
type TableError struct {
	Table string
	Err   error
}

func (e *TableError) Error() string { return "table " + e.Table + ": " + e.Err.Error() }
func (e *TableError) Unwrap() error { return e.Err }
