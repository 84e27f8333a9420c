// Package engine consumes change topics and materializes them, in
// micro-batches, into every configured sink (connectors.Sink), exactly
// once per sink and independently of each other. It names no sink: the
// runner hands it a list.
//
// Progress truth lives with the sinks, not in Kafka consumer offsets. Each
// sink's position is its latest batch in the checkpoint store; a sink that
// also keeps progress itself (the lake: a Delta txn action per partition,
// committed with the rows) reports it from Sink.Progress, and the engine
// resumes from whichever is further, first writing the checkpoint up to
// it so the batch history has an entry for everything the sink holds.
//
// A sink resumes a partition only on the Kafka it consumed: the topic id
// its checkpoint (and its own progress) recorded, and a position within
// the partition; otherwise the engine stops, the sinks untouched
// (kafkaid.go: after Kafka lost its data, resuming skipped what the new
// topics hold below the old offsets).
//
// One reader consumes every partition from the lowest position of any
// sink (in a consumer group, Options.Group: every partition the group
// assigned this engine; group.go describes assignment and handoff), with read_committed isolation (aborted source transactions are
// never seen), and cuts micro-batches by record count, bytes or time
// (engine.batch_*) — or as soon as it holds nothing more fetched while a
// sink waits for work, so at moderate rates a change does not wait for
// batch_wait, and while the sinks are busy batches grow until all are
// free (the last sink to start waiting ends the reader's poll: what it
// holds goes out then). It decodes each batch once (envelopes against their
// schema, looked up by fingerprint in <pipeline>._inlet_schemas, with one
// change.Decoder whose arena holds the batch's values: no allocation per
// value; a record in the JSON or the binary envelope, told apart by its
// first byte; nothing of the record is kept, so its fetch can be freed)
// and offers it to every sink. engine.batch_bytes counts a binary value
// as change.BudgetBytes (2.5× its length), what it decodes to compared
// with JSON. Each sink runs in its own goroutine; for that
// sink a batch then passes through:
//
//	offered    queued for the sink by the reader, up to twice
//	           engine.batch_bytes per sink. A sink whose queue stays full
//	           for engine.batch_wait (down, frozen, retrying, or slower)
//	           is passed over until it has emptied its queue; it then
//	           reads what it missed from Kafka with its own consumer
//	           (fill). So one sink never holds up another, and a lagging
//	           sink re-reads rather than buffering the gap in memory. A
//	           sink that finds several batches queued when it comes for
//	           the next takes those that continue one another as one
//	           batch (merge.go): a slower sink catches up in fewer,
//	           larger writes (ClickHouse parts, Delta commits).
//	taken      only records at or after the sink's position whose source
//	           order is above the highest it applied (a change published
//	           twice is skipped).
//	applied    Sink.Apply returned: the rows are durable in the sink
//	           (Delta commit; ClickHouse insert and summary refresh).
//	committed  the sink's new position and what it wrote (rows, Delta
//	           versions) are committed to the checkpoint store as the
//	           sink's next batch; only then does its position move.
//
// A failed Apply or checkpoint is an incident: the sink backs off on its
// own (500 ms doubling to 30 s, with jitter) and retries the same batch
// (sinks are idempotent, so a retry never duplicates), while the reader
// and the other sinks go on. The incident is resolved when the sink
// commits again. An error classed as permanent or needing the user
// (internal/retry) stops the engine with its message.
//
// Stopping (ctx cancelled): the reader stops polling and offers the batch
// in hand; each sink finishes what it holds (bounded by a minute) and
// retries nothing. What is not committed is re-read on the next start.
package engine
