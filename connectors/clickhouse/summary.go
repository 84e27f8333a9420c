package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// ErrSummaryCheck is returned by RefreshSummaries when a check failed on a
// summary configured with on_check_failure: stop. Retrying cannot fix it.
var ErrSummaryCheck = errors.New("summary check failed")

// summary is one summary table and what is owed to it.
//
// A summary's partitions pass through these states:
//
//	touched   a batch changed a mirror row that is, or was before the batch,
//	          in the partition. Partitions rows are in before the insert are
//	          written to _inlet_summary_pending first, because after the
//	          insert (and a merge) the mirror no longer knows them.
//	refreshed recomputed from the mirror's current rows into a staging
//	          table and swapped in with ALTER TABLE ... REPLACE PARTITION.
//	checked   unique dimensions, and equal to a direct aggregate over the
//	          mirror's FINAL view; the pending rows are then marked done.
//
// A crash anywhere before "checked" leaves the pending rows, and the
// batch is not checkpointed: the restart recomputes the pending
// partitions and the partitions of the re-read batch. Recomputing a
// partition from the mirror is idempotent, so replays change nothing.
type summary struct {
	def      *summaryDef
	ready    bool
	keyCols  []change.Column // the mirror's key columns
	touched  map[string]bool
	dirty    bool // refresh: full — the source changed since the last rebuild
	lastFull time.Time
}

func (s *Sink) configureSummaries(cfgs []Summary) {
	s.byMirror = map[string][]*summary{}
	for _, c := range cfgs {
		tn, _ := conf.ParseTableName(c.From)
		mirror := TableName(&change.Schema{Namespace: tn.Schema, Table: tn.Table})
		sm := &summary{def: newSummaryDef(c, mirror), touched: map[string]bool{}}
		s.summaries = append(s.summaries, sm)
		s.byMirror[mirror] = append(s.byMirror[mirror], sm)
	}
}

// ensureSummaries makes the summaries of mirror m ready: types inferred
// from the mirror, table created (or rebuilt when its definition changed),
// pending partitions of an interrupted refresh loaded.
func (s *Sink) ensureSummaries(ctx context.Context, m *mirror) ([]*summary, error) {
	sums := s.byMirror[m.name]
	for _, sm := range sums {
		if sm.ready {
			continue
		}
		if err := s.ensureSummary(ctx, sm, m); err != nil {
			return nil, err
		}
	}
	return sums, nil
}

