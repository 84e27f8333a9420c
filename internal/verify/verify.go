// Package verify reconciles a pipeline's sinks with its Postgres sources,
// online: it compares every captured table's rows in Postgres with the
// ClickHouse `_current` view and with the lake's latest image per key, and
// names the drift by key.
//
// A comparison has two passes. Pass 1 reads each system once, in bounded
// memory for Postgres and ClickHouse: every row becomes a key hash and a
// row hash (primary key and every compared column, rendered under the
// type rules of norm), summed into 1024 buckets by key hash. Postgres is
// read in primary-key ranges (keyset chunks), never in one long query. The
// lake needs the latest change of each key, so it keeps 32 bytes a key.
// Equal bucket sums and counts: the table is consistent, done.
//
// Buckets that differ may only hold changes in flight: the pipeline runs
// on. Pass 2 reads the rows of those buckets only, in this order: Postgres;
// then a position in the WAL (a heartbeat message, as the source writes
// one); then it waits until the pipeline has passed that position (the
// replication slot has confirmed it, so Kafka holds every earlier change,
// and the sinks' checkpoints have stopped moving); then ClickHouse and the
// lake; then Postgres again. A key whose Postgres row changed between the
// two Postgres reads is in flight and checked again (3 rounds at most); a
// key whose Postgres row did not change, and which a sink still shows
// differently after the sinks passed the position, is drift.
package verify

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// Options tune a verification.
type Options struct {
	// Tables to compare (schema.table); empty: every cdc Postgres table.
	Tables []string
	// Examples is how many example keys to report per kind of drift.
	Examples int
	// Chunk is how many rows one Postgres key-range query reads.
	Chunk int
	// Wait bounds how long pass 2 waits for the pipeline to pass the
	// compare position.
	Wait time.Duration
	// Settle is how long the sinks' checkpoints must stay still, after
	// the slot confirmed the position, to count as caught up.
	Settle time.Duration
	// Store is the pipeline's checkpoint store (nil: settle by time only).
	Store checkpoint.Store
	// Lake is the pipeline's lake (nil: the lake is not compared).
	Lake *lake.Lake
	Log  *slog.Logger
}

// Drift kinds.
const (
	Missing   = "missing"   // in Postgres, not in the sink
	Extra     = "extra"     // in the sink, not in Postgres
	Different = "different" // in both, with different values
)

// Drift is one kind of difference between Postgres and one sink.
type Drift struct {
	Sink     string   `json:"sink"` // clickhouse or lake
	Kind     string   `json:"kind"`
	Rows     int      `json:"rows"`
	Examples []string `json:"examples"`          // keys
	Columns  []string `json:"columns,omitempty"` // different: columns that differ in the examples
}

