// Package lake writes change rows into Delta Lake tables: Parquet data files
// plus a _delta_log of JSON commits, one table per source table at
// <root>/<schema>.<table>/. The root is a store (lake/store): a local
// directory, or an S3 bucket and prefix; every read, list, write and
// delete goes through it, so what follows holds on both.
//
// A micro-batch reaches a table in three steps:
//
//	written    Parquet files with deterministic names
//	           (dt=YYYY-MM-DD/part-<topic>-<partition>-<from>-<to>.parquet;
//	           after Adopt, -<tag> before .parquet: the adopted topic's
//	           offsets start again) are written and fsynced. Nothing lists them yet: readers,
//	           which trust only the log, do not see them. A file is
//	           encoded column by column (encode.go): each column's values
//	           go to its own Parquet column writer in chunks, the columns
//	           in parallel on the machine's cores.
//	committed  the next _delta_log/<version>.json is created with
//	           put-if-absent (locally a link of a fsynced temp file; on S3
//	           a PUT with If-None-Match: *, 412 meaning the version is
//	           taken: Write reads the commits since, skips what their txn
//	           actions cover, and retries on the next version). It adds the files
//	           and carries a txn action {appId, version = last Kafka offset}:
//	           this is the lake's checkpoint. The offsets are those of the
//	           topic id the table's metaData records (inlet.kafka.topicId);
//	           a batch of another topic id is refused (adopt.go). The file either exists whole or
//	           not at all.
//	skipped    a batch whose offsets the table's txn already covers is not
//	           written again, so a batch retried after a crash between the
//	           log commit and the engine's own checkpoint adds nothing.
//
// A crash between "written" and "committed" leaves orphan files that no log
// entry lists; a retried batch with the same range overwrites them.
//
// A batch whose rows bring a new schema commits a new metaData with its
// files (schema.go): an added column is added; a widened type widens in
// place with the typeWidening feature (older files keep the narrow type,
// readers read them as the wide one); a renamed column (the same source
// attnum under a new name) turns on column mapping in name mode
// (mapping.go), so files name columns by physical names and history keeps
// its values under the new name. Schemas are merged in the order of their
// newest row, and one older than a column's rename is not followed. Any
// other change is ErrIncompatible: the engine quarantines the table.
//
// A table that lives for years is maintained (docs/lake-maintenance.md):
//
//	checkpointed  every Options.CheckpointInterval versions the commit that
//	              makes one due also writes <version>.checkpoint.parquet
//	              (the protocol's classic checkpoint: protocol, metaData,
//	              every txn, live adds, tombstones still needed) and
//	              _last_checkpoint, each written whole or not at all (a
//	              temp file and a rename; an S3 PUT). An
//	              open reads the newest checkpoint that reads back whole plus
//	              the commits after it; a bad checkpoint falls back to an
//	              older one or to version 0. It is never the truth, only a
//	              shortcut to it.
//	compacted     Maintain rewrites a day's small files into large ones in
//	              one commit of remove + add with dataChange false, on its
//	              own snapshot, retrying if a streaming commit lands first
//	              and giving up if an input is no longer live.
//	retired       a day older than Options.Retain is removed (one commit);
//	              its files stay for time travel.
//	cleaned       commits and checkpoints older than Options.LogRetention
//	              go, below a checkpoint that becomes the oldest version;
//	              Rewind before it fails with ErrTooOld.
//	vacuumed      a removed file goes once its removal is older than both
//	              Options.DeletedFileRetention and the oldest kept version,
//	              so every version the log keeps still reads.
package lake