func (s *Sink) ensureSummary(ctx context.Context, sm *summary, m *mirror) error {
	if !s.bookkept {
		if err := s.execAll(ctx, s.tp.bookkeepingSQL(s.db)); err != nil {
			return fmt.Errorf("clickhouse: create bookkeeping table: %w", err)
		}
		s.bookkept = true
	}
	d := sm.def
	sm.keyCols = sm.keyCols[:0]
	for _, c := range m.columns {
		if c.Key {
			sm.keyCols = append(sm.keyCols, c)
		}
	}
	if !m.refresh && len(sm.keyCols) == 0 {
		return fmt.Errorf("clickhouse: summary %s: mirror %s has no key columns", d.cfg.Name, m.name)
	}
	if err := s.inferSummary(ctx, d); err != nil {
		return err
	}
	var oldHash string
	have, err := s.tableExists(ctx, d.cfg.Name)
	if err != nil {
		return fmt.Errorf("clickhouse: summary %s: %w", d.cfg.Name, err)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT `hash` FROM %s.%s FINAL WHERE `name` = ?", quote(s.db), metaTable), d.cfg.Name)
	if err != nil {
		return fmt.Errorf("clickhouse: read summary metadata: %w", err)
	}
	for rows.Next() {
		rows.Scan(&oldHash)
	}
	rows.Close()
	if have && oldHash == "" {
		// Ours if its columns carry our comments (a crash before the
		// metadata row); anyone else's table is left alone.
		var c string
		s.conn.QueryRow(ctx, "SELECT comment FROM system.columns WHERE database = ? AND table = ? LIMIT 1", s.db, d.cfg.Name).Scan(&c)
		if !strings.HasSuffix(c, "by Inlet") {
			return fmt.Errorf("clickhouse: summary %s: table %s.%s exists and is not an Inlet summary; rename the summary in clickhouse.summaries or drop that table", d.cfg.Name, s.db, d.cfg.Name)
		}
	}
	if have && oldHash == d.hash() {
		pend, err := s.pendingPartitions(ctx, d.cfg.Name)
		if err != nil {
			return err
		}
		for _, p := range pend {
			sm.touched[p] = true
		}
		if len(pend) > 0 {
			s.log.Info("summary has partitions of an interrupted refresh; recomputing them", "summary", d.cfg.Name, "partitions", len(pend))
		}
		sm.ready = true
		return nil
	}
	reason := "new summary"
	switch {
	case have && oldHash != "":
		reason = "definition changed (dimensions, measures, where, partition_by or inferred types)"
	case have:
		reason = "an earlier build did not finish"
	case oldHash != "":
		reason = "table was dropped"
	}
	s.log.Info("building summary table", "summary", d.cfg.Name, "from", d.source, "reason", reason)
	for _, n := range []string{d.cfg.Name, stagingSummary(d.cfg.Name)} {
		if err := s.execAll(ctx, s.tp.dropSQL(s.db, n, false)); err != nil {
			return fmt.Errorf("clickhouse: summary %s: drop %s: %w", d.cfg.Name, n, err)
		}
		if err := s.execAll(ctx, s.tp.summarySQL(s.db, n, d, s.version)); err != nil {
			return fmt.Errorf("clickhouse: summary %s: create table: %w", d.cfg.Name, err)
		}
	}
	sm.ready = true
	if err := s.rebuildSummary(ctx, sm); err != nil {
		sm.ready = false
		return err
	}
	return nil
}

// inferSummary asks the server the types of the summary's columns and of
// its partition key, by running its SELECT over the mirror on no rows.
func (s *Sink) inferSummary(ctx context.Context, d *summaryDef) error {
	d.partKey, d.partType = "", ""
	q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE 0 GROUP BY %s", d.selectList(), quote(s.db), quote(d.mirror), d.groupBy())
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("clickhouse: summary %s: its dimensions and measures do not run on mirror %s.%s: %w (fix clickhouse.summaries %s)", d.cfg.Name, s.db, d.mirror, err, d.cfg.Name)
	}
	types := rows.ColumnTypes()
	rows.Close()
	if len(types) != len(d.dims)+len(d.measures) {
		return fmt.Errorf("clickhouse: summary %s: the SELECT returned %d columns, want %d", d.cfg.Name, len(types), len(d.dims)+len(d.measures))
	}
	d.cols = d.cols[:0]
	for i, t := range types {
		c := sumColumn{name: t.Name(), typ: t.DatabaseTypeName()}
		if i < len(d.dims) {
			c.name, c.expr = d.dims[i].name, d.dims[i].expr
		} else {
			c.name, c.expr, c.measure = d.measures[i-len(d.dims)].name, d.measures[i-len(d.dims)].expr, true
		}
		d.cols = append(d.cols, c)
	}
	pb := strings.TrimSpace(d.cfg.PartitionBy)
	if pb == "" {
		return nil
	}
	rows, err = s.conn.Query(ctx, fmt.Sprintf("SELECT %s AS `_inlet_p` FROM (%s)", pb, q))
	if err != nil {
		return fmt.Errorf("clickhouse: summary %s: partition_by %q does not run over the summary's columns: %w", d.cfg.Name, pb, err)
	}
	pt := rows.ColumnTypes()[0].DatabaseTypeName()
	rows.Close()
	d.partKey, d.partType = pb, pt
	if inner, ok := strings.CutPrefix(pt, "Nullable("); ok {
		d.partKey, d.partType = "assumeNotNull("+pb+")", strings.TrimSuffix(inner, ")")
	}
	return nil
}

func (s *Sink) pendingPartitions(ctx context.Context, name string) ([]string, error) {
	out, err := s.distinctStrings(ctx, fmt.Sprintf("SELECT `partition` FROM %s.%s FINAL WHERE `summary` = ? AND `done` = 0", quote(s.db), pendingTable), name)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read pending summary partitions: %w", err)
	}
	return out, nil
}

