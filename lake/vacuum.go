package lake

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/lake/store"
)

// CleanupLog deletes the JSON commits and checkpoints older than the log
// retention, keeping the newest checkpoint older than the retention (which
// reads back whole) and everything after it: the table can still be read
// at every version from that checkpoint on. It returns the deleted files
// and the oldest version kept.
//
// N.B. Deletion runs from the oldest file up, so a crash part way leaves
// a log that still starts at a readable checkpoint or at version 0.
func (l *Lake) CleanupLog(name string, now time.Time) ([]string, int64, error) {
	t, err := l.snapshot(name)
	if err != nil {
		return nil, -1, err
	}
	return l.cleanupLog(t, now)
}

func (l *Lake) cleanupLog(t *Table, now time.Time) ([]string, int64, error) {
	name := t.Name
	ctx := context.Background()
	ls, err := listLog(l.st, name)
	if err != nil {
		return nil, -1, fmt.Errorf("lake table %s: %w", name, err)
	}
	if len(ls.commits) == 0 && len(ls.checkpoints) == 0 && len(ls.staleTmps) == 0 {
		return nil, -1, nil
	}
	oldest := ls.oldest()
	for _, n := range ls.staleTmps {
		l.st.Delete(ctx, t.logKey(n)) // left by a crash; never renamed or linked
	}
	if l.opts.LogRetention < 0 {
		return nil, oldest, nil
	}
	cutoff := now.Add(-l.opts.LogRetention).UnixMilli()
	keep := int64(-1)
	for i := len(ls.checkpoints) - 1; i >= 0; i-- {
		c := ls.checkpoints[i]
		if c > t.version || ls.timeOf(c) > cutoff || c <= oldest {
			continue
		}
		if err := newTable(l.st, name).loadCheckpoint(c); err != nil {
			continue // never the oldest kept: it would not read back
		}
		keep = c
		break
	}
	if keep < 0 {
		return nil, oldest, nil
	}
	var deleted []string
	present := map[string]bool{}
	for _, v := range ls.commits {
		present[logName(v)] = true
	}
	for _, v := range ls.checkpoints {
		present[checkpointName(v)] = true
	}
	del := func(n string) error {
		if !present[n] {
			return nil
		}
		if err := l.st.Delete(ctx, t.logKey(n)); err != nil {
			return err
		}
		delete(present, n)
		deleted = append(deleted, "_delta_log/"+n)
		return nil
	}
	var versions []int64
	for _, v := range ls.commits {
		if v < keep {
			versions = append(versions, v)
		}
	}
	for _, v := range ls.checkpoints {
		if v < keep {
			versions = append(versions, v)
		}
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	for _, v := range versions {
		if err := del(logName(v)); err != nil {
			return deleted, oldest, fmt.Errorf("lake table %s: log cleanup: %w", name, err)
		}
		if err := del(checkpointName(v)); err != nil {
			return deleted, oldest, fmt.Errorf("lake table %s: log cleanup: %w", name, err)
		}
	}
	if ds, ok := l.st.(store.DirSyncer); ok {
		if err := ds.SyncDir(name + "/_delta_log"); err != nil {
			return deleted, keep, fmt.Errorf("lake table %s: %w", name, err)
		}
	}
	// The writer's cached table learns it at its next checkpoint.
	l.oldest.Store(name, [2]int64{keep, ls.timeOf(keep)})
	return deleted, keep, nil
}

// OldestVersion is the oldest version of the table the log can still
// rebuild (Rewind and time travel go no further back); -1 for a table with
// no log.
func (l *Lake) OldestVersion(name string) (int64, error) {
	_, err := l.Table(name)
	if err != nil {
		return -1, err
	}
	ls, err := listLog(l.st, name)
	if err != nil {
		return -1, err
	}
	return ls.oldest(), nil
}

// minUnlistedAge is the least age of a file no version lists before vacuum
// deletes it, whatever the deleted file retention.
const minUnlistedAge = time.Hour

// Vacuum deletes the table's data files no version the log keeps
// references, once they are old enough: a file removed from the table
// (by a rewind, compaction, retention or full refresh) goes when its
// removal is older than the deleted file retention and than the oldest
// version the log keeps; a file no version lists (a crashed batch's, or a
// removed file whose tombstone has already been dropped) goes when its
// modification time is older than the deleted file retention (and an
// hour). With dryRun
// it only lists them. Paths are relative to the table's directory.
func (l *Lake) Vacuum(name string, now time.Time, dryRun bool) ([]string, error) {
	t, err := l.snapshot(name)
	if err != nil {
		return nil, err
	}
	return l.vacuum(t, now, dryRun)
}

func (l *Lake) vacuum(t *Table, now time.Time, dryRun bool) ([]string, error) {
	name := t.Name
	if t.version < 0 {
		return nil, nil
	}
	ctx := context.Background()
	ls, err := listLog(l.st, name)
	if err != nil {
		return nil, fmt.Errorf("lake table %s: %w", name, err)
	}
	horizon := min(now.Add(-l.opts.DeletedFileRetention).UnixMilli(), ls.timeOf(ls.oldest()))
	// A file no version lists may be a batch being written right now: it
	// goes only once older than the retention, and never under an hour.
	fileHorizon := now.Add(-max(l.opts.DeletedFileRetention, minUnlistedAge))
	staged := map[string]bool{}
	for _, fs := range t.staged {
		for _, f := range fs {
			staged[f.Add.Path] = true
		}
	}
	// Orphans are found by listing the table's files with their
	// modification times (on S3 one LIST, paged, of the table's prefix).
	entries, err := l.st.List(ctx, name+"/")
	if err != nil {
		return nil, fmt.Errorf("lake table %s: vacuum: %w", name, err)
	}
	var out []string
	for _, e := range entries {
		rel := strings.TrimPrefix(e.Key, name+"/")
		if strings.HasPrefix(rel, "_delta_log/") {
			continue
		}
		if !strings.HasSuffix(rel, ".parquet") || t.files[rel] != nil || staged[rel] {
			continue
		}
		if r := t.tombs[rel]; r != nil {
			if r.DeletionTimestamp >= horizon {
				continue
			}
		} else if !e.ModTime.Before(fileHorizon) {
			continue
		}
		out = append(out, rel)
	}
	sort.Strings(out)
	if dryRun {
		return out, nil
	}
	for _, rel := range out {
		if err := l.st.Delete(ctx, t.key(rel)); err != nil {
			return out, fmt.Errorf("lake table %s: vacuum: %w", name, err)
		}
	}
	if ed, ok := l.st.(interface{ RemoveEmptyDirs(prefix string) }); ok {
		ed.RemoveEmptyDirs(name) // partition directories vacuum emptied
	}
	return out, nil
}
