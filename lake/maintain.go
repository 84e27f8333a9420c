package lake

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Options are a lake's maintenance settings. Zero fields take the
// defaults named on each.
type Options struct {
	// CheckpointInterval: a checkpoint every this many versions (default
	// 100; negative: never).
	CheckpointInterval int64
	// LogRetention: JSON commits and checkpoints older than this are
	// deleted, keeping a checkpoint at the oldest version kept (default 30
	// days; negative: never).
	LogRetention time.Duration
	// DeletedFileRetention: data files removed from the table longer ago
	// than this, and files no version lists older than this, are deleted
	// by vacuum (default 7 days). A file a version the log keeps still
	// references is never deleted, however old.
	DeletedFileRetention time.Duration
	// TargetFileBytes: compaction writes files of up to this size (default
	// 128 MiB); files under a quarter of it are small.
	TargetFileBytes int64
	// CompactMinFiles: a day partition is compacted once it has more
	// small files than this (default 10; negative: never).
	CompactMinFiles int
	// Retain, per table (schema.table), removes day partitions older than
	// this (none: keep all).
	Retain map[string]time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// SharedWriters: several engine processes write the tables (a
	// consumer group). A file no version lists may then be another
	// engine's batch about to commit, so the orphan sweep at start leaves
	// such files until they are an hour old (vacuum removes them later).
	SharedWriters bool
}

// Defaults of Options.
const (
	DefaultCheckpointInterval   = 100
	DefaultLogRetention         = 30 * 24 * time.Hour
	DefaultDeletedFileRetention = 7 * 24 * time.Hour
	DefaultTargetFileBytes      = 128 << 20
	DefaultCompactMinFiles      = 10
)

func (o Options) withDefaults() Options {
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.LogRetention == 0 {
		o.LogRetention = DefaultLogRetention
	}
	if o.DeletedFileRetention == 0 {
		o.DeletedFileRetention = DefaultDeletedFileRetention
	}
	if o.TargetFileBytes == 0 {
		o.TargetFileBytes = DefaultTargetFileBytes
	}
	if o.CompactMinFiles == 0 {
		o.CompactMinFiles = DefaultCompactMinFiles
	}
	return o
}

func (l *Lake) now() time.Time {
	if l.opts.Now != nil {
		return l.opts.Now()
	}
	return time.Now()
}

// MaintenanceReport says what one Maintain call did to a table.
type MaintenanceReport struct {
	Table string
	// Checkpoint is the version checkpointed (-1: none was due).
	Checkpoint int64
	// LogFilesDeleted are the JSON commits and checkpoints log cleanup
	// deleted; OldestVersion is the oldest version the log keeps after it.
	LogFilesDeleted []string
	OldestVersion   int64
	// Compacted: per day partition compacted, the files rewritten and
	// the files written.
	Compacted []Compaction
	// RetentionRemoved are the files of expired day partitions removed
	// from the table (still on disk until vacuum).
	RetentionRemoved []string
	// Vacuumed are the data files vacuum deleted.
	Vacuumed []string
}

// Maintain runs, on one table, what a table that lives for years needs:
// retention of old day partitions, compaction of small files, a
// checkpoint if one is due, log cleanup and vacuum, in that order. The
// engine may call it between commits or from another goroutine: it works
// on its own snapshot of the log, and its commits are put-if-absent like
// the engine's, so whichever commit lands second re-reads the log and
// retries.
func (l *Lake) Maintain(ctx context.Context, name string, now time.Time) (MaintenanceReport, error) {
	rep := MaintenanceReport{Table: name, Checkpoint: -1, OldestVersion: -1}
	// One snapshot for all steps: each step's own commits update it, and
	// it catches up with others' commits (Follow) when one collides.
	t, err := l.snapshot(name)
	if err != nil || t.version < 0 {
		return rep, err
	}
	var errs []error
	if removed, err := l.applyRetention(ctx, t, now); err != nil {
		errs = append(errs, err)
	} else {
		rep.RetentionRemoved = removed
	}
	if c, err := l.compact(ctx, t); err != nil {
		errs = append(errs, err)
	} else {
		rep.Compacted = c
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if err := t.Follow(); err != nil {
		errs = append(errs, err)
	} else if iv := l.opts.CheckpointInterval; iv > 0 && t.version-t.checkpoint >= iv {
		if err := t.writeCheckpoint(now, &l.opts); err != nil {
			errs = append(errs, err)
		} else {
			rep.Checkpoint = t.version
		}
	}
	// Log cleanup and vacuum list directories: at most every
	// heavyMaintenanceEvery per table.
	l.mu.Lock()
	last, ran := l.heavy[name]
	due := !ran || !now.Before(last.Add(heavyMaintenanceEvery))
	if due {
		if l.heavy == nil {
			l.heavy = map[string]time.Time{}
		}
		l.heavy[name] = now
	}
	l.mu.Unlock()
	if due {
		if deleted, oldest, err := l.cleanupLog(t, now); err != nil {
			errs = append(errs, err)
		} else {
			rep.LogFilesDeleted, rep.OldestVersion = deleted, oldest
		}
		if vac, err := l.vacuum(t, now, false); err != nil {
			errs = append(errs, err)
		} else {
			rep.Vacuumed = vac
		}
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("lake table %s: maintenance: %w", name, errors.Join(errs...))
	}
	return rep, nil
}

// heavyMaintenanceEvery is how often Maintain runs log cleanup and vacuum
// on a table (they list directories; the rest is cheap).
const heavyMaintenanceEvery = time.Hour

// snapshot reads the table's log afresh (not the cached state Write uses).
func (l *Lake) snapshot(name string) (*Table, error) {
	t, err := openTable(l.st, name)
	if err != nil {
		return nil, err
	}
	t.clock = l.opts.Now
	return t, nil
}

// refresh drops the cached state after a maintenance commit, so the next
// Write starts from the new version instead of colliding with it.
func (l *Lake) refresh(name string) {
	l.mu.Lock()
	delete(l.tables, name)
	l.mu.Unlock()
}