// markPending records partitions of sm as owed (done 0) or paid (done 1).
func (s *Sink) markPending(ctx context.Context, sm *summary, parts []string, done uint8) error {
	if len(parts) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (`summary`, `partition`, `done`, `seq`)", quote(s.db), pendingTable))
	if err != nil {
		return fmt.Errorf("clickhouse: record pending summary partitions: %w", err)
	}
	seq := uint64(time.Now().UnixNano())
	for _, p := range parts {
		if err := b.Append(sm.def.cfg.Name, p, done, seq); err != nil {
			b.Abort()
			return err
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse: record pending summary partitions: %w", err)
	}
	return nil
}

// keysTable is the batch's keys as an external table for IN lookups.
func (s *Sink) keysTable(sm *summary, keys [][]any) (*ext.Table, error) {
	cols := make([]func(*ext.Table) error, len(sm.keyCols))
	for i, c := range sm.keyCols {
		cols[i] = ext.Column(fmt.Sprintf("k%d", i), column.Type(columnType(c, s.version)))
	}
	t, err := ext.NewTable("_inlet_keys", cols...)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := t.Append(k...); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// touchedBy returns the partitions of sm that rows with the given keys are
// in now (every version the mirror holds).
func (s *Sink) touchedBy(ctx context.Context, sm *summary, keys [][]any) ([]string, error) {
	d := sm.def
	if d.partKey == "" {
		return []string{wholeTable}, nil
	}
	t, err := s.keysTable(sm, keys)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: summary %s: keys: %w", d.cfg.Name, err)
	}
	q := fmt.Sprintf("SELECT DISTINCT toString(%s) FROM (SELECT %s FROM %s.%s WHERE (%s) %s `_inlet_keys` AND `_deleted` = 0)",
		d.partKey, d.dimSelect(), quote(s.db), quote(d.mirror), keyList(sm.keyCols), s.tp.in())
	out, err := s.distinctStrings(ch.Context(ctx, ch.WithExternalTable(t)), q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: summary %s: find touched partitions: %w", d.cfg.Name, err)
	}
	return out, nil
}

// keysIn is the condition "the row's key has a version (not deleted) in
// the partitions in", for reading only those keys of the mirror. Every
// version of a key has the same sort key, so a FINAL read restricted by
// it still sees all versions of each key it reads.
func (s *Sink) keysIn(sm *summary, in string) string {
	d := sm.def
	inner := make([]string, len(sm.keyCols))
	names := make([]string, len(sm.keyCols))
	for i, c := range sm.keyCols {
		inner[i] = fmt.Sprintf("%s AS `_inlet_k%d`", quote(c.Name), i)
		names[i] = fmt.Sprintf("`_inlet_k%d`", i)
	}
	return fmt.Sprintf("(%s) %s (SELECT %s FROM (SELECT %s, %s, `_deleted` FROM %s.%s) WHERE `_deleted` = 0 AND %s)",
		keyList(sm.keyCols), s.tp.in(), strings.Join(names, ", "), strings.Join(inner, ", "), d.dimSelect(), quote(s.db), quote(d.mirror), in)
}

// manyPartitions is where refreshing by key (read the keys with a version
// in the partitions, take each one's latest) stops paying off against one
// FINAL read of the mirror.
func manyPartitions(parts []string) bool { return len(parts) > 32 }

func keyList(cols []change.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quote(c.Name)
	}
	return strings.Join(names, ", ")
}

// beforeInsert records, for every incremental summary of m, the partitions
// the batch's keys are in before the insert, durably, and marks full
// summaries dirty. It returns a function to call after the insert.
func (s *Sink) beforeInsert(ctx context.Context, m *mirror, keys [][]any) (func(context.Context) error, error) {
	sums, err := s.ensureSummaries(ctx, m)
	if err != nil || len(sums) == 0 {
		return func(context.Context) error { return nil }, err
	}
	var incr []*summary
	for _, sm := range sums {
		if sm.def.cfg.Refresh == RefreshFull || m.refresh {
			sm.dirty = true
			continue
		}
		incr = append(incr, sm)
		before, err := s.touchedBy(ctx, sm, keys)
		if err != nil {
			return nil, err
		}
		if err := s.markPending(ctx, sm, before, 0); err != nil {
			return nil, err
		}
		for _, p := range before {
			sm.touched[p] = true
		}
	}
	return func(ctx context.Context) error {
		for _, sm := range incr {
			after, err := s.touchedBy(ctx, sm, keys)
			if err != nil {
				return err
			}
			for _, p := range after {
				sm.touched[p] = true
			}
		}
		return nil
	}, nil
}

