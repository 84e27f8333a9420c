package lake

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "github.com/marcboeker/go-duckdb"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// The independent readers below read a table without the lake package:
// DuckDB (the checkpoint with read_parquet, the later commits with
// read_ndjson, the live set in SQL) and chDB (ClickHouse's deltaLakeLocal,
// which is delta-kernel-rs). Both return rows as expectedRow renders them,
// sorted by (partition, offset).

const readerCols = `CAST(_kafka_partition AS VARCHAR), CAST(_kafka_offset AS VARCHAR), CAST(id AS VARCHAR), name,
	CAST(CAST(amount * 4 AS BIGINT) AS VARCHAR), _op, CAST(_version AS VARCHAR), CAST(dt AS VARCHAR)`

func duckRows(t *testing.T, dir string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := filepath.Join(dir, "_delta_log")
	c := int64(-1)
	if b, err := os.ReadFile(filepath.Join(log, "_last_checkpoint")); err == nil {
		var lc struct{ Version int64 }
		if err := json.Unmarshal(b, &lc); err != nil {
			t.Fatalf("_last_checkpoint: %v", err)
		}
		c = lc.Version
	}
	acts := fmt.Sprintf(`SELECT CAST(regexp_extract(filename, '(\d{20})\.json$', 1) AS BIGINT) AS v, add.path AS a, remove.path AS r
		FROM read_ndjson('%s/*.json', columns={'add': 'STRUCT(path VARCHAR)', 'remove': 'STRUCT(path VARCHAR)'}, filename=true)`, log)
	if c >= 0 {
		acts = fmt.Sprintf(`SELECT %d AS v, add.path AS a, remove.path AS r FROM read_parquet('%s/%020d.checkpoint.parquet')
			UNION ALL SELECT * FROM (%s) WHERE v > %d`, c, log, c, acts, c)
	}
	q := fmt.Sprintf(`WITH acts AS (%s),
		adds AS (SELECT a AS path, max(v) AS v FROM acts WHERE a IS NOT NULL GROUP BY 1),
		rems AS (SELECT r AS path, max(v) AS v FROM acts WHERE r IS NOT NULL GROUP BY 1)
		SELECT adds.path FROM adds LEFT JOIN rems USING (path) WHERE rems.v IS NULL OR adds.v > rems.v ORDER BY 1`, acts)
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("duckdb live files: %v", err)
	}
	var files []string
	for rows.Next() {
		var p string
		rows.Scan(&p)
		files = append(files, "'"+filepath.Join(dir, p)+"'")
	}
	rows.Close()
	if len(files) == 0 {
		return nil
	}
	rows, err = db.Query(fmt.Sprintf(`SELECT %s FROM read_parquet([%s], hive_partitioning=true) ORDER BY _kafka_partition, _kafka_offset`,
		readerCols, strings.Join(files, ",")))
	if err != nil {
		t.Fatalf("duckdb rows: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		v := make([]string, 8)
		p := make([]any, 8)
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(v, "\t"))
	}
	return out
}

// chdbQuery runs a query in chDB with dir as its user files directory
// (testenv.ChDB: a missing chDB fails the test with how to install it).
func chdbQuery(t *testing.T, dir, q string) string {
	t.Helper()
	return testenv.ChDB(t, dir, q)
}

func chdbRows(t *testing.T, dir string) []string {
	t.Helper()
	q := fmt.Sprintf(`SELECT toString(_kafka_partition), toString(_kafka_offset), toString(id), name, toString(toInt64(amount * 4)), _op,
		toString(_version), toString(dt) FROM deltaLakeLocal('%s') ORDER BY _kafka_partition, _kafka_offset`, dir)
	out := strings.TrimSuffix(chdbQuery(t, filepath.Dir(dir), q), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// sortedByOffset sorts rendered rows as the readers return them.
func sortedByOffset(rows []string) []string {
	out := append([]string(nil), rows...)
	key := func(s string) (int, int) {
		var p, o int
		fmt.Sscanf(s, "%d\t%d", &p, &o)
		return p, o
	}
	sort.Slice(out, func(i, j int) bool {
		pi, oi := key(out[i])
		pj, oj := key(out[j])
		if pi != pj {
			return pi < pj
		}
		return oi < oj
	})
	return out
}
