package lake

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/failpoint"
)

// Compaction is one compaction commit: the small files of one day
// partition rewritten into fewer files.
type Compaction struct {
	Partition string // e.g. dt=2026-03-04
	Version   int64
	Removed   []string
	Added     []string
	Rows      int64
}

// smallFile reports whether a data file counts as small for compaction:
// under half the target size.
func (o *Options) smallFile(size int64) bool { return size < o.TargetFileBytes/2 }

// Compact rewrites the small files of every day partition that has more
// than CompactMinFiles of them into files of up to TargetFileBytes, one
// commit per partition: remove + add actions with dataChange false, so
// streaming readers skip them. The new files hold the same rows with
// every column (including _kafka_offset), in the log order of the files
// they replace; memory holds one input file's rows at a time.
//
// N.B. Concurrent commits: the commit is put-if-absent like a streaming
// one. If another commit takes the version first, the log is read again;
// if every input file is still live the commit is retried, otherwise the
// rewritten files are dropped and the partition is left for next time.
func (l *Lake) Compact(ctx context.Context, name string) ([]Compaction, error) {
	if l.opts.CompactMinFiles < 0 {
		return nil, nil
	}
	t, err := l.snapshot(name)
	if err != nil {
		return nil, err
	}
	return l.compact(ctx, t)
}

// compact compacts snapshot t (kept current).
func (l *Lake) compact(ctx context.Context, t *Table) ([]Compaction, error) {
	if l.opts.CompactMinFiles < 0 || t.version < 0 {
		return nil, nil
	}
	// Small files per day partition.
	byPart := map[string][]string{}
	for f, a := range t.files {
		if l.opts.smallFile(a.Size) {
			p := t.part + "=" + a.PartitionValues[t.part]
			byPart[p] = append(byPart[p], f)
		}
	}
	parts := make([]string, 0, len(byPart))
	for p, fs := range byPart {
		if len(fs) > l.opts.CompactMinFiles {
			parts = append(parts, p)
		}
	}
	sort.Strings(parts)
	var out []Compaction
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		// Only what is still live and small in the latest snapshot.
		files := l.contiguousRun(t, p, l.compactionInputs(t, byPart[p]))
		if files == nil {
			continue
		}
		c, err := l.compactPartition(ctx, t, p, files)
		if err != nil {
			return out, err
		}
		if c != nil {
			out = append(out, *c)
			l.refresh(t.Name)
		}
	}
	return out, nil
}

func (l *Lake) compactPartition(ctx context.Context, t *Table, part string, files []string) (*Compaction, error) {
	// Rows are read and written as the files name columns (a column
	// mapping's physical names).
	sc := t.Schema()
	sc.Columns = t.mapping.physicalColumns(sc.Columns)
	pos := map[string]int{}
	for i, c := range sc.Columns {
		pos[c.Name] = i
	}
	logical, cols := t.columns, t.mapping.physicalColumns(t.columns)
	pv := t.files[files[0]].PartitionValues
	now := l.now().UnixMilli()
	tag := randHex()
	var (
		actions  []logEntry
		written  []string
		rw       *rowWriter
		outRel   string
		outRows  int64
		inBytes  int64
		rows     int64
		buffered int
	)
	cleanup := func() {
		if rw != nil {
			rw.abort()
		}
		for _, rel := range written {
			t.st.Delete(context.WithoutCancel(ctx), t.key(rel))
		}
	}
	finish := func() error {
		size, err := rw.close()
		rw = nil
		if err != nil {
			return err
		}
		actions = append(actions, logEntry{Add: &addAction{Path: outRel, PartitionValues: pv, Size: size, ModificationTime: now,
			DataChange: false, Stats: `{"numRecords":` + strconv.FormatInt(outRows, 10) + `}`}})
		return nil
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			cleanup()
			return nil, err
		}
		a := t.files[f]
		if rw != nil && inBytes+a.Size > l.opts.TargetFileBytes {
			if err := finish(); err != nil {
				cleanup()
				return nil, fmt.Errorf("lake table %s: compact %s: %w", t.Name, part, err)
			}
		}
		if rw == nil {
			outRel = path.Join(part, fmt.Sprintf("part-compact-%s-%d.parquet", tag, len(written)))
			var err error
			if rw, err = newRowWriter(t.st, t.key(outRel), cols); err != nil {
				cleanup()
				return nil, fmt.Errorf("lake table %s: compact %s: %w", t.Name, part, err)
			}
			written = append(written, outRel)
			inBytes, outRows, buffered = 0, 0, 0
		}
		rs, err := t.readFile(f, cols, sc, pos)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("lake table %s: compact: read %s: %w", t.Name, f, err)
		}
		if err := rw.write(rs); err != nil {
			cleanup()
			return nil, fmt.Errorf("lake table %s: compact %s: %w", t.Name, part, err)
		}
		inBytes += a.Size
		outRows += int64(len(rs))
		rows += int64(len(rs))
		buffered += len(rs)
		if buffered >= 64_000 { // a row group at a time in memory
			if err := rw.flush(); err != nil {
				cleanup()
				return nil, fmt.Errorf("lake table %s: compact %s: %w", t.Name, part, err)
			}
			buffered = 0
		}
	}
	if err := finish(); err != nil {
		cleanup()
		return nil, fmt.Errorf("lake table %s: compact %s: %w", t.Name, part, err)
	}
	adds := len(actions)
	for _, f := range files {
		a := t.files[f]
		actions = append(actions, logEntry{Remove: &removeAction{Path: f, DeletionTimestamp: now, DataChange: false,
			ExtendedFileMetadata: true, PartitionValues: a.PartitionValues, Size: a.Size}})
	}
	actions = append(actions, logEntry{CommitInfo: map[string]any{
		"timestamp": now, "operation": "OPTIMIZE", "engineInfo": "inlet", "isBlindAppend": false,
		"operationParameters": map[string]any{"predicate": `["` + part + `"]`, "targetSize": strconv.FormatInt(l.opts.TargetFileBytes, 10)},
		"operationMetrics": map[string]string{"numRemovedFiles": strconv.Itoa(len(files)), "numAddedFiles": strconv.Itoa(len(written)),
			"numOutputRows": strconv.FormatInt(rows, 10)},
	}})
	failpoint.Hit(failpoint.LakeCompactBeforeLog)
	if compactHook != nil {
		compactHook()
	}
	for attempt := 0; ; attempt++ {
		// The new files take the place of the first input in the
		// partition's read order; files after the inputs are added again
		// behind them so they keep reading after those rows.
		all := append(append(append([]logEntry(nil), actions[:adds]...), readdFollowers(t, part, files)...), actions[adds:]...)
		err := t.commit(all)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) {
			cleanup()
			return nil, err
		}
		if attempt >= 20 {
			cleanup() // a busy table: leave this partition for next time
			return nil, nil
		}
		// A streaming commit (or another compaction) landed first: catch
		// up with the log.
		if err := t.Follow(); err != nil {
			cleanup()
			return nil, err
		}
		for _, f := range files {
			if t.files[f] == nil {
				cleanup() // an input went away: leave this partition for next time
				return nil, nil
			}
		}
		if !sameColumns(t.columns, logical) {
			cleanup()
			return nil, nil
		}
	}
	l.maybeCheckpoint(t)
	return &Compaction{Partition: part, Version: t.version, Removed: files, Added: written, Rows: rows}, nil
}

