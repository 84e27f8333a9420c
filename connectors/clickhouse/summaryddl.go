package clickhouse

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// summaryDDLVersion changes when the generated summary DDL changes, so
// existing summaries are rebuilt with the new layout.
const summaryDDLVersion = 2

// namedExpr is one SELECT item of a summary: expression and column name.
type namedExpr struct{ expr, name string }

// sumColumn is one column of a summary table with its inferred type.
type sumColumn struct {
	name, typ string
	measure   bool
	expr      string
}

// summaryDef is a summary's definition resolved against its mirror.
type summaryDef struct {
	cfg      Summary
	source   string // schema.table
	mirror   string // mirror table name
	dims     []namedExpr
	measures []namedExpr
	// cols are the summary's columns, dimensions first, with the types the
	// server infers for the SELECT over the mirror.
	cols []sumColumn
	// partKey is the partition key over summary column names ("" when
	// unpartitioned); partType its type (not Nullable).
	partKey, partType string
}

func newSummaryDef(cfg Summary, mirror string) *summaryDef {
	d := &summaryDef{cfg: cfg, mirror: mirror}
	tn, _ := conf.ParseTableName(cfg.From)
	d.source = tn.String()
	for _, s := range cfg.Dimensions {
		e, n, _ := SplitAlias(s)
		d.dims = append(d.dims, namedExpr{e, n})
	}
	for _, s := range cfg.Measures {
		e, n, _ := SplitAlias(s)
		d.measures = append(d.measures, namedExpr{e, n})
	}
	return d
}

// selectList renders "expr AS `name`, ..." for dimensions and measures,
// and the partition column when the summary is partitioned.
func (d *summaryDef) selectList() string {
	items := make([]string, 0, len(d.dims)+len(d.measures)+1)
	for _, x := range d.dims {
		items = append(items, x.expr+" AS "+quote(x.name))
	}
	for _, x := range d.measures {
		items = append(items, x.expr+" AS "+quote(x.name))
	}
	if d.partKey != "" {
		items = append(items, d.partKey+" AS "+quote(partColumn))
	}
	return strings.Join(items, ", ")
}

// aggregate is the summary's GROUP BY over from (a table or subquery),
// of the rows matching where.
func (d *summaryDef) aggregate(from, where string) string {
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s GROUP BY %s", d.selectList(), from, where, d.groupBy())
}

// dimSelect renders only the dimensions, for partition lookups.
func (d *summaryDef) dimSelect() string {
	items := make([]string, 0, len(d.dims))
	for _, x := range d.dims {
		items = append(items, x.expr+" AS "+quote(x.name))
	}
	return strings.Join(items, ", ")
}

func (d *summaryDef) groupBy() string {
	names := make([]string, len(d.dims))
	for i, x := range d.dims {
		names[i] = quote(x.name)
	}
	return strings.Join(names, ", ")
}

// where renders the user's filter (and the deleted flag) as a condition.
func (d *summaryDef) where(deleted bool) string {
	var conds []string
	if deleted {
		conds = append(conds, "`_deleted` = 0")
	}
	if w := strings.TrimSpace(d.cfg.Where); w != "" {
		conds = append(conds, "("+w+")")
	}
	if len(conds) == 0 {
		return "1"
	}
	return strings.Join(conds, " AND ")
}

// partIn renders the condition "the row's partition is one of parts" for
// a SELECT over the mirror that defines the dimension aliases.
func (d *summaryDef) partIn(parts []string) string {
	if d.partKey == "" {
		return "1"
	}
	return fmt.Sprintf("%s IN (%s)", d.partKey, d.literalList(parts))
}

// storedPartIn is the same condition over the summary table itself.
func (d *summaryDef) storedPartIn(parts []string) string {
	if d.partKey == "" {
		return "1"
	}
	return fmt.Sprintf("%s IN (%s)", quote(partColumn), d.literalList(parts))
}

// literalList renders partition values as typed literals, so a filter
// compares values instead of formatting every row's key as text.
func (d *summaryDef) literalList(parts []string) string {
	lits := make([]string, len(parts))
	for i, p := range parts {
		lits[i] = d.partitionLiteral(p)
	}
	return strings.Join(lits, ", ")
}

// partitionLiteral is the PARTITION clause value of one partition.
func (d *summaryDef) partitionLiteral(p string) string {
	if d.partKey == "" {
		return "tuple()"
	}
	return fmt.Sprintf("CAST(%s AS %s)", quoteString(p), d.partType)
}

