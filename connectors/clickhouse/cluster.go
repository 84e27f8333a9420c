package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/inlet-dev/inlet/change"
)

// topology is where the sink's tables live: one server (cluster "") or a
// ClickHouse cluster (clickhouse.cluster).
//
// On a cluster every table Inlet names (a mirror, its full-refresh
// staging table, a summary and its staging table) is two tables:
//
//	<name>_local  Replicated…MergeTree, created ON CLUSTER, one replica set
//	              per shard (ZooKeeper path /clickhouse/tables/{shard}/<db>/<name>_local,
//	              replica '{replica}': the servers' macros).
//	<name>        Distributed(cluster, db, <name>_local, sharding key), created
//	              ON CLUSTER: every read and insert goes through it, so
//	              queries written for one server keep working.
//
// Mirrors are sharded by cityHash64 of the primary key, so the versions of
// one key meet on one shard and ReplacingMergeTree(_version) collapses
// them there; FINAL over the Distributed table is then exact. The
// <table>_current views are created ON CLUSTER over the Distributed table.
// Summaries are sharded by their partition (an unpartitioned summary
// lives on the first shard); a refresh fills the staging
// Distributed table (synchronous inserts with a quorum of every replica of
// the shard, so any replica holds the staged rows) and replaces the
// partitions with ALTER TABLE <name>_local ON CLUSTER … REPLACE PARTITION …
// FROM <staging>_local: ClickHouse runs it on one replica per shard and
// replicates the new parts to the others, so every replica ends with the
// new partition. Inlet's bookkeeping tables are replicated to every server
// (one ZooKeeper path for the whole cluster), not sharded.
type topology struct{ cluster string }

// local is the table that stores name's rows.
func (tp topology) local(name string) string {
	if tp.cluster == "" {
		return name
	}
	return name + "_local"
}

// on is the ON CLUSTER clause ("" on one server).
func (tp topology) on() string {
	if tp.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quote(tp.cluster)
}

// replicated turns an engine such as ReplacingMergeTree(`_version`) into
// its Replicated form with the ZooKeeper path of db.table; shared puts
// every server of the cluster in one replica set instead of one per shard.
func (tp topology) replicated(engine, db, table string, shared bool) string {
	if tp.cluster == "" {
		return engine
	}
	name, args, _ := strings.Cut(engine, "(")
	args = strings.TrimSuffix(args, ")")
	shard := "{shard}"
	if shared {
		shard = "all"
	}
	zk := quoteString(fmt.Sprintf("/clickhouse/tables/%s/%s/%s", shard, db, table)) + ", '{replica}'"
	if args != "" {
		zk += ", " + args
	}
	return "Replicated" + name + "(" + zk + ")"
}

// distributedSQL is the Distributed table name over its local table.
func (tp topology) distributedSQL(db, name, shardKey string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s%[3]s AS %[1]s.%[4]s ENGINE = Distributed(%[5]s, %[6]s, %[7]s, %[8]s)",
		quote(db), quote(name), tp.on(), quote(tp.local(name)), quoteString(tp.cluster), quoteString(db), quoteString(tp.local(name)), shardKey)
}

var createHead = regexp.MustCompile("^CREATE (TABLE|VIEW) IF NOT EXISTS (`(?:[^`\\\\]|\\\\.)*`)\\.(`(?:[^`\\\\]|\\\\.)*`|[A-Za-z_][A-Za-z0-9_]*)")

// onCluster puts a single-server CREATE statement on the cluster, naming
// local as its table.
func (tp topology) onCluster(stmt, local string) string {
	if tp.cluster == "" {
		return stmt
	}
	m := createHead.FindStringSubmatchIndex(stmt)
	if m == nil {
		panic("clickhouse: not a CREATE … IF NOT EXISTS statement: " + stmt)
	}
	return stmt[:m[6]] + quote(local) + tp.on() + stmt[m[1]:]
}

