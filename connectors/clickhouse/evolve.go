package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/inlet-dev/inlet/change"
)

// Renames and dropped columns. A mirror column's comment records the
// source column's attribute number ("source type text (attnum 3)"), so a
// source column under a new name (the same Attnum) is found in the mirror
// after a restart too, and renamed there: RENAME COLUMN on servers that
// have it (20.4 and later); on older ones (18.16) the column is added under
// the new name, the values are copied (ALTER … UPDATE, waited for) and the
// old column dropped — each step safe to redo after a crash, since the old
// column goes last. A key column cannot be renamed in the mirror (it is in
// the ORDER BY): that is an incompatible change.
//
// Rows of an older schema can follow rows of a newer one (a batch reads
// several Kafka partitions; a restart replays from the checkpoint): a
// schema is only followed when its row is not older than the newest row
// the mirror has seen (m.high), and an older schema's columns are placed
// by Attnum (see place).

// attnumComment is the comment suffix that records a column's Attnum.
func attnumComment(c change.Column) string {
	s := "source type " + c.SourceType
	if c.Attnum != 0 {
		s += " (attnum " + strconv.Itoa(c.Attnum) + ")"
	}
	return s
}

var attnumRE = regexp.MustCompile(`\(attnum (\d+)\)$`)

// mirrorColumns reads a table's columns and the Attnum each one's comment
// records (0: none).
func (s *Sink) mirrorColumns(ctx context.Context, table string) (map[string]int, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, comment FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name, comment string
		if err := rows.Scan(&name, &comment); err != nil {
			return nil, err
		}
		out[name] = 0
		if m := attnumRE.FindStringSubmatch(comment); m != nil {
			out[name], _ = strconv.Atoi(m[1])
		}
	}
	return out, rows.Err()
}

// highVersion is the newest _version in a mirror (0: empty).
func (s *Sink) highVersion(ctx context.Context, table string) (uint64, error) {
	var v uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT toUInt64(max(`_version`)) FROM %s.%s", quote(s.db), quote(table))).Scan(&v); err != nil {
		return 0, fmt.Errorf("clickhouse: newest version of %s: %w", table, err)
	}
	return v, nil
}

// follow renames the mirror's columns that sc (of a row at version v)
// names anew, and drops the ones sc lost when clickhouse.drop_columns is
// set. It reports whether the mirror changed, and whether sc was older
// than the mirror (then nothing is done and sc is not marked known, so a
// newer row of it is looked at again).
func (s *Sink) follow(ctx context.Context, m *mirror, sc *change.Schema, v uint64) (changed, older bool, err error) {
	have, err := s.mirrorColumns(ctx, m.name)
	if err != nil {
		return false, false, err
	}
	byNum := map[int]string{}
	for _, mc := range m.columns { // mirrors made before comments had attnums
		if _, ok := have[mc.Name]; ok && mc.Attnum != 0 {
			byNum[mc.Attnum] = mc.Name
		}
	}
	for name, n := range have {
		if n != 0 {
			byNum[n] = name
		}
	}
	in := map[string]bool{}
	for _, c := range sc.Columns {
		in[c.Name] = true
	}
	for _, c := range sc.Columns {
		from, ok := byNum[c.Attnum]
		if c.Attnum == 0 || !ok || from == c.Name || in[from] {
			continue
		}
		if v < m.high {
			// An older schema: its rows go to the column under its
			// newer name (place), which a restarted sink may not list
			// yet (its columns come from the first schema it saw).
			older = true
			if !m.has(from) {
				mc := c
				mc.Name = from
				m.columns = append(m.columns, mc)
			}
			continue
		}
		if c.Key {
			return false, false, fmt.Errorf("clickhouse: table %s.%s: %w: key column %s was renamed to %s; the mirror's ORDER BY cannot follow (re-snapshot the table into a new mirror with inlet backfill, or drop the mirror and run inlet rebuild)",
				s.db, m.name, ErrIncompatibleChange, from, c.Name)
		}
		if err := s.renameColumn(ctx, m, from, c, have); err != nil {
			return false, false, err
		}
		for i := range m.columns {
			if m.columns[i].Name == from {
				m.columns[i].Name = c.Name
			}
		}
		changed = true
	}
	if !s.dropColumns {
		return changed, older, nil
	}
	nums := map[int]bool{}
	for _, c := range sc.Columns {
		nums[c.Attnum] = true
	}
	kept := m.columns[:0:0]
	for _, mc := range m.columns {
		gone := !in[mc.Name] && (mc.Attnum == 0 || !nums[mc.Attnum]) && !mc.Key
		if !gone {
			kept = append(kept, mc)
			continue
		}
		if v < m.high {
			older = true
			kept = append(kept, mc)
			continue
		}
		for _, tn := range m.tables() {
			if err := s.execAll(ctx, s.tp.columnSQL(s.db, tn, "DROP COLUMN "+quote(mc.Name))); err != nil {
				return false, false, fmt.Errorf("clickhouse: drop column %s of %s.%s (clickhouse.drop_columns): %w", mc.Name, s.db, tn, err)
			}
		}
		s.log.Info("clickhouse column dropped (clickhouse.drop_columns)", "table", m.name, "column", mc.Name)
		changed = true
	}
	m.columns = kept
	return changed, older, nil
}

