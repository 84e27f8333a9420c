// Package lake writes change rows into Delta Lake tables: Parquet data files
// plus a _delta_log of JSON commits, one table per source table at
// <root>/<schema>.<table>/.
//
// A micro-batch reaches a table in three steps:
//
//	written    Parquet files with deterministic names
//	           (dt=YYYY-MM-DD/part-<topic>-<partition>-<from>-<to>.parquet)
//	           are written and fsynced. Nothing lists them yet: readers,
//	           which trust only the log, do not see them.
//	committed  the next _delta_log/<version>.json is created with
//	           put-if-absent (link of a fsynced temp file). It adds the files
//	           and carries a txn action {appId, version = last Kafka offset}:
//	           this is the lake's checkpoint. The file either exists whole or
//	           not at all.
//	skipped    a batch whose offsets the table's txn already covers is not
//	           written again, so a batch retried after a crash between the
//	           log commit and the engine's own checkpoint adds nothing.
//
// A crash between "written" and "committed" leaves orphan files that no log
// entry lists; a retried batch with the same range overwrites them.
package lake
