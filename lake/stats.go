package lake

import (
	"time"
)

// TableStats describe a table's log and files, for inlet status and the
// benchmark.
type TableStats struct {
	Version       int64 // latest version (-1: no log)
	OldestVersion int64 // oldest version the log can rebuild
	Files         int   // live data files
	Bytes         int64 // their size
	SmallFiles    int   // live files under half the compaction target
	Tombstones    int   // removed files a kept version may still reference
	// LastCheckpoint is the newest checkpoint's version (-1: none), and
	// LastCheckpointAt when it was written.
	LastCheckpoint   int64
	LastCheckpointAt time.Time
	LogFilesRead     int // log files the open read (checkpoint included)
}

// Stats reads the table's log afresh and describes it.
func (l *Lake) Stats(name string) (TableStats, error) {
	t, err := l.snapshot(name)
	if err != nil {
		return TableStats{}, err
	}
	st := TableStats{Version: t.version, OldestVersion: t.oldest, Files: len(t.files), Tombstones: len(t.tombs),
		LastCheckpoint: -1, LogFilesRead: t.replayed}
	for _, a := range t.files {
		st.Bytes += a.Size
		if l.opts.smallFile(a.Size) {
			st.SmallFiles++
		}
	}
	ls, err := listLog(l.st, name)
	if err != nil {
		return st, err
	}
	if c := ls.newestCheckpoint(); c >= 0 {
		st.LastCheckpoint = c
		if _, mt, err := t.Stat("_delta_log/" + checkpointName(c)); err == nil {
			st.LastCheckpointAt = mt
		}
	}
	return st, nil
}
