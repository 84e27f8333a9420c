// Package clickhouse mirrors change topics into ClickHouse tables.
//
// Each source table has a mirror table, ReplacingMergeTree(_version) ordered
// by the primary key, holding one row per key and version, and a view
// <table>_current of the rows that exist now (FINAL, not deleted). Writing
// a batch twice is harmless: the same (key, _version) rows collapse.
package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors"
)

// Sink writes mirror tables in one database.
type Sink struct {
	conn    driver.Conn
	db      string
	tp      topology // one server or clickhouse.cluster
	version Version
	log     *slog.Logger
	tables  map[string]*mirror // by mirror table name

	// outOfRange is the policy for values a column type cannot hold;
	// reported holds the "table.column"s already logged as incidents.
	outOfRange string
	reported   sync.Map
	// dropColumns: clickhouse.drop_columns.
	dropColumns bool

	summaries []*summary
	byMirror  map[string][]*summary // summaries by source mirror name
	bookkept  bool                  // bookkeeping tables exist
	locker    connectors.Locker     // nil: this is the only engine
}

type mirror struct {
	name    string
	columns []change.Column // columns the table has (source columns only)
	known   map[string]bool // fingerprints already reconciled
	refresh bool            // a full_refresh table
	// stagingGen is the refresh generation the staging table holds (-1:
	// not looked up yet, 0: empty).
	stagingGen int64
	// high is the newest row version the mirror has seen: a schema of an
	// older row is not followed (see evolve.go).
	high uint64
}

