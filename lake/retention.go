package lake

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"
)

// ApplyRetention removes from the table, in one commit, every day
// partition wholly older than the table's retention (Options.Retain): a
// day D goes once D+1 00:00 UTC is more than the retention before now.
// The files stay on disk for time travel until vacuum deletes them. It
// returns the files removed (none when the table has no retention).
func (l *Lake) ApplyRetention(ctx context.Context, name string, now time.Time) ([]string, error) {
	if keep, ok := l.opts.Retain[name]; !ok || keep <= 0 {
		return nil, nil
	}
	t, err := l.snapshot(name)
	if err != nil {
		return nil, err
	}
	return l.applyRetention(ctx, t, now)
}

// applyRetention retires expired days of snapshot t (kept current).
func (l *Lake) applyRetention(ctx context.Context, t *Table, now time.Time) ([]string, error) {
	keep, ok := l.opts.Retain[t.Name]
	if !ok || keep <= 0 {
		return nil, nil
	}
	// The oldest day kept: days before it ended before now-keep.
	first := now.Add(-keep).UTC().Format("2006-01-02")
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t.version < 0 {
			return nil, nil
		}
		var gone []string
		days := map[string]bool{}
		for f, a := range t.files {
			if d, ok := a.PartitionValues[t.part]; ok && d != "" && d < first {
				gone = append(gone, f)
				days[d] = true
			}
		}
		if len(gone) == 0 {
			return nil, nil
		}
		sort.Strings(gone)
		ms := l.now().UnixMilli()
		var actions []logEntry
		for _, f := range gone {
			a := t.files[f]
			actions = append(actions, logEntry{Remove: &removeAction{Path: f, DeletionTimestamp: ms, DataChange: true,
				ExtendedFileMetadata: true, PartitionValues: a.PartitionValues, Size: a.Size}})
		}
		actions = append(actions, logEntry{CommitInfo: map[string]any{
			"timestamp": ms, "operation": "DELETE", "engineInfo": "inlet", "isBlindAppend": false,
			"operationParameters": map[string]any{"predicate": `["` + t.part + ` < '` + first + `'"]`},
			"operationMetrics":    map[string]string{"numRemovedFiles": strconv.Itoa(len(gone)), "numDays": strconv.Itoa(len(days))},
		}})
		err := t.commit(actions)
		if errors.Is(err, ErrConflict) && attempt < 20 {
			// Catch up with the log and decide again.
			if err := t.Follow(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		l.maybeCheckpoint(t)
		l.refresh(t.Name)
		return gone, nil
	}
}
