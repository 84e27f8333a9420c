package lake

import (
	"context"
	"fmt"
	"sort"
)

// stateAt returns the files and txn versions as of the table's version v.
func (t *Table) stateAt(v int64) (files map[string]*addAction, txns map[string]int64, err error) {
	at, err := openTableUpTo(t.st, t.Name, v)
	if err != nil {
		return nil, nil, err
	}
	return at.files, at.txns, nil
}

// Rewind makes table name read as it did at version v (-1: empty) with a
// new commit that removes every file added after v and records the txn
// versions of v, so the engine re-materializes forward from there. The
// history stays in the log (time travel still shows it).
func (l *Lake) Rewind(ctx context.Context, name string, v int64) error {
	t, err := l.Table(name)
	if err != nil {
		return err
	}
	if v >= t.version {
		return nil
	}
	oldFiles, oldTxns, err := t.stateAt(v)
	if err != nil {
		return err
	}
	now := l.now().UnixMilli()
	var actions []logEntry
	for _, f := range t.Files() {
		if oldFiles[f] == nil {
			actions = append(actions, logEntry{Remove: &removeAction{Path: f, DeletionTimestamp: now, DataChange: true}})
		}
	}
	apps := make([]string, 0, len(t.txns))
	for app := range t.txns {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		ver, ok := oldTxns[app]
		if !ok {
			ver = -1 // nothing of this partition at v: read it from the start
		}
		actions = append(actions, logEntry{Txn: &txnAction{AppID: app, Version: ver, LastUpdated: now}})
	}
	actions = append(actions, logEntry{CommitInfo: map[string]any{
		"timestamp": now, "operation": "DELETE", "engineInfo": "inlet",
		"operationParameters": map[string]any{"predicate": fmt.Sprintf("inlet replay: rewind to version %d", v)},
	}})
	if err := t.commit(actions); err != nil {
		return err
	}
	_, err = l.reload(name)
	return err
}