// TableReport is the outcome for one table.
type TableReport struct {
	Table      string `json:"table"`
	Postgres   int64  `json:"postgres_rows"`
	ClickHouse int64  `json:"clickhouse_rows"` // -1: not compared
	Lake       int64  `json:"lake_rows"`       // -1: not compared
	// Drift lists confirmed differences.
	Drift []Drift `json:"drift,omitempty"`
	// Unconfirmed: the pipeline did not pass the compare position within
	// Options.Wait, so the drift may be changes still in flight.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// InFlight counts keys that kept changing in Postgres while compared.
	InFlight int `json:"in_flight,omitempty"`
	// Problems found on the way (a lake file gone, a column a sink lacks).
	Problems []string `json:"problems,omitempty"`
	// LakeUnchanged are columns the lake stores as TOAST-unchanged in
	// some change; they are compared between Postgres and ClickHouse only.
	LakeUnchanged []string `json:"lake_unchanged_columns,omitempty"`
	// Skipped says why the table was not compared.
	Skipped string        `json:"skipped,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Seconds is the time each step took: postgres, clickhouse, lake
	// (pass 1) and detail (pass 2, with its wait).
	Seconds map[string]float64 `json:"seconds,omitempty"`
}

// Report is the outcome of a verification.
type Report struct {
	Pipeline string        `json:"pipeline"`
	Tables   []TableReport `json:"tables"`
}

// Drifted reports whether any table differs.
func (r *Report) Drifted() bool {
	for _, t := range r.Tables {
		if len(t.Drift) > 0 || len(t.Problems) > 0 {
			return true
		}
	}
	return false
}

const buckets = 1024

// Run verifies the pipeline c.
func Run(ctx context.Context, c *config.Config, o Options) (*Report, error) {
	if o.Examples <= 0 {
		o.Examples = 5
	}
	if o.Chunk <= 0 {
		o.Chunk = 50_000
	}
	if o.Wait <= 0 {
		o.Wait = 2 * time.Minute
	}
	if o.Settle <= 0 {
		o.Settle = 2*time.Duration(c.Engine.BatchWait) + time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	want := map[string]bool{}
	for _, t := range o.Tables {
		tn, err := conf.ParseTableName(t)
		if err != nil {
			return nil, fmt.Errorf("--table: %w", err)
		}
		want[tn.String()] = true
	}
	v := &verifier{c: c, o: o}
	if c.ClickHouse != nil {
		// The sink's own connection: the same address, credentials and
		// TLS as the pipeline's.
		sink, err := clickhouse.Open(ctx, c.ClickHouse, o.Log)
		if err != nil {
			return nil, err
		}
		defer sink.Close()
		v.ch = sink.Conn()
		v.chOld = !sink.ServerVersion().AtLeast(20, 1) // no DateTime64: whole seconds
	}
	rep := &Report{Pipeline: c.Pipeline}
	found := map[string]bool{}
	for _, s := range c.Sources {
		if s.Postgres == nil {
			continue
		}
		var conn *pgx.Conn
		for _, t := range s.Postgres.Tables {
			tn := t.TableName()
			if len(want) > 0 && !want[tn.String()] {
				continue
			}
			found[tn.String()] = true
			if t.Mode != conf.ModeCDC {
				rep.Tables = append(rep.Tables, TableReport{Table: tn.String(), ClickHouse: -1, Lake: -1, Skipped: "mode " + t.Mode + " is not verified (only cdc tables)"})
				continue
			}
			if conn == nil {
				var err error
				if conn, err = pgx.Connect(ctx, s.Postgres.DSN); err != nil {
					return nil, fmt.Errorf("source %s: connect: %s", s.Name, c.Redact(err.Error()))
				}
				defer conn.Close(context.Background())
			}
			start := time.Now()
			tr, err := v.table(ctx, conn, s.Postgres.Slot, tn)
			if err != nil {
				return nil, err
			}
			tr.Elapsed = time.Since(start)
			rep.Tables = append(rep.Tables, tr)
		}
	}
	for t := range want {
		if !found[t] {
			return nil, fmt.Errorf("--table %s: not captured by any Postgres source of %s", t, c.File())
		}
	}
	return rep, nil
}

type verifier struct {
	c     *config.Config
	o     Options
	ch    driver.Conn
	chOld bool
}

// sums is pass 1 of one system: per bucket, the row count and the sum of
// row hashes.
type sums struct {
	n [buckets]int64
	h [buckets]uint64
}

func (s *sums) add(kh, rh uint64) {
	b := kh % buckets
	s.n[b]++
	s.h[b] += rh
}

func (s *sums) total() int64 {
	var t int64
	for _, n := range s.n {
		t += n
	}
	return t
}

// differ returns the buckets where a and b differ.
func differ(a, b *sums, into map[uint64]bool) {
	for i := range a.n {
		if a.n[i] != b.n[i] || a.h[i] != b.h[i] {
			into[uint64(i)] = true
		}
	}
}

func (v *verifier) table(ctx context.Context, conn *pgx.Conn, slot string, tn conf.TableName) (TableReport, error) {
	tr := TableReport{Table: tn.String(), ClickHouse: -1, Lake: -1, Seconds: map[string]float64{}}
	step := time.Now()
	took := func(name string) {
		tr.Seconds[name] = time.Since(step).Seconds()
		step = time.Now()
	}
	t, err := loadTable(ctx, conn, tn)
	if err != nil {
		return tr, err
	}
	if len(t.keys) == 0 {
		tr.Skipped = "no primary key"
		return tr, nil
	}
	chT := target{secondsOnly: v.chOld, nullArrayIs: true}
	lkT := target{}
	mirror := mirrorName(tn)
	if v.ch != nil {
		have, err := chColumns(ctx, v.ch, v.c.ClickHouse.Database, mirror+"_current")
		if err != nil {
			return tr, err
		}
		if len(have) == 0 {
			tr.Problems = append(tr.Problems, fmt.Sprintf("clickhouse view %s.%s_current does not exist", v.c.ClickHouse.Database, mirror))
		} else {
			for i, c := range t.cols {
				if have[c.name] {
					t.chCols = append(t.chCols, i)
				} else {
					tr.Problems = append(tr.Problems, fmt.Sprintf("clickhouse view %s.%s_current has no column %s", v.c.ClickHouse.Database, mirror, c.name))
				}
			}
		}
	}
	var ls *lakeScan
	var lkSums *sums
	if v.o.Lake != nil {
		tbl, err := v.o.Lake.Table(tn.String())
		if err != nil {
			return tr, err
		}
		ls = &lakeScan{t: t, tbl: tbl, lkT: lkT, unchanged: map[string]bool{}}
		inLake := map[string]bool{}
		for _, c := range tbl.Schema().Columns {
			inLake[c.Name] = true
		}
		setLakeCols := func() {
			t.lkCols = nil
			for i, c := range t.cols {
				if inLake[c.name] && !ls.unchanged[c.name] {
					t.lkCols = append(t.lkCols, i)
				}
			}
		}
		setLakeCols()
		if len(inLake) == 0 {
			tr.Problems = append(tr.Problems, fmt.Sprintf("lake table %s has no commits", tn))
		}
		var latest map[uint64]lakeSum
		for {
			before := len(ls.unchanged)
			latest = ls.sums()
			if len(ls.unchanged) == before {
				break
			}
			setLakeCols() // a column is TOAST-unchanged somewhere: leave it out and read again
		}
		lkSums = &sums{}
		for kh, img := range latest {
			if !img.deleted {
				lkSums.add(kh, img.row)
			}
		}
		tr.Lake = lkSums.total()
		took("lake")
		for c := range ls.unchanged {
			tr.LakeUnchanged = append(tr.LakeUnchanged, c)
		}
		sort.Strings(tr.LakeUnchanged)
	}
	pgCH, pgLk := &sums{}, &sums{}
	err = scanPostgres(ctx, conn, t, v.o.Chunk, chT, lkT, func(r pgRow) {
		kh := hashKey(r.key)
		pgCH.add(kh, hashRow(r.key, r.ch))
		pgLk.add(kh, hashRow(r.key, r.lake))
	})
	if err != nil {
		return tr, err
	}
	tr.Postgres = pgCH.total()
	took("postgres")
	var chSums *sums
	if v.ch != nil && len(t.chCols) > 0 {
		chSums = &sums{}
		err := scanClickHouse(ctx, v.ch, v.c.ClickHouse.Database, mirror+"_current", t, chT, func(key string, vals []string) {
			chSums.add(hashKey(key), hashRow(key, vals))
		})
		if err != nil {
			return tr, err
		}
		tr.ClickHouse = chSums.total()
		took("clickhouse")
	}
	dirty := map[uint64]bool{}
	if chSums != nil {
		differ(pgCH, chSums, dirty)
	}
	if lkSums != nil {
		differ(pgLk, lkSums, dirty)
	}
	if len(dirty) == 0 {
		return tr, nil
	}
	v.o.Log.Info("verify: buckets differ; comparing their rows after the pipeline passes the current position", "table", tn.String(), "buckets", len(dirty))
	inBuckets := func(key string) bool { return dirty[hashKey(key)%buckets] }
	step = time.Now()
	tr, err = v.detail(ctx, conn, slot, t, ls, mirror, chT, lkT, inBuckets, tr)
	took("detail")
	return tr, err
}

// detail is pass 2: it compares the rows filter selects, key by key, after
// the pipeline has passed a position taken after reading Postgres.
func (v *verifier) detail(ctx context.Context, conn *pgx.Conn, slot string, t *tableInfo, ls *lakeScan, mirror string,
	chT, lkT target, filter func(string) bool, tr TableReport) (TableReport, error) {
	readPG := func(filter func(string) bool) (map[string]pgRow, error) {
		out := map[string]pgRow{}
		err := scanPostgres(ctx, conn, t, v.o.Chunk, chT, lkT, func(r pgRow) {
			if filter(r.key) {
				out[r.key] = r
			}
		})
		return out, err
	}
	var chDrift, lkDrift diff
	for round := 1; ; round++ {
		pg1, err := readPG(filter)
		if err != nil {
			return tr, err
		}
		lsn, err := position(ctx, conn)
		if err != nil {
			return tr, err
		}
		var lkRows map[string]*lakeImage
		var readLake func() uint64
		if ls != nil {
			readLake = func() uint64 {
				if err := ls.tbl.Follow(); err != nil {
					ls.problems = append(ls.problems, err.Error())
				}
				lkRows = ls.detail(filter)
				return ls.maxVersion
			}
		}
		passed, err := v.waitPast(ctx, conn, slot, t, lsn, readLake)
		if err != nil {
			return tr, err
		}
		tr.Unconfirmed = !passed
		if ls != nil && round == 1 {
			tr.Problems = append(tr.Problems, ls.problems...)
		}
		var chRows map[string][]string
		if v.ch != nil && len(t.chCols) > 0 {
			chRows = map[string][]string{}
			err := scanClickHouse(ctx, v.ch, v.c.ClickHouse.Database, mirror+"_current", t, chT, func(key string, vals []string) {
				if filter(key) {
					chRows[key] = vals
				}
			})
			if err != nil {
				return tr, err
			}
		}
		pg2, err := readPG(filter)
		if err != nil {
			return tr, err
		}
		moving := map[string]bool{}
		for k, r := range pg1 {
			if r2, ok := pg2[k]; !ok || !equal(r.ch, r2.ch) || !equal(r.lake, r2.lake) {
				moving[k] = true
			}
		}
		for k := range pg2 {
			if _, ok := pg1[k]; !ok {
				moving[k] = true
			}
		}
		chRound, lkRound := diff{}, diff{}
		if chRows != nil {
			for k, r := range pg2 {
				if moving[k] {
					continue
				}
				if got, ok := chRows[k]; !ok {
					chRound.add(Missing, k, nil)
				} else if !equal(r.ch, got) {
					chRound.add(Different, k, changedCols(t, t.chCols, r.ch, got))
				}
			}
			for k := range chRows {
				if _, ok := pg2[k]; !ok && !moving[k] {
					chRound.add(Extra, k, nil)
				}
			}
		}
		if lkRows != nil {
			for k, r := range pg2 {
				if moving[k] {
					continue
				}
				if img, ok := lkRows[k]; !ok || img.deleted {
					lkRound.add(Missing, k, nil)
				} else if !equal(r.lake, img.vals) {
					lkRound.add(Different, k, changedCols(t, t.lkCols, r.lake, img.vals))
				}
			}
			for k, img := range lkRows {
				if _, ok := pg2[k]; !ok && !moving[k] && !img.deleted {
					lkRound.add(Extra, k, nil)
				}
			}
		}
		chDrift.merge(chRound)
		lkDrift.merge(lkRound)
		if len(moving) == 0 || round == 3 {
			tr.InFlight = len(moving)
			break
		}
		v.o.Log.Info("verify: rows changed while compared; checking them again", "table", t.name.String(), "rows", len(moving), "round", round)
		filter = func(k string) bool { return moving[k] }
	}
	tr.Drift = append(chDrift.drifts("clickhouse", v.o.Examples), lkDrift.drifts("lake", v.o.Examples)...)
	return tr, nil
}

// diff accumulates the keys of each drift kind for one sink.
type diff map[string]*kindKeys

type kindKeys struct {
	keys []string
	cols map[string]bool
}

func (d *diff) add(kind, key string, cols []string) {
	if *d == nil {
		*d = diff{}
	}
	k := (*d)[kind]
	if k == nil {
		k = &kindKeys{cols: map[string]bool{}}
		(*d)[kind] = k
	}
	k.keys = append(k.keys, key)
	for _, c := range cols {
		k.cols[c] = true
	}
}

func (d *diff) merge(o diff) {
	for kind, k := range o {
		for _, key := range k.keys {
			d.add(kind, key, nil)
		}
		for c := range k.cols {
			(*d)[kind].cols[c] = true
		}
	}
}

func (d diff) drifts(sink string, examples int) []Drift {
	var out []Drift
	for _, kind := range []string{Missing, Extra, Different} {
		k := d[kind]
		if k == nil || len(k.keys) == 0 {
			continue
		}
		sort.Strings(k.keys)
		dr := Drift{Sink: sink, Kind: kind, Rows: len(k.keys), Examples: k.keys[:min(examples, len(k.keys))]}
		for c := range k.cols {
			dr.Columns = append(dr.Columns, c)
		}
		sort.Strings(dr.Columns)
		out = append(out, dr)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func changedCols(t *tableInfo, idx []int, want, got []string) []string {
	var out []string
	for j, i := range idx {
		if j < len(got) && want[j] != got[j] {
			out = append(out, t.cols[i].name)
		}
	}
	return out
}

// mirrorName is the ClickHouse mirror of a source table, as the sink
// names it.
func mirrorName(tn conf.TableName) string {
	if tn.Schema == "public" {
		return tn.Table
	}
	return tn.Schema + "_" + tn.Table
}
