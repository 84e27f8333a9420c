package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/change"
)

// Full refresh tables: each refresh generation's rows go to a staging
// table (<table>__staging, same structure); at the generation's marker the
// staging table is merged, its row count checked against the marker, and
// its one partition replaces the table's with ALTER TABLE … REPLACE
// PARTITION, which readers see atomically: the old copy or the new one.
// Replaying a batch re-inserts the same (_version, _row) rows, which the
// merge collapses, and replaces the partition again with the same rows.

func stagingName(name string) string { return name + "__staging" }

// WriteRefresh writes the rows and markers of one full_refresh table (in
// offset order) and returns the rows inserted into staging.
func (s *Sink) WriteRefresh(ctx context.Context, table string, rows []change.Row, markers []change.Marker) (int, error) {
	var m *mirror
	for i := range rows {
		var err error
		if m, err = s.ensure(ctx, rows[i].Schema, true, rows[i].Version); err != nil {
			return 0, err
		}
	}
	if m == nil {
		var err error
		if m, err = s.refreshMirror(ctx, table); err != nil {
			return 0, err
		}
	}
	if m.stagingGen < 0 {
		var g uint64
		if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(`_version`) FROM %s.%s", quote(s.db), quote(stagingName(m.name)))).Scan(&g); err != nil {
			return 0, fmt.Errorf("clickhouse: read staging table of %s: %w", m.name, err)
		}
		m.stagingGen = int64(g)
	}
	inserted := 0
	mi := 0
	for i := 0; i <= len(rows); {
		// Markers that come before the next row, in offset order.
		for mi < len(markers) && (i == len(rows) || markers[mi].Offset < rows[i].Offset) {
			if err := s.swapIn(ctx, m, markers[mi]); err != nil {
				return inserted, err
			}
			mi++
		}
		if i == len(rows) {
			break
		}
		// The run of rows of one generation up to the next marker.
		j := i + 1
		for j < len(rows) && rows[j].Version == rows[i].Version && (mi == len(markers) || rows[j].Offset < markers[mi].Offset) {
			j++
		}
		n, err := s.stage(ctx, m, rows[i:j])
		if err != nil {
			return inserted, err
		}
		inserted += n
		i = j
	}
	if len(markers) > 0 {
		// A new copy is in: summaries over it are rebuilt.
		if _, err := s.beforeInsert(ctx, m, nil); err != nil {
			return inserted, err
		}
	}
	return inserted, nil
}

// refreshMirror finds the mirror of a table that has only a marker in
// this batch (an empty refresh) from the tables ClickHouse has.
func (s *Sink) refreshMirror(ctx context.Context, table string) (*mirror, error) {
	name := mirrorOf(table)
	if m := s.tables[name]; m != nil {
		return m, nil
	}
	m := &mirror{name: name, known: map[string]bool{}, refresh: true, stagingGen: -1}
	if err := s.execAll(ctx, s.tp.mirrorSQL(s.db, name, nil, s.version, true)); err != nil {
		return nil, fmt.Errorf("clickhouse: create table %s.%s: %w", s.db, name, err)
	}
	s.tables[name] = m
	return m, nil
}

