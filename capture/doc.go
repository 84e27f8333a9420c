// Package capture runs a source into Kafka exactly once, and keeps it
// running through the failures a person need not fix.
//
// One transactional producer per source (transactional.id =
// "inlet-<pipeline>-<source>") writes the source's records and, in the same
// Kafka transaction, its position to the compacted topic
// <pipeline>._inlet_offsets under the source's name.
//
// A record passes these states, in order:
//
//	read          returned by the source's Read; held only in this process.
//	in a txn      produced into the open Kafka transaction; invisible to
//	              read_committed consumers, lost (aborted) on a crash.
//	committed     the transaction that holds it and the position after it
//	              committed: durable, and what the next start resumes after.
//	acknowledged  the source heard of that position (Ack) and may release
//	              what it retains up to it (Postgres: confirm the WAL).
//
// Nothing is acknowledged before it is committed. A position is committed
// only where the source can resume (the end of a source transaction, or a
// split point inside one), so a crash at any instant re-reads from the last
// committed position, and records the runtime finds already in Kafka (by
// their Order) are dropped rather than published twice.
//
// Connecting: the producer is initialised first, which fences any older
// producer with the same id and aborts its open transaction; then the last
// committed position is read and the source is opened after it.
//
// Reconnecting: when the source or Kafka fails with a retriable error (see
// internal/retry), the open transaction is aborted, the source is closed,
// and after a capped backoff the whole connect step runs again: a fresh
// producer, the committed position read again, the source reopened after
// it. Records that were read or in the aborted transaction are simply read
// again. The outage is an incident, resolved once the source streams again;
// meanwhile the stage is not ready (/readyz). Errors that need a person
// (retry.NeedsUser) or cannot be retried stop the stage with their message.
//
// Shutdown (ctx cancelled): stop reading; commit what ends at a source
// boundary, else abort the open transaction; return nil.
package capture
