// Package checkpoint records how far each sink has durably materialized the
// change topics, and keeps the history of those commits.
//
// A micro-batch passes through these states on its way to a sink:
//
//	received   the engine has read records [from, to] of a partition
//	written    the sink holds the rows (lake files written, ClickHouse insert
//	           acknowledged), but nothing says so yet
//	committed  the sink's commit point records it: a Delta log entry for the
//	           lake; for ClickHouse a checkpoint in this Store
//	acknowledged the next offsets are in the Store, and the batch is part of
//	           the readable history used by `inlet checkpoints` and replay
//
// A crash before "committed" means the batch is read again and written again;
// every sink write is idempotent (deterministic file names, ReplacingMergeTree
// versions), so a re-written batch replaces, never adds.
//
// Store.Commit is atomic: after a crash the store holds either the previous
// batch or the new one, never a mix. The file implementation writes a temp
// file, fsyncs it, renames it over the current file and fsyncs the directory.
// Every persisted record carries FormatVersion; a reader rejects versions it
// does not know instead of guessing.
package checkpoint
