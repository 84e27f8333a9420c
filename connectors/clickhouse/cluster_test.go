package clickhouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/inlet-dev/inlet/change"
)

// clusterSummary is the summary of the cluster goldens, with the column
// types both servers infer for it.
func clusterSummary() *summaryDef {
	cfg := Summary{Name: "orders_daily", From: "sales.orders", Refresh: "incremental",
		Dimensions:  []string{"toDate(at) AS day", "paid"},
		Measures:    []string{"count() AS orders", "sum(amount) AS revenue"},
		PartitionBy: "day"}
	d := newSummaryDef(cfg, "sales_orders")
	d.cols = []sumColumn{{name: "day", typ: "Nullable(Date)", expr: "toDate(at)"}, {name: "paid", typ: "Nullable(UInt8)", expr: "paid"},
		{name: "orders", typ: "UInt64", expr: "count()", measure: true}, {name: "revenue", typ: "Nullable(Decimal(38, 2))", expr: "sum(amount)", measure: true}}
	d.partKey, d.partType = "assumeNotNull(day)", "Date"
	return d
}

var refreshSchema = &change.Schema{Namespace: "public", Table: "rates", Columns: []change.Column{
	{Name: "code", Kind: change.String, SourceType: "text"},
	{Name: "rate", Kind: change.Float64, SourceType: "float8"},
}}

// clusterScript is every statement the sink runs against cluster c, in
// the order a pipeline runs them: database, a cdc mirror and its view, a
// full_refresh mirror, a summary, bookkeeping, then a new column, a
// summary refresh (truncate staging, replace partitions), a full refresh
// swap, and dropping a mirror.
func clusterScript(tp topology, v Version) []string {
	const db = "shop"
	name, rname := TableName(ddlSchema), TableName(refreshSchema)
	d := clusterSummary()
	qs := []string{tp.databaseSQL(db)}
	qs = append(qs, tp.mirrorSQL(db, name, ddlSchema.Columns, v, false)...)
	qs = append(qs, tp.viewSQL(db, name, ddlSchema.Columns))
	qs = append(qs, tp.mirrorSQL(db, rname, refreshSchema.Columns, v, true)...)
	qs = append(qs, tp.viewSQL(db, rname, refreshSchema.Columns))
	qs = append(qs, tp.bookkeepingSQL(db)...)
	qs = append(qs, tp.summarySQL(db, d.cfg.Name, d, v)...)
	qs = append(qs, tp.summarySQL(db, stagingSummary(d.cfg.Name), d, v)...)
	qs = append(qs, tp.columnSQL(db, name, "ADD COLUMN `qty` Nullable(Int32)")...)
	qs = append(qs, tp.truncateSQL(db, stagingSummary(d.cfg.Name)),
		tp.replaceSQL(db, d.cfg.Name, stagingSummary(d.cfg.Name), []string{d.partitionLiteral("2026-03-04"), d.partitionLiteral("2026-03-05")}),
		tp.optimizeSQL(db, stagingName(rname)),
		tp.replaceSQL(db, rname, stagingName(rname), []string{wholeTable}))
	qs = append(qs, tp.dropSQL(db, viewName(rname), true)...)
	qs = append(qs, tp.dropSQL(db, rname, false)...)
	return qs
}

