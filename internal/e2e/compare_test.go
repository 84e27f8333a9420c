package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "github.com/marcboeker/go-duckdb"
	"github.com/shopspring/decimal"
)

// col says how to read one column from each system and compare it.
type col struct {
	name string
	kind string // int num f4 f8 text bool date ts tstz uuid json bytea arr
	lake bool   // compared in the lake's latest image too
}

type tableSpec struct {
	pg, ch, lake string
	cols         []col
}

var specs = []tableSpec{
	{pg: "public.all_types", ch: "all_types", lake: "public.all_types", cols: []col{
		{"id", "int", true}, {"i2", "int", true}, {"i4", "int", true}, {"i8", "int", true},
		{"num", "num", true}, {"num_free", "num", true}, {"r", "f4", true}, {"d", "f8", true},
		{"t", "text", true}, {"vc", "text", true}, {"c", "text", true}, {"b", "bool", true},
		{"dt", "date", true}, {"ts", "ts", true}, {"tstz", "tstz", true}, {"u", "uuid", true},
		{"j", "cast", true}, {"jb", "cast", true}, {"by", "bytea", true}, {"m", "cast", true},
		{"ai", "arr", true}, {"at", "arr", true},
	}},
	{pg: "sales.customers", ch: "sales_customers", lake: "sales.customers", cols: []col{
		{"id", "int", true}, {"name", "text", true}, {"country", "text", true}, {"score", "num", true}, {"updated", "tstz", true},
	}},
	{pg: "public.docs", ch: "docs", lake: "public.docs", cols: []col{
		// body is TOAST-unchanged in many lake rows (NULL there by design).
		{"id", "int", true}, {"title", "text", true}, {"body", "text", false}, {"views", "int", true},
	}},
}

func pgExpr(c col) string {
	switch c.kind {
	case "num", "uuid", "cast":
		return fmt.Sprintf("%q::text", c.name)
	case "arr":
		return fmt.Sprintf("to_json(%q)::text", c.name)
	}
	return fmt.Sprintf("%q", c.name)
}

// norm renders any value from Postgres, ClickHouse or DuckDB in one form.
func norm(kind string, v any, secondsOnly bool) string {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return "NULL"
	}
	v = rv.Interface()
	switch kind {
	case "int":
		return fmt.Sprint(v)
	case "num":
		switch x := v.(type) {
		case decimal.Decimal:
			return x.String()
		case string:
			d, err := decimal.NewFromString(x)
			if err != nil {
				return "bad:" + x
			}
			return d.String()
		}
	case "f4":
		switch x := v.(type) {
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
	case "f8":
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case "bool":
		switch x := v.(type) {
		case bool:
			return strconv.FormatBool(x)
		case uint8:
			return strconv.FormatBool(x == 1)
		}
	case "date":
		return v.(time.Time).Format("2006-01-02")
	case "ts", "tstz":
		t := v.(time.Time).UTC()
		if secondsOnly {
			return t.Truncate(time.Second).Format("2006-01-02 15:04:05")
		}
		return t.Format("2006-01-02 15:04:05.000000")
	case "uuid":
		switch x := v.(type) {
		case uuid.UUID:
			return x.String()
		case [16]byte:
			return uuid.UUID(x).String()
		}
		return fmt.Sprint(v)
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return hex.EncodeToString(x)
		case string:
			return hex.EncodeToString([]byte(x))
		}
	case "text", "cast":
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		return fmt.Sprint(v)
	case "arr":
		if s, ok := v.(string); ok { // Postgres to_json
			return s
		}
		items := make([]any, rv.Len())
		for i := range items {
			iv := reflect.ValueOf(rv.Index(i).Interface())
			for iv.IsValid() && iv.Kind() == reflect.Pointer {
				if iv.IsNil() {
					iv = reflect.Value{}
					break
				}
				iv = iv.Elem()
			}
			if iv.IsValid() {
				items[i] = iv.Interface()
			}
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(items)
		return strings.TrimSpace(b.String())
	}
	return fmt.Sprintf("?%T:%v", v, v)
}

type rowSet [][]string