// partColumn holds a partitioned summary's partition key: a plain,
// non-Nullable column. ClickHouse 18.16 refuses Nullable columns in a
// partition key and crashes (SIGSEGV on insert) on a key expression like
// assumeNotNull(x) over a Nullable(String), so the value is computed in
// the SELECT instead and the table is partitioned by the column.
const partColumn = "_inlet_partition"

// wholeTable is the one partition of an unpartitioned summary.
const wholeTable = "tuple()"

// definition is the text that identifies the summary's layout; a change
// rebuilds it.
func (d *summaryDef) definition() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ddl v%d\nfrom %s\n", summaryDDLVersion, d.source)
	for _, c := range d.cols {
		kind := "dimension"
		if c.measure {
			kind = "measure"
		}
		fmt.Fprintf(&b, "%s %s %s = %s\n", kind, c.name, c.typ, c.expr)
	}
	fmt.Fprintf(&b, "where %s\npartition by %s\n", strings.TrimSpace(d.cfg.Where), strings.TrimSpace(d.cfg.PartitionBy))
	return b.String()
}

func (d *summaryDef) hash() string {
	h := sha256.Sum256([]byte(d.definition()))
	return hex.EncodeToString(h[:8])
}

// createSummarySQL is the summary table DDL: plain MergeTree, partitioned
// by the partition key, ordered by the dimensions. Nullable dimensions are
// ordered by (isNull(x), assumeNotNull(x)): a sorting key cannot hold a
// Nullable column (before 20.x at all, later only with a setting), and this
// keeps NULL apart from the type's default value.
func createSummarySQL(db, table string, d *summaryDef, v Version) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n", quote(db), quote(table))
	var order []string
	for i, c := range d.cols {
		sep := ",\n"
		if i == len(d.cols)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s %s COMMENT %s%s", quote(c.name), c.typ, quoteString(d.columnComment(c)), sep)
		if !c.measure {
			if strings.HasPrefix(c.typ, "Nullable(") {
				order = append(order, "isNull("+quote(c.name)+")", "assumeNotNull("+quote(c.name)+")")
			} else {
				order = append(order, quote(c.name))
			}
		}
	}
	if d.partKey != "" {
		fmt.Fprintf(&b, ",\n  %s %s COMMENT %s\n", quote(partColumn), d.partType, quoteString("partition key "+strings.TrimSpace(d.cfg.PartitionBy)+" (NULL as the type's default); set by Inlet"))
	} else {
		b.WriteString("\n")
	}
	b.WriteString(") ENGINE = MergeTree")
	if d.partKey != "" {
		fmt.Fprintf(&b, "\nPARTITION BY %s", quote(partColumn))
	}
	fmt.Fprintf(&b, "\nORDER BY (%s)", strings.Join(order, ", "))
	return b.String()
}

// columnComment says where a summary column comes from.
func (d *summaryDef) columnComment(c sumColumn) string {
	kind := "dimension"
	if c.measure {
		kind = "measure"
	}
	s := fmt.Sprintf("%s %s over %s (mirror %s, current rows", kind, c.expr, d.source, d.mirror)
	if w := strings.TrimSpace(d.cfg.Where); w != "" {
		s += " where " + w
	}
	return s + "); refresh " + d.cfg.Refresh + " by Inlet"
}

// Inlet's bookkeeping tables in the ClickHouse database.
const (
	metaTable    = "_inlet_summaries"
	pendingTable = "_inlet_summary_pending"
	checksTable  = "_inlet_checks"
)

func bookkeepingSQL(db string) []string {
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (`name` String, `definition` String, `hash` String, `refreshed_at` DateTime, `rows` UInt64, `updated` UInt64) ENGINE = ReplacingMergeTree(`updated`) ORDER BY `name`", quote(db), metaTable),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (`summary` String, `partition` String, `done` UInt8, `seq` UInt64) ENGINE = ReplacingMergeTree(`seq`) ORDER BY (`summary`, `partition`)", quote(db), pendingTable),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (`at` DateTime, `summary` String, `check` String, `partitions` UInt32, `ok` UInt8, `detail` String) ENGINE = MergeTree ORDER BY (`summary`, `at`)", quote(db), checksTable),
	}
}

func stagingSummary(name string) string { return "_inlet_staging_" + name }