// TestClusterDDLGolden pins what clickhouse.cluster runs, for the
// ClickHouse in CI (18.16) and a current release (26.7, the chDB the
// suite executes it in); run with -update after an intended change.
func TestClusterDDLGolden(t *testing.T) {
	for _, v := range []struct {
		name string
		ver  Version
	}{{"18.16", Version{18, 16}}, {"26.7", Version{26, 7}}} {
		got := strings.Join(clusterScript(topology{cluster: "inlet"}, v.ver), ";\n\n") + ";\n"
		path := filepath.Join("testdata", "cluster-"+v.name+".sql")
		if *update {
			os.WriteFile(path, []byte(got), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s cluster DDL changed:\n%s\nwant:\n%s", v.name, got, want)
		}
	}
	// Without a cluster the statements are the single-server ones.
	for _, q := range clusterScript(topology{}, Version{26, 7}) {
		if strings.Contains(q, "ON CLUSTER") || strings.Contains(q, "Replicated") || strings.Contains(q, "_local") || strings.Contains(q, "Distributed") {
			t.Errorf("single server: %s", q)
		}
	}
}

var (
	onClusterClause = regexp.MustCompile(" ON CLUSTER `[^`]*`")
	replicatedArgs  = regexp.MustCompile(`Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(, )?`)
)

// oneServer is the statement chDB can run in place of q: the same
// statement without ON CLUSTER and with the engine Replicated… names
// (e.g. ReplacingMergeTree(`_version`) for ReplicatedReplacingMergeTree(
// '/clickhouse/…', '{replica}', `_version`)). Everything else — columns,
// keys, partitions, Distributed tables, views, ALTERs — is run as is.
func oneServer(q string) string {
	return replicatedArgs.ReplaceAllString(onClusterClause.ReplaceAllString(q, ""), "$1(")
}

// TestClusterSQLInChDB executes the cluster DDL of a current release in
// chDB (ClickHouse 26.7), with a one-shard cluster "inlet" whose one
// replica is chDB itself: every statement of the golden script without
// ON CLUSTER and with the non-replicated engines, then a pipeline's
// writes through the Distributed tables — mirror rows collapsing by
// version in the _current view, a summary refreshed through its staging
// table and REPLACE PARTITION on the local table, a full refresh swapped
// in — read back through the Distributed tables. chDB cannot run ON
// CLUSTER or Replicated…MergeTree (no DDL worker, no Keeper); both are
// checked to fail as expected, so a chDB that can is noticed.
func TestClusterSQLInChDB(t *testing.T) {
	tp, v := topology{cluster: "inlet"}, Version{26, 7}
	script := clusterScript(tp, v)
	// N.B. ClickHouse 26 refuses REPLACE PARTITION from a source with no
	// parts in it unless told; the sink sets this where the server has it.
	const allowEmpty = "SET allow_replace_partition_from_empty_source = 1"
	stmts := []string{allowEmpty}
	for _, q := range script {
		stmts = append(stmts, oneServer(q))
	}
	if _, err := testenv.ChDBCluster(t, t.TempDir(), "inlet", stmts); err != nil {
		t.Fatalf("cluster script without ON CLUSTER and Replicated: %v", err)
	}
	// What chDB cannot execute, as it reports it.
	for _, c := range []struct{ q, want string }{
		{script[0], "Replicated DDL queries are disabled"},
	} {
		if _, err := testenv.ChDBCluster(t, t.TempDir(), "inlet", []string{c.q}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("chDB ran %q (or failed otherwise: %v); update the limits in docs/clickhouse-cluster.md", c.q, err)
		}
	}

	q, want := clusterScenario(tp, v, true)
	out, err := testenv.ChDBCluster(t, t.TempDir(), "inlet", append([]string{allowEmpty, "SET insert_distributed_sync = 1"}, q...))
	if err != nil {
		t.Fatal(err)
	}
	for i, rows := range want {
		if out[i+2] != rows {
			t.Errorf("%s\n= %q, want %q", q[i], out[i+2], rows)
		}
	}
}

// TestClusterSQLOn1816 runs the same scenario on clickhouse-server 18.16
// (testenv's servers have the one-shard cluster testenv.OneShardCluster):
// the 18.16 DDL without ON CLUSTER and Replicated, synchronous inserts
// through the Distributed tables, FINAL and views through them, REPLACE
// PARTITION on the local tables.
func TestClusterSQLOn1816(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	conn := srv.Connect(t)
	ctx := ch.Context(context.Background(), ch.WithSettings(ch.Settings{"insert_distributed_sync": 1}))
	var ver string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&ver); err != nil {
		t.Fatal(err)
	}
	v, _ := ParseVersion(ver)
	q, want := clusterScenario(topology{cluster: testenv.OneShardCluster}, v, true)
	for i, stmt := range q {
		exp, isCheck := want[i]
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if !isCheck {
			if err := conn.Exec(sctx, stmt); err != nil {
				t.Fatalf("ClickHouse %s: %s: %v", ver, stmt, err)
			}
			continue
		}
		rows, err := conn.Query(sctx, stmt)
		if err != nil {
			t.Fatalf("ClickHouse %s: %s: %v", ver, stmt, err)
		}
		var got strings.Builder
		for rows.Next() {
			vals := make([]string, len(rows.Columns()))
			ptrs := make([]any, len(vals))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			got.WriteString(strings.Join(vals, "\t") + "\n")
		}
		rows.Close()
		if got.String() != exp {
			t.Errorf("ClickHouse %s: %s\n= %q, want %q", ver, stmt, got.String(), exp)
		}
	}
}

