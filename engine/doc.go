// Package engine consumes change topics and materializes them, in
// micro-batches, into the lake and ClickHouse, exactly once per sink.
//
// Progress truth lives with the sinks, not in Kafka consumer offsets:
//
//   - the lake's progress is the txn action of each Delta table
//     (appId inlet/<pipeline>/engine/<topic>/<partition>, version = last
//     offset written);
//   - ClickHouse's progress is the latest "clickhouse" batch in the
//     checkpoint store.
//
// On start the engine reads both, and consumes every partition from the
// lowest next offset of the two. Each micro-batch then passes through:
//
//	received   records polled with read_committed isolation, so aborted
//	           source transactions are never seen; the batch is cut by
//	           record count, bytes or time (engine.batch_*).
//	decoded    envelopes parsed against their schema (looked up by
//	           fingerprint in <pipeline>._inlet_schemas).
//	written    per sink, only the records above that sink's position and
//	           above the source order it applied (a change published twice
//	           is skipped): lake.Write (one Delta commit per table, which is
//	           also the lake's checkpoint), then clickhouse.Write
//	           (idempotent upsert).
//	committed  the ClickHouse position (and a lake history entry) are
//	           committed to the checkpoint store.
//
// Reading and decoding run in one goroutine, writing and committing in
// another: batch n+1 is fetched and decoded while batch n is written, and
// waits there until the writer takes it.
//
// A sink error stops the batch before its checkpoint; the engine records an
// incident, backs off and retries the same batch. Sinks skip what they
// already hold, so a retry never duplicates.
package engine