// stage inserts rows of one generation into the staging table, first
// clearing it if it holds another (an interrupted refresh).
func (s *Sink) stage(ctx context.Context, m *mirror, rows []change.Row) (int, error) {
	gen := int64(rows[0].Version)
	st := quote(s.db) + "." + quote(stagingName(m.name))
	if m.stagingGen != gen {
		if m.stagingGen > 0 {
			if err := s.conn.Exec(ctx, s.tp.truncateSQL(s.db, stagingName(m.name))); err != nil {
				return 0, fmt.Errorf("clickhouse: clear %s: %w", stagingName(m.name), err)
			}
		}
		m.stagingGen = gen
	}
	pos := map[string]int{}
	names := make([]string, 0, len(m.columns)+4)
	for i, c := range m.columns {
		pos[c.Name] = i
		names = append(names, quote(c.Name))
	}
	names = append(names, "`_version`", "`_row`", "`_deleted`", "`_synced_at`")
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", st, strings.Join(names, ", ")))
	if err != nil {
		return 0, fmt.Errorf("clickhouse: prepare insert into %s: %w", stagingName(m.name), err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	vals := make([]any, len(names))
	n := len(m.columns)
	for _, r := range rows {
		for i := range vals[:n] {
			vals[i] = nil
		}
		for i, c := range r.Schema.Columns {
			j := m.place(pos, c)
			if j < 0 {
				continue
			}
			v, err := s.value(m.name, m.columns[j], r.Values[i], r.Values, r.Schema.KeyColumns(), r.Schema.Columns)
			if err != nil {
				batch.Abort()
				return 0, fmt.Errorf("clickhouse: %s.%s: %w: %w", m.name, c.Name, ErrValue, err)
			}
			vals[j] = v
		}
		for i, c := range m.columns {
			if vals[i] == nil {
				if v, err := chValue(c, nil, s.version); err == nil {
					vals[i] = v
				}
			}
		}
		vals[n], vals[n+1], vals[n+2], vals[n+3] = r.Version, uint64(r.Offset), uint8(0), now
		if err := batch.Append(vals...); err != nil {
			batch.Abort()
			return 0, fmt.Errorf("clickhouse: append to %s: %w", stagingName(m.name), err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("clickhouse: insert into %s: %w", stagingName(m.name), err)
	}
	return len(rows), nil
}

// swapIn replaces the table's contents with generation mk.Gen from staging.
func (s *Sink) swapIn(ctx context.Context, m *mirror, mk change.Marker) error {
	main := quote(s.db) + "." + quote(m.name)
	st := quote(s.db) + "." + quote(stagingName(m.name))
	if m.stagingGen != int64(mk.Gen) && mk.Rows > 0 {
		// Staging holds another generation: this marker was applied before
		// (a replay) if the table holds exactly its rows.
		var n uint64
		if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s FINAL WHERE `_version` = ?", main), mk.Gen).Scan(&n); err != nil {
			return fmt.Errorf("clickhouse: check %s: %w", m.name, err)
		}
		if int64(n) == mk.Rows {
			return nil
		}
		return fmt.Errorf("clickhouse: full refresh %d of %s: its rows are not staged (staging holds %d); replay the table from an earlier checkpoint (inlet replay --sink clickhouse)", mk.Gen, m.name, m.stagingGen)
	}
	if mk.Rows == 0 && m.stagingGen != int64(mk.Gen) {
		if err := s.conn.Exec(ctx, s.tp.truncateSQL(s.db, stagingName(m.name))); err != nil {
			return fmt.Errorf("clickhouse: clear %s: %w", stagingName(m.name), err)
		}
		m.stagingGen = int64(mk.Gen)
	}
	if err := s.conn.Exec(ctx, s.tp.optimizeSQL(s.db, stagingName(m.name))); err != nil {
		return fmt.Errorf("clickhouse: merge %s: %w", stagingName(m.name), err)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s FINAL WHERE `_version` = ?", st), mk.Gen).Scan(&n); err != nil {
		return fmt.Errorf("clickhouse: count %s: %w", stagingName(m.name), err)
	}
	if int64(n) != mk.Rows {
		return fmt.Errorf("clickhouse: full refresh %d of %s: %d rows staged but the source sent %d; not swapping it in (replay the table from an earlier checkpoint)", mk.Gen, m.name, n, mk.Rows)
	}
	if err := s.conn.Exec(ctx, s.tp.replaceSQL(s.db, m.name, stagingName(m.name), []string{wholeTable})); err != nil {
		return fmt.Errorf("clickhouse: swap in full refresh of %s: %w", m.name, err)
	}
	s.log.Info("clickhouse full refresh swapped in", "table", m.name, "rows", n, "gen", mk.Gen)
	return nil
}