// clusterScenario is a pipeline's statements on cluster tp.cluster as one
// server can run them (oneServer), with reads that check what they did:
// the index of each check and the rows it must return (every column a
// string, so servers agree on the text).
func clusterScenario(tp topology, v Version, viaDistributed bool) ([]string, map[int]string) {
	const db = "shop"
	name, rname := TableName(ddlSchema), TableName(refreshSchema)
	d := clusterSummary()
	var q []string
	add := func(s ...string) {
		for _, x := range s {
			q = append(q, oneServer(x))
		}
	}
	want := map[int]string{}
	check := func(sel, rows string) { add(sel); want[len(q)-1] = rows }
	add(tp.databaseSQL(db))
	add(tp.mirrorSQL(db, name, ddlSchema.Columns, v, false)...)
	add(tp.viewSQL(db, name, ddlSchema.Columns))
	add(tp.mirrorSQL(db, rname, refreshSchema.Columns, v, true)...)
	add(tp.viewSQL(db, rname, refreshSchema.Columns))
	add(tp.summarySQL(db, d.cfg.Name, d, v)...)
	add(tp.summarySQL(db, stagingSummary(d.cfg.Name), d, v)...)
	add(tp.bookkeepingSQL(db)...)
	// The runner sets insert_distributed_sync = 1 for the session, as the
	// sink does (settingsConn).
	sync := ""
	into := func(name string) string {
		if viaDistributed {
			return name
		}
		return tp.local(name)
	}
	// INSERT … SELECT, not VALUES: clickhouse-go's Exec of an INSERT with
	// inline VALUES waits forever on 18.16 (the server waits for a data
	// block the client never sends).
	add("INSERT INTO `shop`." + quote(into("sales_orders")) + " (`id`, `amount`, `paid`, `at`, `_version`, `_deleted`, `_synced_at`)" + sync + " " +
		rowsSelect("toInt64(1), toDecimal64(10.50, 2), toUInt8(1), toDateTime('2026-03-04 10:00:00', 'UTC'), toUInt64(100), toUInt8(0), now()",
			"toInt64(2), toDecimal64(5.00, 2), toUInt8(0), toDateTime('2026-03-04 11:00:00', 'UTC'), toUInt64(101), toUInt8(0), now()",
			"toInt64(1), toDecimal64(12.00, 2), toUInt8(1), toDateTime('2026-03-04 10:00:00', 'UTC'), toUInt64(102), toUInt8(0), now()",
			"toInt64(3), toDecimal64(7.25, 2), toUInt8(1), toDateTime('2026-03-05 09:00:00', 'UTC'), toUInt64(103), toUInt8(0), now()",
			"toInt64(2), toDecimal64(5.00, 2), toUInt8(0), toDateTime('2026-03-04 11:00:00', 'UTC'), toUInt64(104), toUInt8(1), now()"))
	// Key 1 collapsed to version 102, key 2 deleted.
	check("SELECT toString(`id`), toString(toFloat64(`amount`)), toString(`_version`) FROM `shop`.`sales_orders_current` ORDER BY `id`", "1\t12\t102\n3\t7.25\t103\n")
	add(tp.truncateSQL(db, stagingSummary(d.cfg.Name)),
		fmt.Sprintf("INSERT INTO %s.%s (%s) %s%s", quote(db), quote(into(stagingSummary(d.cfg.Name))), d.columnList(),
			d.aggregate(quote(db)+"."+quote(viewName(name)), d.where(false)), sync),
		tp.replaceSQL(db, d.cfg.Name, stagingSummary(d.cfg.Name), []string{d.partitionLiteral("2026-03-04"), d.partitionLiteral("2026-03-05")}))
	check("SELECT toString(`day`), toString(`paid`), toString(`orders`), toString(toFloat64(`revenue`)) FROM `shop`.`orders_daily` ORDER BY `day`, `paid`",
		"2026-03-04\t1\t1\t12\n2026-03-05\t1\t1\t7.25\n")
	add("INSERT INTO `shop`."+quote(into("rates__staging"))+" (`code`, `rate`, `_version`, `_row`, `_deleted`, `_synced_at`)"+sync+" "+
		rowsSelect("'EUR', toFloat64(1.1), toUInt64(7), toUInt64(0), toUInt8(0), now()", "'GBP', toFloat64(1.3), toUInt64(7), toUInt64(1), toUInt8(0), now()"),
		tp.optimizeSQL(db, stagingName(rname)),
		tp.replaceSQL(db, rname, stagingName(rname), []string{wholeTable}))
	check("SELECT toString(`code`), toString(`rate`) FROM `shop`.`rates_current` ORDER BY `code`", "EUR\t1.1\nGBP\t1.3\n")
	add(tp.columnSQL(db, name, "ADD COLUMN `qty` Nullable(Int32)")...)
	check("SELECT name FROM system.columns WHERE database = 'shop' AND table = 'sales_orders' AND name = 'qty'", "qty\n")
	check("SELECT toString(count()) FROM `shop`.`sales_orders` FINAL WHERE `qty` IS NULL AND `_deleted` = 0", "2\n")
	return q, want
}

// rowsSelect is a SELECT of literal rows (UNION ALL), for INSERT … SELECT.
func rowsSelect(rows ...string) string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = "SELECT " + r
	}
	return strings.Join(out, " UNION ALL ")
}
