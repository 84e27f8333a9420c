package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/inlet-dev/inlet/change"
)

// truncate applies a source TRUNCATE at commit version v: every current row
// of m older than v gets a deleted version v, so the _current view is empty
// at that position and a replay collapses onto the same rows. Summaries
// built on m have every partition they hold recomputed (marked pending
// first, so a crash redoes them).
func (s *Sink) truncate(ctx context.Context, m *mirror, v uint64) error {
	sums, err := s.ensureSummaries(ctx, m)
	if err != nil {
		return err
	}
	for _, sm := range sums {
		if sm.def.cfg.Refresh == RefreshFull || m.refresh {
			sm.dirty = true
			continue
		}
		parts := []string{wholeTable}
		if d := sm.def; d.partKey != "" {
			q := fmt.Sprintf("SELECT DISTINCT toString(%s) FROM (SELECT %s FROM %s.%s WHERE `_deleted` = 0)",
				d.partKey, d.dimSelect(), quote(s.db), quote(d.mirror))
			if parts, err = s.distinctStrings(ctx, q); err != nil {
				return fmt.Errorf("clickhouse: summary %s: partitions to recompute after a truncate: %w", d.cfg.Name, err)
			}
		}
		if err := s.markPending(ctx, sm, parts, 0); err != nil {
			return err
		}
		for _, p := range parts {
			sm.touched[p] = true
		}
	}
	cols := make([]string, 0, len(m.columns))
	for _, c := range m.columns {
		cols = append(cols, quote(c.Name))
	}
	list := strings.Join(cols, ", ")
	q := fmt.Sprintf("INSERT INTO %[1]s.%[2]s (%[3]s, `_version`, `_deleted`, `_synced_at`) SELECT %[3]s, toUInt64(%[4]d), toUInt8(1), now() FROM %[1]s.%[2]s FINAL WHERE `_deleted` = 0 AND `_version` < %[4]d",
		quote(s.db), quote(m.name), list, v)
	if err := s.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("clickhouse: truncate %s at version %d: %w", m.name, v, err)
	}
	s.log.Info("source truncate applied: every earlier row marked deleted", "table", m.name, "version", v)
	return nil
}

// ErrIncompatibleChange marks a source schema change the mirror cannot
// follow in place.
var ErrIncompatibleChange = errors.New("a column type change the mirror cannot follow")

// widen follows columns of sc whose type changed in a way change.Widens
// allows, with MODIFY COLUMN (also in the staging table of a full-refresh
// mirror); any other type change is ErrIncompatibleChange, except the
// narrower type of a schema older than the mirror (older: its row is older
// than the newest the mirror has seen), whose values fit. It reports
// whether a column changed (the view is then recreated).
func (s *Sink) widen(ctx context.Context, m *mirror, sc *change.Schema, older bool) (bool, error) {
	next := map[string]change.Column{}
	for _, c := range sc.Columns {
		next[c.Name] = c
	}
	changed := false
	for i, old := range m.columns {
		nc, ok := next[old.Name]
		if !ok {
			continue
		}
		ot, nt := columnType(old, s.version), columnType(nc, s.version)
		if ot == nt {
			continue
		}
		if older && change.Widens(nc, old) {
			continue
		}
		if !change.Widens(old, nc) {
			return false, fmt.Errorf("clickhouse: table %s.%s: %w: column %s changed type from %s to %s (%s to %s); re-snapshot the table (inlet backfill) into a new mirror, or drop the mirror and run inlet rebuild",
				s.db, m.name, ErrIncompatibleChange, old.Name, old.SourceType, nc.SourceType, ot, nt)
		}
		tables := []string{m.name}
		if m.refresh {
			tables = append(tables, stagingName(m.name))
		}
		for _, tn := range tables {
			if err := s.execAll(ctx, s.tp.columnSQL(s.db, tn, fmt.Sprintf("MODIFY COLUMN %s %s", quote(nc.Name), nt))); err != nil {
				return false, fmt.Errorf("clickhouse: widen column %s of %s.%s to %s: %w", nc.Name, s.db, tn, nt, err)
			}
			// The comment says the new source type (and keeps the attnum).
			q := s.tp.alterSQL(s.db, tn, fmt.Sprintf("COMMENT COLUMN %s %s", quote(nc.Name), quoteString(attnumComment(nc))))
			if err := s.conn.Exec(ctx, q); err != nil {
				return false, fmt.Errorf("clickhouse: comment column %s of %s.%s: %w", nc.Name, s.db, tn, err)
			}
		}
		s.log.Info("clickhouse column widened", "table", m.name, "column", nc.Name, "from", ot, "to", nt)
		m.columns[i] = nc
		changed = true
	}
	return changed, nil
}