func pgRows(t *testing.T, conn *pgx.Conn, s tableSpec, onlyLake bool, secondsOnly bool) rowSet {
	t.Helper()
	var exprs []string
	var cols []col
	for _, c := range s.cols {
		if onlyLake && !c.lake {
			continue
		}
		exprs = append(exprs, pgExpr(c))
		cols = append(cols, c)
	}
	rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT %s FROM %s ORDER BY id", strings.Join(exprs, ", "), s.pg))
	if err != nil {
		t.Fatalf("query postgres %s: %v", s.pg, err)
	}
	defer rows.Close()
	var out rowSet
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = norm(cols[i].kind, v, secondsOnly)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func chRows(ctx context.Context, conn driver.Conn, s tableSpec, secondsOnly bool) (rowSet, error) {
	names := make([]string, len(s.cols))
	for i, c := range s.cols {
		names[i] = "`" + c.name + "`"
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM shop.%s_current ORDER BY id", strings.Join(names, ", "), s.ch))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out rowSet
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r := make([]string, len(dest))
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem().Interface()
			r[i] = norm(s.cols[i].kind, v, secondsOnly)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// lakeFiles reads a Delta table's log with plain JSON decoding (not Inlet's
// lake package) and returns the data files it lists, and its row count.
func lakeFiles(t *testing.T, tableDir string) ([]string, int) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(tableDir, "_delta_log"))
	if err != nil {
		return nil, 0
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	files := map[string]int{} // live file → its rows
	for i, n := range names {
		if n != fmt.Sprintf("%020d.json", i) {
			t.Fatalf("%s: log version gap at %s", tableDir, n)
		}
		data, err := os.ReadFile(filepath.Join(tableDir, "_delta_log", n))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var a struct {
				Add *struct {
					Path  string `json:"path"`
					Stats string `json:"stats"`
				} `json:"add"`
				Remove *struct {
					Path string `json:"path"`
				} `json:"remove"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("%s/%s: %v", tableDir, n, err)
			}
			if a.Add != nil {
				var st struct {
					NumRecords int `json:"numRecords"`
				}
				json.Unmarshal([]byte(a.Add.Stats), &st)
				files[a.Add.Path] = st.NumRecords
			}
			if a.Remove != nil {
				delete(files, a.Remove.Path)
			}
		}
	}
	var out []string
	rows := 0
	for f, n := range files {
		out = append(out, filepath.Join(tableDir, f))
		rows += n
	}
	sort.Strings(out)
	return out, rows
}

func duck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func parquetList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	return "read_parquet([" + strings.Join(q, ", ") + "])"
}

// lakeCheck verifies, through DuckDB, that a lake table holds exactly
// `want` changes (any number when want < 0), no duplicate (id, _version),
// and that its latest image per key equals Postgres on the lake-compared
// columns.
func lakeCheck(t *testing.T, db *sql.DB, lakeRoot string, s tableSpec, want int, pg rowSet) {
	t.Helper()
	files, _ := lakeFiles(t, filepath.Join(lakeRoot, s.lake))
	if len(files) == 0 {
		t.Fatalf("lake table %s has no files", s.lake)
	}
	src := parquetList(files)
	var n, dups int
	if err := db.QueryRow("SELECT count(*) FROM " + src).Scan(&n); err != nil {
		t.Fatalf("duckdb count %s: %v", s.lake, err)
	}
	if want >= 0 && n != want {
		t.Errorf("lake %s: %d change rows, want %d (one per committed change)", s.lake, n, want)
	}
	if err := db.QueryRow("SELECT count(*) FROM (SELECT id, _version FROM " + src + " WHERE _op <> 't' GROUP BY 1, 2 HAVING count(*) > 1)").Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 0 {
		t.Errorf("lake %s: %d duplicate (id, _version) pairs", s.lake, dups)
	}
	var names []string
	var cols []col
	for _, c := range s.cols {
		if !c.lake {
			continue
		}
		expr := fmt.Sprintf("%q", c.name)
		if c.kind == "num" {
			expr = fmt.Sprintf("CAST(%q AS VARCHAR)", c.name)
		}
		names = append(names, expr)
		cols = append(cols, c)
	}
	// The latest image: per key the latest change, unless a delete, and
	// only after the latest truncate marker.
	q := fmt.Sprintf(`SELECT %s FROM (SELECT *, row_number() OVER (PARTITION BY id ORDER BY _version DESC, _kafka_offset DESC) AS rn FROM %s WHERE _op <> 't')
		WHERE rn = 1 AND _op <> 'd' AND _version > (SELECT coalesce(max(_version), 0) FROM %s WHERE _op = 't') ORDER BY id`, strings.Join(names, ", "), src, src)
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("duckdb latest image %s: %v", s.lake, err)
	}
	defer rows.Close()
	var got rowSet
	for rows.Next() {
		dest := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range dest {
			ptrs[i] = &dest[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(cols))
		for i, v := range dest {
			if b, ok := v.(*big.Int); ok {
				v = b.String()
			}
			r[i] = norm(cols[i].kind, v, false)
		}
		got = append(got, r)
	}
	if d := diffRows(pg, got); d != "" {
		t.Errorf("lake %s latest image differs from postgres (-postgres +lake):\n%s", s.lake, d)
	}
}

func diffRows(want, got rowSet) string {
	if len(want) != len(got) {
		return fmt.Sprintf("row count: postgres %d, other %d\n%s", len(want), len(got), firstDiff(want, got))
	}
	return firstDiff(want, got)
}

func firstDiff(want, got rowSet) string {
	var out []string
	for i := 0; i < len(want) && i < len(got) && len(out) < 5; i++ {
		if d := cmp.Diff(want[i], got[i]); d != "" {
			out = append(out, d)
		}
	}
	return strings.Join(out, "\n")
}