// RefreshSummaries brings every summary up to date with the mirrors: the
// touched partitions of incremental summaries, and full summaries whose
// source changed (at most every interval). Each refresh is checked.
func (s *Sink) RefreshSummaries(ctx context.Context) error {
	var stop error
	for _, sm := range s.summaries {
		if !sm.ready {
			continue
		}
		var err error
		var parts []string
		switch {
		case len(sm.touched) > 0:
			parts = make([]string, 0, len(sm.touched))
			for p := range sm.touched {
				parts = append(parts, p)
			}
			sort.Strings(parts)
			err = s.refreshPartitions(ctx, sm, parts)
		case sm.dirty && time.Since(sm.lastFull) >= time.Duration(sm.def.cfg.Interval):
			err = s.rebuildSummary(ctx, sm)
			continue // rebuildSummary checks
		default:
			continue
		}
		if err != nil {
			return err
		}
		if err := s.checkSummary(ctx, sm, parts); err != nil {
			if !errors.Is(err, ErrSummaryCheck) {
				return err
			}
			stop = err
		}
		if err := s.markPending(ctx, sm, parts, 1); err != nil {
			return err
		}
		clear(sm.touched)
	}
	return stop
}

// refreshPartitions recomputes the given partitions of an incremental
// summary from the latest version of every key that is, or was, in them,
// and swaps each in.
func (s *Sink) refreshPartitions(ctx context.Context, sm *summary, parts []string) error {
	d := sm.def
	start := time.Now()
	in := d.partIn(parts)
	// Unpartitioned, or so many partitions that their keys are most of
	// the mirror: one FINAL read, filtered after the merge.
	from, where := s.currentView(d), d.where(false)+" AND "+in
	if sm.byKeys(parts) {
		// Keys with any version in the partitions; their latest version
		// decides whether and where they count.
		keys := keyList(sm.keyCols)
		from = fmt.Sprintf("(SELECT * FROM %s.%s WHERE %s ORDER BY %s, _version DESC LIMIT 1 BY %s)",
			quote(s.db), quote(d.mirror), s.keysIn(sm, in), keys, keys)
		where = d.where(true) + " AND " + in
	}
	if err := s.fillStaging(ctx, sm, from, where); err != nil {
		return fmt.Errorf("clickhouse: summary %s: recompute %d partitions: %w", d.cfg.Name, len(parts), err)
	}
	if err := s.swapPartitions(ctx, sm, parts); err != nil {
		return err
	}
	summaryRefreshes.WithLabelValues(d.cfg.Name, "partitions").Inc()
	summaryPartitions.WithLabelValues(d.cfg.Name).Add(float64(len(parts)))
	s.log.Debug("summary partitions refreshed", "summary", d.cfg.Name, "partitions", len(parts), "elapsed", time.Since(start))
	return s.recordRefresh(ctx, sm)
}

// byKeys reports whether partitions are recomputed (and checked) by
// reading only the keys with a version in them, rather than one FINAL read
// of the whole mirror: for some partitions (not all) of a partitioned
// summary, and not so many that their keys are most of the mirror.
func (sm *summary) byKeys(parts []string) bool {
	return parts != nil && sm.def.partKey != "" && len(sm.keyCols) > 0 && !manyPartitions(parts)
}

// currentView is the mirror's view of current rows (FINAL, not deleted).
func (s *Sink) currentView(d *summaryDef) string {
	return quote(s.db) + "." + quote(viewName(d.mirror))
}