// renameColumn renames column from of the mirror (and its staging table)
// to c.Name; have are the mirror's columns and their Attnums.
func (s *Sink) renameColumn(ctx context.Context, m *mirror, from string, c change.Column, have map[string]int) error {
	if n, taken := have[c.Name]; taken && (n != c.Attnum || s.version.hasRenameColumn()) {
		return fmt.Errorf("clickhouse: table %s.%s: %w: column %s was renamed to %s, a name the mirror still has for another column (one dropped earlier); drop or rename that mirror column, then inlet resume --table",
			s.db, m.name, ErrIncompatibleChange, from, c.Name)
	}
	for _, tn := range m.tables() {
		if s.version.hasRenameColumn() {
			q := s.tp.columnSQL(s.db, tn, fmt.Sprintf("RENAME COLUMN %s TO %s", quote(from), quote(c.Name)))
			if err := s.execAll(ctx, q); err != nil {
				return fmt.Errorf("clickhouse: rename column %s of %s.%s to %s: %w", from, s.db, tn, c.Name, err)
			}
			continue
		}
		if err := s.copyColumn(ctx, tn, from, c); err != nil {
			return err
		}
	}
	s.log.Info("clickhouse column renamed", "table", m.name, "column", from, "to", c.Name)
	return nil
}

// copyColumn renames a column on a server without RENAME COLUMN: add the
// new column (if a crash has not already), copy the values, wait for the
// copy, drop the old column.
func (s *Sink) copyColumn(ctx context.Context, table, from string, c change.Column) error {
	have, err := s.mirrorColumns(ctx, table)
	if err != nil {
		return err
	}
	typ := columnType(c, s.version)
	steps := []string{}
	if _, ok := have[c.Name]; !ok {
		steps = append(steps, s.tp.columnSQL(s.db, table, fmt.Sprintf("ADD COLUMN %s %s", quote(c.Name), typ))...)
		// N.B. 18.16 ignores a COMMENT in ADD COLUMN.
		steps = append(steps, s.tp.alterSQL(s.db, table, fmt.Sprintf("COMMENT COLUMN %s %s", quote(c.Name), quoteString(attnumComment(c)))))
	}
	steps = append(steps, s.tp.alterSQL(s.db, table, fmt.Sprintf("UPDATE %s = %s WHERE isNotNull(%s)", quote(c.Name), quote(from), quote(from))))
	if err := s.execAll(ctx, steps); err != nil {
		return fmt.Errorf("clickhouse: rename column %s of %s.%s to %s (server has no RENAME COLUMN: add, copy, drop): %w", from, s.db, table, c.Name, err)
	}
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0", s.db, s.tp.local(table)).Scan(&pending); err != nil {
			return fmt.Errorf("clickhouse: wait for the copy of %s.%s to %s: %w", table, from, c.Name, err)
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := s.execAll(ctx, s.tp.columnSQL(s.db, table, "DROP COLUMN "+quote(from))); err != nil {
		return fmt.Errorf("clickhouse: rename column %s of %s.%s to %s: drop the old column: %w", from, s.db, table, c.Name, err)
	}
	return nil
}

func (m *mirror) has(name string) bool {
	for _, c := range m.columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// tables are the mirror and, for a full-refresh mirror, its staging table.
func (m *mirror) tables() []string {
	if m.refresh {
		return []string{m.name, stagingName(m.name)}
	}
	return []string{m.name}
}

// place returns where a column of a row's schema goes in the mirror's
// columns (pos: by name): the column with its Attnum (a row of a schema
// from before a rename names it as it was, and a later column may have
// taken that name), else the one with its name, else -1 (a column the
// mirror dropped).
func (m *mirror) place(pos map[string]int, c change.Column) int {
	if c.Attnum != 0 {
		for i, mc := range m.columns {
			if mc.Attnum == c.Attnum {
				return i
			}
		}
	}
	if i, ok := pos[c.Name]; ok {
		return i
	}
	return -1
}
