package change

import "bytes"

// Row is one decoded change as the engine hands it to sinks.
type Row struct {
	Schema *Schema
	Op     byte
	// Values holds one value per Schema column: the row after the change
	// (for a delete, the key or full old row). Unchanged{} marks TOAST
	// values the source did not send.
	Values []any
	// Before is the old row when the source sent one (key changes, deletes,
	// REPLICA IDENTITY FULL); nil otherwise.
	Before    []any
	Version   uint64 // commit LSN
	TsMs      int64  // source commit time
	Partition int32
	Offset    int64
}

// Range is the first and last Kafka offset a batch read from a partition.
type Range struct{ From, To int64 }

// Marker closes a full refresh generation (version Gen) that sent Rows rows;
// it was read at Offset of Partition.
type Marker struct {
	Gen       uint64
	Rows      int64
	Partition int32
	Offset    int64
}

// Table is one change topic and the source table it carries.
type Table struct {
	Topic string
	Name  string // schema.table, or the stream name of an HTTP source
	// FullRefresh tables get whole copies closed by markers, which the
	// sinks swap in atomically.
	FullRefresh bool
}

// Order is a record's source order: bytewise increasing within a topic in
// the order the source emitted its changes, the same when the source emits
// a change again (Postgres: commit LSN, then the change's sequence).
type Order []byte

// Compare orders two orders bytewise; nil sorts first.
func (o Order) Compare(p Order) int { return bytes.Compare(o, p) }