// fillStaging empties the summary's staging table and fills it with the
// summary's rows over from, of the rows matching where.
func (s *Sink) fillStaging(ctx context.Context, sm *summary, from, where string) error {
	d := sm.def
	staging := quote(s.db) + "." + quote(stagingSummary(d.cfg.Name))
	if err := s.conn.Exec(ctx, s.tp.truncateSQL(s.db, stagingSummary(d.cfg.Name))); err != nil {
		return fmt.Errorf("clear staging: %w", err)
	}
	return s.conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) %s", staging, d.columnList(), d.aggregate(from, where)))
}

// swapPartitions replaces each partition with the staging table's, up
// to 100 in one ALTER (one round trip and lock, instead of one each). Each
// partition is swapped atomically; a failed ALTER is retried whole with
// the batch, and replacing a partition again is harmless.
func (s *Sink) swapPartitions(ctx context.Context, sm *summary, parts []string) error {
	d := sm.def
	for len(parts) > 0 {
		n := min(len(parts), 100)
		lits := make([]string, n)
		for i, p := range parts[:n] {
			lits[i] = d.partitionLiteral(p)
		}
		q := s.tp.replaceSQL(s.db, d.cfg.Name, stagingSummary(d.cfg.Name), lits)
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("clickhouse: summary %s: swap in %d partitions (%s…): %w", d.cfg.Name, n, parts[0], err)
		}
		parts = parts[n:]
	}
	return nil
}

// rebuildSummary recomputes a whole summary aside and swaps every
// partition (each atomically; an unpartitioned summary in one step).
func (s *Sink) rebuildSummary(ctx context.Context, sm *summary) error {
	d := sm.def
	staging := stagingSummary(d.cfg.Name)
	if err := s.fillStaging(ctx, sm, s.currentView(d), d.where(false)); err != nil {
		return fmt.Errorf("clickhouse: summary %s: rebuild: %w", d.cfg.Name, err)
	}
	parts := []string{wholeTable}
	if d.partKey != "" {
		var err error
		parts, err = s.distinctStrings(ctx, fmt.Sprintf("SELECT DISTINCT toString(%[1]s) FROM %[2]s.%[3]s UNION ALL SELECT DISTINCT toString(%[1]s) FROM %[2]s.%[4]s",
			quote(partColumn), quote(s.db), quote(staging), quote(d.cfg.Name)))
		if err != nil {
			return fmt.Errorf("clickhouse: summary %s: list partitions: %w", d.cfg.Name, err)
		}
	}
	if err := s.swapPartitions(ctx, sm, parts); err != nil {
		return err
	}
	sm.dirty, sm.lastFull = false, time.Now()
	summaryRefreshes.WithLabelValues(d.cfg.Name, "full").Inc()
	summaryPartitions.WithLabelValues(d.cfg.Name).Add(float64(len(parts)))
	if err := s.recordRefresh(ctx, sm); err != nil {
		return err
	}
	return s.checkSummary(ctx, sm, nil)
}

// distinctStrings runs a query of one string column and returns its
// distinct values, sorted.
func (s *Sink) distinctStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, rows.Err()
}

// recordRefresh writes the summary's metadata row: definition, hash, time.
func (s *Sink) recordRefresh(ctx context.Context, sm *summary) error {
	d := sm.def
	var n uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s", quote(s.db), quote(d.cfg.Name))).Scan(&n); err != nil {
		return fmt.Errorf("clickhouse: summary %s: %w", d.cfg.Name, err)
	}
	q := fmt.Sprintf("INSERT INTO %s.%s (`name`, `definition`, `hash`, `refreshed_at`, `rows`, `updated`)", quote(s.db), metaTable)
	b, err := s.conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("clickhouse: summary %s: record refresh: %w", d.cfg.Name, err)
	}
	if err := b.Append(d.cfg.Name, d.definition(), d.hash(), time.Now().UTC().Truncate(time.Second), n, uint64(time.Now().UnixNano())); err != nil {
		b.Abort()
		return err
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse: summary %s: record refresh: %w", d.cfg.Name, err)
	}
	return nil
}

func (d *summaryDef) columnList() string {
	names := make([]string, 0, len(d.cols)+1)
	for _, c := range d.cols {
		names = append(names, quote(c.name))
	}
	if d.partKey != "" {
		names = append(names, quote(partColumn))
	}
	return strings.Join(names, ", ")
}
