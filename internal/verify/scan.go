package verify

import (
	"context"
	"fmt"
	"hash/maphash"
	"reflect"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/lake"
)

// column is one Postgres column and how it is compared.
type column struct {
	name string
	kind string
	key  bool
}

// tableInfo is a table as verify compares it.
type tableInfo struct {
	name   conf.TableName
	cols   []column
	keys   []int // indexes into cols, in primary-key order
	chCols []int // columns the ClickHouse view has
	lkCols []int // columns compared in the lake
}

// loadTable reads a table's columns and primary key from the catalog.
func loadTable(ctx context.Context, conn *pgx.Conn, tn conf.TableName) (*tableInfo, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname, t.typname, t.typcategory::text,
		COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0)::int
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, tn.Quoted())
	if err != nil {
		return nil, fmt.Errorf("postgres: columns of %s: %w", tn, err)
	}
	defer rows.Close()
	info := &tableInfo{name: tn}
	keyPos := map[int]int{}
	for rows.Next() {
		var name, typ, cat string
		var pk int
		if err := rows.Scan(&name, &typ, &cat, &pk); err != nil {
			return nil, err
		}
		info.cols = append(info.cols, column{name: name, kind: kindOf(typ, cat), key: pk > 0})
		if pk > 0 {
			keyPos[pk] = len(info.cols) - 1
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for p := 1; p <= len(keyPos); p++ {
		info.keys = append(info.keys, keyPos[p])
	}
	return info, nil
}

// keyOf renders a row's key (values by column index) as text: the key
// shown in reports and matched across systems.
func (t *tableInfo) keyOf(val func(i int) string) string {
	parts := make([]string, len(t.keys))
	for j, i := range t.keys {
		parts[j] = val(i)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

var seed = maphash.MakeSeed()

func hashKey(key string) uint64 { return maphash.String(seed, key) }

func hashRow(key string, vals []string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(key)
	for _, v := range vals {
		h.WriteByte(0x1f)
		h.WriteString(v)
	}
	return h.Sum64()
}

// pgRow is one Postgres row rendered for each sink.
type pgRow struct {
	key      string
	ch, lake []string
}

// scanPostgres reads the table in primary-key order, chunk rows at a time
// (keyset pagination: each chunk is its own short query, so no snapshot or
// result is held across the table), and calls fn with each row.
func scanPostgres(ctx context.Context, conn *pgx.Conn, t *tableInfo, chunk int, chT, lkT target, fn func(pgRow)) error {
	exprs := make([]string, 0, len(t.cols)+len(t.keys))
	for _, c := range t.cols {
		exprs = append(exprs, pgExpr(c.name, c.kind))
	}
	keyNames := make([]string, len(t.keys))
	params := make([]string, len(t.keys))
	for j, i := range t.keys {
		keyNames[j] = conf.QuoteIdent(t.cols[i].name)
		params[j] = fmt.Sprintf("$%d", j+1)
		exprs = append(exprs, keyNames[j])
	}
	base := fmt.Sprintf("SELECT %s FROM %s", strings.Join(exprs, ", "), t.name.Quoted())
	order := fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(keyNames, ", "), chunk)
	next := fmt.Sprintf(" WHERE (%s) > (%s)", strings.Join(keyNames, ", "), strings.Join(params, ", "))
	var last []any
	n := len(t.cols)
	for {
		q := base + order
		if last != nil {
			q = base + next + order
		}
		rows, err := conn.Query(ctx, q, last...)
		if err != nil {
			return fmt.Errorf("postgres: read %s: %w", t.name, err)
		}
		got := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return fmt.Errorf("postgres: read %s: %w", t.name, err)
			}
			got++
			last = vals[n:]
			r := pgRow{key: t.keyOf(func(i int) string { return norm(t.cols[i].kind, vals[i], target{}) })}
			r.ch = make([]string, len(t.chCols))
			for j, i := range t.chCols {
				r.ch[j] = norm(t.cols[i].kind, vals[i], chT)
			}
			r.lake = make([]string, len(t.lkCols))
			for j, i := range t.lkCols {
				r.lake[j] = norm(t.cols[i].kind, vals[i], lkT)
			}
			fn(r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: read %s: %w", t.name, err)
		}
		if got < chunk {
			return nil
		}
	}
}

// scanClickHouse streams the rows of the table's _current view.
func scanClickHouse(ctx context.Context, conn driver.Conn, db, view string, t *tableInfo, chT target, fn func(key string, vals []string)) error {
	names := make([]string, len(t.chCols))
	for j, i := range t.chCols {
		names[j] = chQuote(t.cols[i].name)
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(names, ", "), chQuote(db), chQuote(view)))
	if err != nil {
		return fmt.Errorf("clickhouse: read %s.%s: %w", db, view, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, ct := range types {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	at := map[int]int{} // column index → position in the select
	for j, i := range t.chCols {
		at[i] = j
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("clickhouse: read %s.%s: %w", db, view, err)
		}
		vals := make([]string, len(dest))
		for j, d := range dest {
			vals[j] = norm(t.cols[t.chCols[j]].kind, reflect.ValueOf(d).Elem().Interface(), chT)
		}
		key := t.keyOf(func(i int) string {
			// Keys are rendered with the lake's (full precision) rules.
			return norm(t.cols[i].kind, reflect.ValueOf(dest[at[i]]).Elem().Interface(), target{})
		})
		fn(key, vals)
	}
	return rows.Err()
}

// chColumns lists the columns of a ClickHouse table or view.
func chColumns(ctx context.Context, conn driver.Conn, db, table string) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: columns of %s.%s: %w", db, table, err)
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

func chQuote(id string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(id, `\`, `\\`), "`", "\\`") + "`"
}

// lakeImage is the latest change of one key in the lake.
type lakeImage struct {
	version uint64
	offset  int64
	deleted bool
	vals    []string
}

// lakeSum is the latest change of one key, by key hash, in pass 1: 32
// bytes a key, whatever the row's width.
type lakeSum struct {
	version uint64
	offset  int64
	row     uint64 // hashRow; 0 for a delete
	deleted bool
}

func newer(v1 uint64, o1 int64, v2 uint64, o2 int64) bool {
	return v1 > v2 || (v1 == v2 && o1 > o2)
}

// lakeScan reads every file the table's log lists, file by file, keeping
// the latest change per key. A file that cannot be read (removed behind
// Inlet's back) is reported in problems and skipped, so the comparison
// names the keys it held. unchanged collects the columns some change
// stores as TOAST-unchanged (their value is in an older change).
type lakeScan struct {
	t         *tableInfo
	tbl       *lake.Table
	lkT       target
	problems  []string
	unchanged map[string]bool
	// maxVersion is the highest _version the last scan read.
	maxVersion uint64
}

// each calls fn for every change row with its key and rendered values.
func (s *lakeScan) each(fn func(key string, r *change.Row, vals func() []string)) {
	sc := s.tbl.Schema()
	pos := map[string]int{}
	for i, c := range sc.Columns {
		pos[c.Name] = i
	}
	src := make([]int, len(s.t.cols)) // PG column → lake value index (-1: absent)
	for i, c := range s.t.cols {
		src[i] = -1
		if p, ok := pos[c.name]; ok {
			src[i] = p
		}
	}
	s.problems, s.maxVersion = nil, 0
	for _, f := range s.tbl.Files() {
		rows, err := s.tbl.ReadFile(f)
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("lake file %s is listed in the log but cannot be read (%v): the changes it held are missing", f, err))
			continue
		}
		for ri := range rows {
			r := &rows[ri]
			s.maxVersion = max(s.maxVersion, r.Version)
			val := func(i int) any {
				if src[i] < 0 {
					return nil
				}
				return r.Values[src[i]]
			}
			key := s.t.keyOf(func(i int) string { return norm(s.t.cols[i].kind, val(i), target{}) })
			fn(key, r, func() []string {
				vals := make([]string, len(s.t.lkCols))
				for j, i := range s.t.lkCols {
					v := val(i)
					if _, ok := v.(change.Unchanged); ok {
						s.unchanged[s.t.cols[i].name] = true
						v = nil
					}
					vals[j] = norm(s.t.cols[i].kind, v, s.lkT)
				}
				return vals
			})
		}
	}
}

// sums computes pass 1: the latest image of every key, hashed.
func (s *lakeScan) sums() map[uint64]lakeSum {
	latest := map[uint64]lakeSum{}
	s.each(func(key string, r *change.Row, vals func() []string) {
		kh := hashKey(key)
		if cur, ok := latest[kh]; ok && !newer(r.Version, r.Offset, cur.version, cur.offset) {
			return
		}
		img := lakeSum{version: r.Version, offset: r.Offset, deleted: r.Op == change.OpDelete}
		if !img.deleted {
			img.row = hashRow(key, vals())
		}
		latest[kh] = img
	})
	return latest
}

// detail returns the latest image of the keys filter selects.
func (s *lakeScan) detail(filter func(key string) bool) map[string]*lakeImage {
	latest := map[string]*lakeImage{}
	s.each(func(key string, r *change.Row, vals func() []string) {
		if !filter(key) {
			return
		}
		if cur, ok := latest[key]; ok && !newer(r.Version, r.Offset, cur.version, cur.offset) {
			return
		}
		img := &lakeImage{version: r.Version, offset: r.Offset, deleted: r.Op == change.OpDelete}
		if !img.deleted {
			img.vals = vals()
		}
		latest[key] = img
	})
	return latest
}