// withEngine swaps the ENGINE = X(...) of a single-server CREATE for its
// Replicated form.
func (tp topology) withEngine(stmt, db, local string, shared bool) string {
	if tp.cluster == "" {
		return stmt
	}
	i := strings.LastIndex(stmt, "ENGINE = ") + len("ENGINE = ")
	rest := stmt[i:]
	end := len(rest)
	if j := strings.IndexAny(rest, "\n "); j >= 0 {
		end = j
	}
	if p := strings.Index(rest, "("); p >= 0 && p < end {
		end = p + strings.Index(rest[p:], ")") + 1 // engine arguments do not nest
	}
	end += i
	engine := stmt[i:end]
	if !strings.Contains(engine, "(") {
		engine += "()"
	}
	return stmt[:i] + tp.replicated(engine, db, local, shared) + stmt[end:]
}

// mirrorSQL creates a mirror table (and, for a full_refresh table, its
// staging table) and nothing else: the view follows with viewSQL.
func (tp topology) mirrorSQL(db, name string, cols []change.Column, v Version, refresh bool) []string {
	one := createTableSQL(db, name, cols, v, refresh)
	if tp.cluster == "" {
		out := []string{one}
		if refresh {
			out = append(out, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s", quote(db), quote(stagingName(name)), quote(db), quote(name)))
		}
		return out
	}
	var keys []string
	for _, c := range cols {
		if c.Key {
			keys = append(keys, quote(c.Name))
		}
	}
	shardKey := "cityHash64(" + strings.Join(keys, ", ") + ")"
	if refresh || len(keys) == 0 {
		// One copy replaces the other: spread rows by their position.
		shardKey = "cityHash64(`_version`, `_row`)"
	}
	out := []string{
		tp.withEngine(tp.onCluster(one, tp.local(name)), db, tp.local(name), false),
		tp.distributedSQL(db, name, shardKey),
	}
	if refresh {
		st := stagingName(name)
		out = append(out,
			tp.withEngine(tp.onCluster(createTableSQL(db, st, cols, v, refresh), tp.local(st)), db, tp.local(st), false),
			tp.distributedSQL(db, st, shardKey))
	}
	return out
}

// viewSQL creates the view of current rows (over the Distributed table on
// a cluster).
func (tp topology) viewSQL(db, name string, cols []change.Column) string {
	return tp.onCluster(createViewSQL(db, name, cols), viewName(name))
}

// summarySQL creates a summary table (or its staging table) table.
func (tp topology) summarySQL(db, table string, d *summaryDef, v Version) []string {
	one := createSummarySQL(db, table, d, v)
	if tp.cluster == "" {
		return []string{one}
	}
	// A partition lives on one shard: replacing it there is atomic, and
	// the other shards' (empty) partitions are replaced by empty ones.
	shardKey := "0"
	if d.partKey != "" {
		shardKey = "cityHash64(" + quote(partColumn) + ")"
	}
	return []string{
		tp.withEngine(tp.onCluster(one, tp.local(table)), db, tp.local(table), false),
		tp.distributedSQL(db, table, shardKey),
	}
}

// bookkeepingSQL creates Inlet's bookkeeping tables: replicated to every
// server of a cluster, so any server Inlet connects to reads them.
func (tp topology) bookkeepingSQL(db string) []string {
	qs := bookkeepingSQL(db)
	if tp.cluster == "" {
		return qs
	}
	for i, q := range qs {
		m := createHead.FindStringSubmatch(q)
		table := strings.Trim(m[3], "`")
		qs[i] = tp.withEngine(tp.onCluster(q, table), db, table, true)
	}
	return qs
}

// dropSQL drops a table Inlet named (both tables on a cluster) or a view.
func (tp topology) dropSQL(db, name string, view bool) []string {
	out := []string{fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", quote(db), quote(name), tp.on())}
	if tp.cluster != "" && !view {
		out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", quote(db), quote(tp.local(name)), tp.on()))
	}
	return out
}

// alterSQL is ALTER TABLE on the table that stores name's rows (on every
// shard; ClickHouse runs it on one replica of a Replicated table per
// shard and replicates it).
func (tp topology) alterSQL(db, name, clauses string) string {
	return fmt.Sprintf("ALTER TABLE %s.%s%s %s", quote(db), quote(tp.local(name)), tp.on(), clauses)
}

// columnSQL changes a column (ADD COLUMN, MODIFY COLUMN): on the local
// table and then the Distributed one, whose structure follows by hand.
func (tp topology) columnSQL(db, name, clause string) []string {
	out := []string{tp.alterSQL(db, name, clause)}
	if tp.cluster != "" {
		out = append(out, fmt.Sprintf("ALTER TABLE %s.%s%s %s", quote(db), quote(name), tp.on(), clause))
	}
	return out
}

// truncateSQL empties a table Inlet named.
func (tp topology) truncateSQL(db, name string) string {
	return fmt.Sprintf("TRUNCATE TABLE %s.%s%s", quote(db), quote(tp.local(name)), tp.on())
}

// optimizeSQL merges a table's parts (OPTIMIZE … FINAL).
func (tp topology) optimizeSQL(db, name string) string {
	return fmt.Sprintf("OPTIMIZE TABLE %s.%s%s FINAL", quote(db), quote(tp.local(name)), tp.on())
}

// replaceSQL replaces partitions of table with staging's.
func (tp topology) replaceSQL(db, table, staging string, partitions []string) string {
	clauses := make([]string, len(partitions))
	for i, p := range partitions {
		clauses[i] = fmt.Sprintf("REPLACE PARTITION %s FROM %s.%s", p, quote(db), quote(tp.local(staging)))
	}
	return tp.alterSQL(db, table, strings.Join(clauses, ", "))
}

// in is the IN operator for a subquery or external table over the
// sink's tables: GLOBAL IN on a cluster, where both sides are Distributed
// (the subquery runs once, on the server Inlet talks to, and its result
// goes to every shard; a plain IN would be refused as double-distributed
// or miss the external table on other shards).
func (tp topology) in() string {
	if tp.cluster == "" {
		return "IN"
	}
	return "GLOBAL IN"
}

// databaseSQL creates the database (on every server of a cluster).
func (tp topology) databaseSQL(db string) string {
	return "CREATE DATABASE IF NOT EXISTS " + quote(db) + tp.on()
}

// settingsConn runs every query of the sink with settings found at
// Open: on a cluster, inserts into Distributed tables are synchronous
// (insert_distributed_sync: the insert returns once every shard has its
// rows, so a batch is durable when Apply returns) and wait for every
// replica of the shard (insert_quorum), so the replica that runs a
// REPLACE PARTITION holds the staged rows; on servers that refuse REPLACE
// PARTITION from a source with no rows in the partition (ClickHouse 26),
// allow_replace_partition_from_empty_source, as a summary partition whose
// rows are all gone must be replaced by an empty one.
type settingsConn struct {
	driver.Conn
	settings ch.Settings
}

func (c settingsConn) with(ctx context.Context) context.Context {
	return ch.Context(ctx, ch.WithSettings(c.settings))
}

func (c settingsConn) Exec(ctx context.Context, q string, args ...any) error {
	return c.Conn.Exec(c.with(ctx), q, args...)
}

func (c settingsConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(c.with(ctx), q, args...)
}

func (c settingsConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	return c.Conn.QueryRow(c.with(ctx), q, args...)
}

func (c settingsConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	return c.Conn.PrepareBatch(c.with(ctx), q, opts...)
}

// sessionSettings probes the server for the settings settingsConn adds
// (none on one server of a release that needs none). A cluster that the
// server does not know is an error naming clickhouse.cluster.
func sessionSettings(ctx context.Context, conn driver.Conn, cluster string) (ch.Settings, error) {
	set := ch.Settings{}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = 'allow_replace_partition_from_empty_source'").Scan(&n); err != nil {
		return nil, fmt.Errorf("clickhouse: read system.settings: %w", err)
	}
	if n > 0 {
		set["allow_replace_partition_from_empty_source"] = 1
	}
	if cluster == "" {
		return set, nil
	}
	var replicas uint32
	if err := conn.QueryRow(ctx, "SELECT count(), toUInt32(max(replica_num)) FROM system.clusters WHERE cluster = ?", cluster).Scan(&n, &replicas); err != nil {
		return nil, fmt.Errorf("clickhouse: read system.clusters: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("clickhouse.cluster: %q is not a cluster of this server (see SELECT DISTINCT cluster FROM system.clusters); name one from its remote_servers config", cluster)
	}
	set["insert_distributed_sync"] = 1
	if replicas > 1 {
		set["insert_quorum"] = replicas
	}
	return set, nil
}