// compactionInputs picks, among a partition's small files, what to
// compact: the files batches wrote, once there are more than
// CompactMinFiles of them, with the earlier compactions' outputs no larger
// than those files together. A day being written is thus compacted as it
// grows without rewriting its older data each time: like the tiers of an
// LSM tree, each row is rewritten a logarithmic number of times, not once
// per compaction run. nil: nothing to do.
func (l *Lake) compactionInputs(t *Table, small []string) []string {
	var fresh, compacted []string
	var freshBytes int64
	for _, f := range small {
		a := t.files[f]
		if a == nil || !l.opts.smallFile(a.Size) {
			continue
		}
		if strings.HasPrefix(path.Base(f), "part-compact-") {
			compacted = append(compacted, f)
			continue
		}
		fresh = append(fresh, f)
		freshBytes += a.Size
	}
	if len(fresh) <= l.opts.CompactMinFiles {
		return nil
	}
	files := fresh
	for _, f := range compacted {
		if t.files[f].Size <= freshBytes {
			files = append(files, f)
		}
	}
	return files
}

// contiguousRun narrows a partition's compaction inputs to one run of
// files adjacent in its read order (the longest, the latest of equals):
// merging files around one left out would move that file's rows across
// theirs. nil if the run has CompactMinFiles files or fewer.
func (l *Lake) contiguousRun(t *Table, part string, inputs []string) []string {
	if inputs == nil {
		return nil
	}
	in := map[string]bool{}
	for _, f := range inputs {
		in[f] = true
	}
	var best, run []string
	for _, f := range t.partitionFiles(part) {
		if !in[f] {
			run = nil
			continue
		}
		run = append(run, f)
		if len(run) >= len(best) {
			best = run
		}
	}
	if len(best) <= l.opts.CompactMinFiles {
		return nil
	}
	return append([]string(nil), best...)
}

// partitionFiles lists the live files of partition part (e.g.
// dt=2026-03-04) in read order.
func (t *Table) partitionFiles(part string) []string {
	var out []string
	for f, a := range t.files {
		if t.part+"="+a.PartitionValues[t.part] == part {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return t.order[out[i]] < t.order[out[j]] })
	return out
}

// readdFollowers adds again, with dataChange false, every live file of
// the partition that reads after the first of the inputs and is not one
// of them (files committed since the inputs, e.g. by a streaming commit
// that won the version first), so that in the read order they stay after
// the compacted rows. A later add of a live path only replaces it, for
// Inlet and for any Delta reader.
func readdFollowers(t *Table, part string, inputs []string) []logEntry {
	in := map[string]bool{}
	for _, f := range inputs {
		in[f] = true
	}
	first := t.order[inputs[0]]
	var out []logEntry
	for _, f := range t.partitionFiles(part) {
		if in[f] || t.order[f] < first {
			continue
		}
		a := *t.files[f]
		a.DataChange = false
		out = append(out, logEntry{Add: &a})
	}
	return out
}

// compactHook runs between writing compacted files and committing them
// (tests: a concurrent commit lands there).
var compactHook func()

func sameColumns(a, b []change.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || deltaTypeString(a[i]) != deltaTypeString(b[i]) {
			return false
		}
	}
	return true
}

// maybeCheckpoint writes a checkpoint if t's version is due one.
func (l *Lake) maybeCheckpoint(t *Table) {
	if iv := l.opts.CheckpointInterval; iv > 0 && t.version > 0 && t.version%iv == 0 {
		if o, ok := l.oldest.Load(t.Name); ok {
			if o := o.([2]int64); o[0] > t.oldest {
				t.oldest, t.oldestMs = o[0], o[1]
			}
		}
		t.ckptErr = t.writeCheckpoint(l.now(), &l.opts)
	}
}