// Open connects, detects the server version and creates the database.
func Open(ctx context.Context, cfg *Config, log *slog.Logger) (*Sink, error) {
	tlsCfg, err := cfg.TLS.Config() // nil without clickhouse.tls
	if err != nil {
		return nil, fmt.Errorf("clickhouse.tls: %w", err)
	}
	conn, err := ch.Open(&ch.Options{
		TLS:          tlsCfg,
		Addr:         []string{cfg.Addr},
		Auth:         ch.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		Protocol:     ch.Native,
		Settings:     ch.Settings{},
		DialTimeout:  10 * time.Second,
		MaxOpenConns: 4,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", cfg.Addr, err)
	}
	s := &Sink{conn: conn, db: cfg.Database, tp: topology{cluster: cfg.Cluster}, log: log, tables: map[string]*mirror{}, outOfRange: cfg.OutOfRange, dropColumns: cfg.DropColumns}
	if s.outOfRange == "" {
		s.outOfRange = OutOfRangeClamp
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		conn.Close()
		return nil, openError(cfg, err)
	}
	if s.version, err = ParseVersion(v); err != nil {
		conn.Close()
		return nil, err
	}
	set, err := sessionSettings(ctx, conn, cfg.Cluster)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if len(set) > 0 {
		s.conn = settingsConn{Conn: conn, settings: set}
	}
	if err := s.conn.Exec(ctx, s.tp.databaseSQL(cfg.Database)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: create database %s: %w", cfg.Database, err)
	}
	s.configureSummaries(cfg.Summaries)
	log.Info("connected to clickhouse", "addr", cfg.Addr, "version", v)
	return s, nil
}

// Close closes the connection.
func (s *Sink) Close() error { return s.conn.Close() }

// Conn exposes the connection (for checks and tests).
func (s *Sink) Conn() driver.Conn { return s.conn }

// ServerVersion is the detected server version.
func (s *Sink) ServerVersion() Version { return s.version }

// ensure creates or evolves the mirror table and view for schema sc, the
// schema of a row at version v.
func (s *Sink) ensure(ctx context.Context, sc *change.Schema, refresh bool, v uint64) (*mirror, error) {
	name := TableName(sc)
	m := s.tables[name]
	if m != nil && m.known[sc.Fingerprint] {
		m.high = max(m.high, v)
		return m, nil
	}
	if m == nil {
		// Registered only once created and read: a failed attempt (server
		// down) must not leave a mirror with no columns for the retry.
		m = &mirror{name: name, known: map[string]bool{}, refresh: refresh, stagingGen: -1}
		if err := s.execAll(ctx, s.tp.mirrorSQL(s.db, name, sc.Columns, s.version, refresh)); err != nil {
			return nil, fmt.Errorf("clickhouse: create table %s.%s: %w", s.db, name, err)
		}
		existing, err := s.columnsOf(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, c := range sc.Columns {
			if existing[c.Name] {
				m.columns = append(m.columns, c)
			}
		}
		if !refresh {
			if m.high, err = s.highVersion(ctx, name); err != nil {
				return nil, err
			}
		}
		s.tables[name] = m
	}
	renamed, older, err := s.follow(ctx, m, sc, v)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	nums := map[int]bool{}
	for _, c := range m.columns {
		have[c.Name] = true
		nums[c.Attnum] = c.Attnum != 0
	}
	added, err := s.widen(ctx, m, sc, v < m.high)
	if err != nil {
		return nil, err
	}
	added = added || renamed
	for _, c := range sc.Columns {
		if have[c.Name] || older && (nums[c.Attnum] || s.dropColumns) {
			// An older schema's column: the mirror has it under its new
			// name, or dropped it.
			continue
		}
		if c.Key {
			return nil, fmt.Errorf("clickhouse: table %s.%s: new key column %s; the mirror's ORDER BY cannot change (drop the table and run inlet rebuild)", s.db, name, c.Name)
		}
		tables := []string{name}
		if refresh {
			tables = append(tables, stagingName(name))
		}
		for _, tn := range tables {
			// N.B. 18.16 has no ADD COLUMN IF NOT EXISTS: look first (the
			// column is there already when a crash came after the ALTER).
			existing, err := s.columnsOf(ctx, tn)
			if err != nil {
				return nil, err
			}
			if existing[c.Name] {
				continue
			}
			if err := s.execAll(ctx, s.tp.columnSQL(s.db, tn, fmt.Sprintf("ADD COLUMN %s %s", quote(c.Name), columnType(c, s.version)))); err != nil {
				return nil, fmt.Errorf("clickhouse: add column %s to %s.%s: %w", c.Name, s.db, tn, err)
			}
			// N.B. 18.16 ignores a COMMENT in ADD COLUMN: set it apart.
			q := s.tp.alterSQL(s.db, tn, fmt.Sprintf("COMMENT COLUMN %s %s", quote(c.Name), quoteString(attnumComment(c))))
			if err := s.conn.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("clickhouse: comment column %s of %s.%s: %w", c.Name, s.db, tn, err)
			}
		}
		s.log.Info("clickhouse column added", "table", name, "column", c.Name)
		m.columns = append(m.columns, c)
		added = true
	}
	if added {
		// Summaries over the mirror infer their column types from it:
		// look again (a widened measure rebuilds the summary).
		for _, sm := range s.byMirror[name] {
			sm.ready = false
		}
		if err := s.execAll(ctx, s.tp.dropSQL(s.db, viewName(name), true)); err != nil {
			return nil, fmt.Errorf("clickhouse: recreate view: %w", err)
		}
	}
	if err := s.conn.Exec(ctx, s.tp.viewSQL(s.db, name, m.columns)); err != nil {
		return nil, fmt.Errorf("clickhouse: create view %s.%s: %w", s.db, viewName(name), err)
	}
	if !older {
		m.known[sc.Fingerprint] = true
	}
	m.high = max(m.high, v)
	return m, nil
}

// tableExists reports whether the database has a table (or view) name.
func (s *Sink) tableExists(ctx context.Context, name string) (bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", s.db, name).Scan(&n)
	return n > 0, err
}

func (s *Sink) columnsOf(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// state is the latest image of one key within a batch.
type state struct {
	values  []any // by mirror column
	version uint64
	deleted bool
	missing []int // mirror columns still Unchanged (to look up)
}

// Write upserts the rows of one table (all from one topic, in offset
// order), applying truncates where they fall. It returns the number of
// mirror rows inserted.
func (s *Sink) Write(ctx context.Context, rows []change.Row) (int, error) {
	n := 0
	for len(rows) > 0 {
		i := 0
		for i < len(rows) && rows[i].Op != change.OpTruncate {
			i++
		}
		w, err := s.writeRows(ctx, rows[:i])
		n += w
		if err != nil || i == len(rows) {
			return n, err
		}
		m, err := s.ensure(ctx, rows[i].Schema, false, rows[i].Version)
		if err != nil {
			return n, err
		}
		if err := s.truncate(ctx, m, rows[i].Version); err != nil {
			return n, err
		}
		rows = rows[i+1:]
	}
	return n, nil
}

// writeRows upserts rows without truncates.
func (s *Sink) writeRows(ctx context.Context, rows []change.Row) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	var m *mirror
	for i := range rows {
		var err error
		if m, err = s.ensure(ctx, rows[i].Schema, false, rows[i].Version); err != nil {
			return 0, err
		}
	}
	pos := map[string]int{}
	for i, c := range m.columns {
		pos[c.Name] = i
	}
	var keyCols []int
	for i, c := range m.columns {
		if c.Key {
			keyCols = append(keyCols, i)
		}
	}
	latest := make(map[string]*state, len(rows))
	order := make([]string, 0, len(rows))
	// Where each of a schema's columns goes in the mirror's: computed once
	// per schema (a batch has one, or a few around a schema change).
	var lastSchema *change.Schema
	var at []int
	placeOf := func(sc *change.Schema) []int {
		if sc != lastSchema {
			lastSchema, at = sc, make([]int, len(sc.Columns))
			for i, c := range sc.Columns {
				at[i] = m.place(pos, c)
			}
		}
		return at
	}
	put := func(k string, prev, st *state) {
		if prev == nil {
			order = append(order, k)
		}
		latest[k] = st
	}
	// Images and states come from one allocation per batch each.
	imgs := make([]any, len(rows)*len(m.columns))
	states := make([]state, 0, len(rows))
	newState := func(st state) *state {
		if len(states) == cap(states) { // a key change adds a state
			states = make([]state, 0, len(rows))
		}
		states = append(states, st)
		return &states[len(states)-1]
	}
	var kb []byte
	var k string
	for ri := range rows {
		r := &rows[ri]
		img := imgs[ri*len(m.columns) : (ri+1)*len(m.columns) : (ri+1)*len(m.columns)]
		place := placeOf(r.Schema)
		for i := range r.Schema.Columns {
			if place[i] >= 0 {
				img[place[i]] = r.Values[i]
			}
		}
		kb, k = keyString(kb, img, keyCols)
		prev := latest[k]
		if r.Op == change.OpDelete {
			put(k, prev, newState(state{values: img, version: r.Version, deleted: true}))
			continue
		}
		if r.Before != nil {
			old := make([]any, len(m.columns))
			for i := range r.Schema.Columns {
				if place[i] >= 0 {
					old[place[i]] = r.Before[i]
				}
			}
			var ok string
			if kb, ok = keyString(kb, old, keyCols); ok != k && hasKey(old, keyCols) {
				put(ok, latest[ok], newState(state{values: old, version: r.Version, deleted: true}))
			}
		}
		st := newState(state{values: img, version: r.Version})
		for i, v := range img {
			if _, ok := v.(change.Unchanged); ok {
				if prev != nil && !prev.deleted && !isMissing(prev, i) {
					img[i] = prev.values[i]
				} else {
					st.missing = append(st.missing, i)
				}
			}
		}
		put(k, prev, st)
	}
	if err := s.fillUnchanged(ctx, m, keyCols, latest); err != nil {
		return 0, err
	}
	afterInsert := func(context.Context) error { return nil }
	if len(s.byMirror[m.name]) > 0 {
		keys := make([][]any, 0, len(order))
		for _, k := range order {
			st := latest[k]
			kv := make([]any, len(keyCols))
			for j, i := range keyCols {
				v, err := s.value(m.name, m.columns[i], st.values[i], st.values, keyCols, m.columns)
				if err != nil {
					return 0, fmt.Errorf("clickhouse: %s.%s: %w: %w", m.name, m.columns[i].Name, ErrValue, err)
				}
				kv[j] = v
			}
			keys = append(keys, kv)
		}
		var err error
		if afterInsert, err = s.beforeInsert(ctx, m, keys); err != nil {
			return 0, err
		}
	}
	names := make([]string, 0, len(m.columns)+3)
	for _, c := range m.columns {
		names = append(names, quote(c.Name))
	}
	names = append(names, "`_version`", "`_deleted`", "`_synced_at`")
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", quote(s.db), quote(m.name), strings.Join(names, ", ")))
	if err != nil {
		return 0, fmt.Errorf("clickhouse: prepare insert into %s: %w", m.name, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	sts := make([]*state, len(order))
	for j, k := range order {
		sts[j] = latest[k]
	}
	if err := s.appendColumns(batch, m, sts, keyCols, now); err != nil {
		batch.Abort()
		return 0, err
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("clickhouse: insert into %s: %w", m.name, err)
	}
	if err := afterInsert(ctx); err != nil {
		return 0, err
	}
	return len(order), nil
}

// value converts v for column c of mirror table under the sink's
// out_of_range policy. A value the column type cannot hold is counted
// (inlet_clickhouse_out_of_range_total); the first per table and column is
// logged as an incident naming the row's key (row, keyCols, cols: the
// image it belongs to). With policy fail it is an error, which the caller
// marks ErrValue: the table needs a person (classify), other tables and
// sinks go on.
func (s *Sink) value(table string, c change.Column, v any, row []any, keyCols []int, cols []change.Column) (any, error) {
	x, issue, err := convert(c, v, s.version, s.outOfRange)
	if issue != "" {
		outOfRange.WithLabelValues(table, c.Name).Inc()
		if _, seen := s.reported.LoadOrStore(table+"."+c.Name, true); !seen {
			key := make([]string, len(keyCols))
			for j, i := range keyCols {
				key[j] = fmt.Sprintf("%s=%v", cols[i].Name, row[i])
			}
			s.log.Warn("incident: value out of ClickHouse's range", "table", table, "column", c.Name,
				"key", strings.Join(key, ","), "value", issue, "policy", s.outOfRange)
		}
	}
	return x, err // the caller names the table and column
}

func isMissing(st *state, i int) bool {
	for _, j := range st.missing {
		if j == i {
			return true
		}
	}
	return false
}

func hasKey(img []any, keyCols []int) bool {
	for _, i := range keyCols {
		if img[i] == nil {
			return false
		}
	}
	return true
}

// CurrentRows counts the rows of a source table's _current view.
func (s *Sink) CurrentRows(ctx context.Context, table string) (uint64, error) {
	name := mirrorOf(table)
	var n uint64
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s", quote(s.db), quote(viewName(name)))).Scan(&n)
	return n, err
}

// DropTable drops the mirror table and view of a source table (rebuild).
func (s *Sink) DropTable(ctx context.Context, table string) error {
	name := mirrorOf(table)
	qs := append(s.tp.dropSQL(s.db, viewName(name), true), s.tp.dropSQL(s.db, name, false)...)
	if m := s.tables[name]; m != nil && m.refresh && s.tp.cluster != "" {
		qs = append(qs, s.tp.dropSQL(s.db, stagingName(name), false)...)
	}
	if err := s.execAll(ctx, qs); err != nil {
		return fmt.Errorf("clickhouse: drop %s: %w", name, err)
	}
	delete(s.tables, name)
	return nil
}

// MirrorInfo is what describe shows of a source table's mirror.
type MirrorInfo struct {
	Table, View string // database-qualified
	Current     uint64 // rows in the view
	LastSynced  time.Time
	Exists      bool
}

// Mirror reports a source table's mirror table and view.
func (s *Sink) Mirror(ctx context.Context, table string) (MirrorInfo, error) {
	name := mirrorOf(table)
	mi := MirrorInfo{Table: s.db + "." + name, View: s.db + "." + viewName(name)}
	var err error
	if mi.Exists, err = s.tableExists(ctx, name); err != nil || !mi.Exists {
		return mi, err
	}
	if mi.Current, err = s.CurrentRows(ctx, table); err != nil {
		return mi, err
	}
	err = s.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(`_synced_at`) FROM %s.%s", quote(s.db), quote(name))).Scan(&mi.LastSynced)
	return mi, err
}

// execAll runs statements in order, stopping at the first error.
func (s *Sink) execAll(ctx context.Context, qs []string) error {
	for _, q := range qs {
		if err := s.conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
