package e2e

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	pgsrc "github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/internal/testenv"
)

// The type families test: one table per family of Postgres types, rows of
// edge values, snapshot then streamed changes, and every value compared
// with Postgres in ClickHouse's _current views and in the lake, which chDB
// (delta-kernel-rs) reads independently of Inlet. Expected values follow
// docs/types.md: each comparison kind below turns what each system returns
// into one canonical string, and applies the documented rule for the sink.

// tcol is one column under test: its name in Postgres and in the sinks
// (different when Inlet renames a reserved name), and how to compare it.
type tcol struct {
	pg, sink string
	kind     string // int f4 f8 num dec bool text hex geo date ts arr:<elem kind>
}

type ttable struct {
	name string // public.<name>; ClickHouse mirror <name>
	cols []tcol // id first
}

func c(name, kind string) tcol { return tcol{name, name, kind} }

const typesSchema = `
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN pairdom AS pair;
CREATE DOMAIN tags AS text[];
CREATE DOMAIN birthday AS date;
CREATE TABLE t_num (id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric, n38 numeric(38,0),
  n10 numeric(10,2), r real, d double precision, m money, x8 xid8, o oid, pi posint);
CREATE TABLE t_time (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, t time, ttz timetz,
  iv interval, bd birthday);
CREATE TABLE t_text (id int PRIMARY KEY, small int, big text, c char(5), vc varchar(40), ch "char",
  nm name, ci citext, x xml, js json, jb jsonb, jp jsonpath, by bytea, u uuid, en mood, bi bit(4),
  vb varbit, b boolean);
ALTER TABLE t_text ALTER big SET STORAGE EXTERNAL;
CREATE TABLE t_net (id int PRIMARY KEY, ip inet, cidr cidr, mac macaddr, mac8 macaddr8, lsn pg_lsn,
  rc regclass, rt regtype, tv tsvector, tq tsquery, hs hstore, lt ltree, lq lquery);
CREATE TABLE t_geo (id int PRIMARY KEY, p point, l line, ls lseg, bx box, pa path, pg polygon, c circle);
CREATE TABLE t_range (id int PRIMARY KEY, i4r int4range, nr numrange, tsr tsrange, tzr tstzrange,
  dr daterange, i8r int8range, mr int4multirange, cp pair, cpd pairdom);
CREATE TABLE t_arr (id int PRIMARY KEY, ai int[], at text[], ad date[], an numeric[], ab box[],
  ap point[], ac pair[], ar int4range[], au uuid[], abool bool[], md int[][], tg tags);
CREATE TABLE t_bin (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, n10 numeric(10,2), n numeric,
  i8 bigint, b boolean, u uuid, jb jsonb, s text);
CREATE TABLE t_meta (id int PRIMARY KEY, "_version" int, "_op" text, "_deleted" boolean,
  "_synced_at" text, "_version_" text, dt date, "_nan" text);
`

// postgisSchema is added when the server has PostGIS.
const postgisSchema = `
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE t_gis (id int PRIMARY KEY, g geometry, gg geography, g4326 geometry(Point, 4326), ag geometry[]);
`

var typeTables = []ttable{
	{"t_num", []tcol{c("id", "int"), c("i2", "int"), c("i4", "int"), c("i8", "int"), c("n", "num"), c("n38", "dec"),
		c("n10", "dec"), c("r", "f4"), c("d", "f8"), c("m", "text"), c("x8", "text"), c("o", "int"), c("pi", "int")}},
	{"t_time", []tcol{c("id", "int"), c("d", "date"), c("ts", "ts"), c("tz", "ts"), c("t", "text"), c("ttz", "text"),
		c("iv", "text"), c("bd", "date")}},
	{"t_text", []tcol{c("id", "int"), c("small", "int"), c("big", "text"), c("c", "text"), c("vc", "text"), c("ch", "text"),
		c("nm", "text"), c("ci", "text"), c("x", "text"), c("js", "text"), c("jb", "text"), c("jp", "text"), c("by", "hex"),
		c("u", "text"), c("en", "text"), c("bi", "text"), c("vb", "text"), c("b", "bool")}},
	{"t_net", []tcol{c("id", "int"), c("ip", "text"), c("cidr", "text"), c("mac", "text"), c("mac8", "text"), c("lsn", "text"),
		c("rc", "text"), c("rt", "text"), c("tv", "text"), c("tq", "text"), c("hs", "text"), c("lt", "text"), c("lq", "text")}},
	{"t_geo", []tcol{c("id", "int"), c("p", "text"), c("l", "text"), c("ls", "text"), c("bx", "text"), c("pa", "text"),
		c("pg", "text"), c("c", "text")}},
	{"t_range", []tcol{c("id", "int"), c("i4r", "text"), c("nr", "text"), c("tsr", "text"), c("tzr", "text"), c("dr", "text"),
		c("i8r", "text"), c("mr", "text"), c("cp", "text"), c("cpd", "text")}},
	{"t_arr", []tcol{c("id", "int"), c("ai", "arr:int"), c("at", "arr:text"), c("ad", "arr:date"), c("an", "arr:num"),
		c("ab", "arr:text"), c("ap", "arr:text"), c("ac", "arr:text"), c("ar", "arr:text"), c("au", "arr:text"),
		c("abool", "arr:bool"), c("md", "text"), c("tg", "arr:text")}},
	// Every column has a binary COPY form: the snapshot copies it in binary.
	{"t_bin", []tcol{c("id", "int"), c("d", "date"), c("ts", "ts"), c("tz", "ts"), c("n10", "dec"), c("n", "num"),
		c("i8", "int"), c("b", "bool"), c("u", "text"), c("jb", "text"), c("s", "text")}},
	{"t_meta", []tcol{c("id", "int"), {"_version", "_version__", "int"}, {"_op", "_op_", "text"}, {"_deleted", "_deleted_", "bool"},
		{"_synced_at", "_synced_at_", "text"}, c("_version_", "text"), c("dt", "date"), {"_nan", "_nan_", "text"}}},
}

var gisTable = ttable{"t_gis", []tcol{c("id", "int"), c("g", "geo"), c("gg", "geo"), c("g4326", "geo"), c("ag", "arr:geo")}}

// typeRows are the edge rows, as VALUES lists without the id (%d is the id).
var typeRows = map[string][]string{
	"t_num": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, 32767, 2147483647, 9223372036854775807, 'NaN', 99999999999999999999999999999999999999, 99999999.99, 'NaN', 'NaN', 92233720368547758.07, '18446744073709551615', 4294967295, 2147483647)",
		"(%d, -32768, -2147483648, -9223372036854775808, 'Infinity', -99999999999999999999999999999999999999, -99999999.99, 'Infinity', 'Infinity', -92233720368547758.08, '0', 0, 1)",
		"(%d, 0, 0, 0, '-Infinity', 0, 'NaN', '-Infinity', '-Infinity', 0, '1', 1, 1)",
		"(%d, 1, 1, 1, '123456789012345678901234567890.123456789012345678901234567890', 1, 0.01, 1.17549435e-38, 2.2250738585072014e-308, 1.5, '2', 2, 2)",
		"(%d, -1, -1, -1, '-0.000000000000000000000000000001', -1, -0.01, 3.4028235e+38, 1.7976931348623157e+308, -1.5, '3', 3, 3)",
	},
	"t_time": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, 'infinity', 'infinity', 'infinity', '24:00:00', '23:59:59.999999+14', '178000000 years', 'infinity')",
		"(%d, '-infinity', '-infinity', '-infinity', '00:00:00', '00:00:00-15:59', '-178000000 years', '-infinity')",
		"(%d, '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00', '12:34:56.789012', '12:00+05:30', '1 year 2 mons 3 days 04:05:06.789', '9999-12-31')",
		"(%d, '0044-03-15 BC', '0044-03-15 12:00:00.000001 BC', '0044-03-15 12:00:00+00 BC', '00:00:00.000001', '00:00:00+00', '-1 days +00:00:00.000001', '0001-01-01 BC')",
		"(%d, '4713-11-24 BC', '4713-11-24 00:00:00 BC', '4713-11-24 00:00:00+00 BC', '23:59:59.999999', '23:59:59-01', '0', '4713-11-24 BC')",
		"(%d, '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '01:02:03', '01:02:03+01', '1 mon', '5874897-12-31')",
		"(%d, '1969-12-31', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00', '01:02:03', '01:02:03+01', '1 mon', '1969-12-31')",
		"(%d, '2106-02-08', '2106-02-07 06:28:16', '2262-04-11 23:47:17+00', '01:02:03', '01:02:03+01', '1 mon', '2300-01-01')",
		"(%d, '1899-12-31', '1899-12-31 23:59:59.999999', '1900-01-01 00:00:00+00', '01:02:03', '01:02:03+01', '1 mon', '1970-01-01')",
		"(%d, '2026-12-03', '2026-12-03 10:11:12.123456', '2026-12-03 10:11:12.000001+00', '01:02:03', '01:02:03+01', '1 mon', '2105-12-31')",
	},
	"t_text": {
		"(%d, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, 1, 'Ünïcødé ✓ 🚀 ' || (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 33000) i), 'ab', '', 'x', 'name', 'MiXeD Case', '<a b=\"1\">é</a>', '{\"b\": 1,  \"a\": [1, 2]}', '{\"b\": 1, \"a\": [1, 2, {\"c\": null}], \"é\": \"\\u00e9\"}', '$.a[*] ? (@ > 1)', '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', B'1010', B'', true)",
		"(%d, 2, '', '     ', 'tab\there\nnewline \\ back', '\"', 'ñ', 'ß', '<x/>', 'null', '[]', '$', '\\x', '00000000-0000-0000-0000-000000000000', 'sad', B'0000', B'1', false)",
		"(%d, 3, E'quote '' and \" and \\\\ and \\x01 ctl', 'é', repeat('é', 20), ' ', repeat('n', 63), '', '', '\"\\u2028\"', '\"\"', 'strict $', '\\xdeadbeef', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ok', B'1111', B'101010101010101', NULL)",
	},
	"t_net": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '16/B374D848', 't_num', 'int4', 'a fat cat sat on a mat', 'fat & (rat | cat)', '\"a\"=>\"1\", \"b\"=>NULL, \"c d\"=>\"é\"', 'top.science.astronomy', '*.science.*')",
		"(%d, '::ffff:1.2.3.4', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff', '0/0', 'pg_class', 'text[]', '', '!a', '', '', '*')",
		"(%d, '2001:db8::1/128', '0.0.0.0/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00', 'FFFFFFFF/FFFFFFFF', '-', '-', 'é:1A,2B ü:3', 'a:* <-> b', 'k=>v', 'a', 'a|b.*')",
	},
	"t_geo": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, '(1,2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))', '<(0,0),1>')",
		"(%d, '(-1.5e300,NaN)', '{0,1,2}', '[(1e-300,2),(3,4)]', '(Infinity,1),(-Infinity,-1)', '((0,0),(1,1))', '((0,0))', '<(1,1),0>')",
	},
	"t_range": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, '[1,10)', '(1.5,2.5]', '[2026-01-01 00:00,2026-01-02 00:00)', '[2026-01-01 00:00+00,infinity)', '[-infinity,2026-01-01)', '[-9223372036854775808,9223372036854775807)', '{[1,3),[5,7)}', '(1,\"a b\")', '(,)')",
		"(%d, 'empty', '(,)', '(,)', 'empty', '[0044-03-15 BC,9999-12-31]', 'empty', '{}', '(,\"\")', '(2,\"é,\"\"q\"\"\")')",
	},
	"t_arr": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')",
		"(%d, '{1,NULL,-2147483648,2147483647}', '{\"a b\",NULL,\"q\\\"x\",\"c,d\",\"NULL\",\"\",\"✓ é\"}', '{infinity,-infinity,\"0044-03-15 BC\",9999-12-31,NULL,2026-12-03}', '{NaN,Infinity,-Infinity,1.50,NULL}', '{(1,1),(0,0);(3,3),(2,2)}', '{\"(1,2)\",NULL}', ARRAY[ROW(1,'a b')::pair, ROW(NULL,'x,y')::pair, NULL], '{\"[1,3)\",empty}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', '{t,f,NULL}', '{{1,2},{3,NULL}}', '{x,y}')",
		"(%d, '{{1,2},{3,4}}', '{{a,b},{c,d}}', '[0:1]={2026-01-01,2026-01-02}', '{{1},{2}}', '{(1,1),(0,0)}', '{}', '{}', '{}', '{}', '{}', '[0:0][1:2]={{1,2}}', '{}')",
	},
	"t_bin": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, 'infinity', 'infinity', 'infinity', 'NaN', 'NaN', 9223372036854775807, true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, null]}', 'ü')",
		"(%d, '-infinity', '-infinity', '-infinity', -99999999.99, 'Infinity', -9223372036854775808, false, '00000000-0000-0000-0000-000000000000', 'null', '')",
		"(%d, '0044-03-15 BC', '0044-03-15 12:00:00.000001 BC', '4713-11-24 00:00:00+00 BC', 0.01, '-Infinity', 0, NULL, NULL, '[]', 'x')",
		"(%d, '5874897-12-31', '294276-12-31 23:59:59.999999', '12345-06-07 08:09:10.5+00', 99999999.99, '-0.000000000000000000000000000001', 1, true, NULL, '{}', NULL)",
		"(%d, '9999-12-31', '1969-12-31 23:59:59.999999', '2262-04-11 23:47:17+00', 0, '1e-300', -1, true, NULL, '1', 'y')",
	},
	"t_meta": {
		"(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"(%d, 7, 'c', true, 'now', 'mine', '2026-12-03', 'x')",
		"(%d, -1, 'd', false, '', '', '9999-12-31', '')",
	},
	"t_gis": {
		"(%d, NULL, NULL, NULL, NULL)",
		"(%d, 'SRID=3857;POINT(1 2)', 'SRID=4326;POINT(13.4 52.5)', 'SRID=4326;POINT(-180 -90)', ARRAY['POINT(1 1)'::geometry, NULL, 'SRID=4326;LINESTRING(0 0,1 1)'::geometry])",
		"(%d, 'POLYGON((0 0,1 0,1 1,0 1,0 0))', 'LINESTRING(0 0,10 10)', NULL, '{}')",
		"(%d, 'POINT EMPTY', 'POINT(0 0)', 'SRID=4326;POINT(180 90)', NULL)",
	},
}

// chRange is what the mirror's Date and DateTime hold (docs/types.md).
type chRange struct {
	dateLo, dateHi int64 // days since 1970
	tsLo, tsHi     int64 // µs since 1970
	seconds        bool  // DateTime keeps whole seconds
}

func rangeFor(oldCH bool) chRange {
	days := func(y, m, d int) int64 {
		return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	if oldCH {
		return chRange{days(1970, 1, 1), days(2105, 12, 31), 0, time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC).UnixMicro(), true}
	}
	return chRange{days(1900, 1, 1), days(2299, 12, 31), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(),
		time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC).UnixMicro(), false}
}

// pgExprOf is the Postgres expression giving column x's canonical text.
func pgExprOf(kind, x string) string {
	switch kind {
	case "date":
		return fmt.Sprintf("CASE WHEN %[1]s = 'infinity' THEN 'infinity' WHEN %[1]s = '-infinity' THEN '-infinity' ELSE (%[1]s - DATE '1970-01-01')::text END", x)
	case "ts":
		return fmt.Sprintf("CASE WHEN isfinite(%[1]s) THEN trunc(extract(epoch FROM %[1]s) * 1000000)::text ELSE %[1]s::text END", x)
	case "hex":
		return fmt.Sprintf("encode(%s, 'hex')", x)
	case "geo":
		return fmt.Sprintf("encode(ST_AsEWKB(%s::geometry), 'hex')", x)
	}
	if elem, ok := strings.CutPrefix(kind, "arr:"); ok {
		return fmt.Sprintf(`CASE WHEN %[1]s IS NULL THEN NULL ELSE cardinality(%[1]s)::text || ':' || array_to_string(ARRAY(SELECT coalesce(%[2]s, '<null>') FROM (SELECT unnest(%[1]s) AS e) AS u), E'\x1e') END`, x, pgExprOf(elem, "e"))
	}
	// The type's output function, as the envelope carries it (a ::text
	// cast would trim char(n) and add /32 to inet hosts).
	// num_nulls, not IS NULL: a row of NULL fields IS NULL, yet is a value.
	return fmt.Sprintf("CASE WHEN num_nulls(%[1]s) = 1 THEN NULL ELSE format('%%s', %[1]s) END", x)
}

// sinkExprOf is the ClickHouse expression (mirror or chDB over the lake)
// giving column x's text. lake: chDB reads the Delta table.
func sinkExprOf(kind, x string, lake, oldCH bool) string {
	switch kind {
	case "date":
		if lake {
			return fmt.Sprintf("toString(toInt32(%s))", x)
		}
		return fmt.Sprintf("toString(%s)", x)
	case "ts":
		if oldCH && !lake {
			return fmt.Sprintf("toString(toUnixTimestamp(%s))", x)
		}
		return fmt.Sprintf("toString(toUnixTimestamp64Micro(%s))", x)
	case "hex", "geo":
		return fmt.Sprintf("lower(hex(%s))", x)
	}
	if elem, ok := strings.CutPrefix(kind, "arr:"); ok {
		return fmt.Sprintf(`concat(toString(length(%[1]s)), ':', arrayStringConcat(arrayMap(e -> ifNull(%[2]s, '<null>'), %[1]s), '\x1e'))`, x, sinkExprOf(elem, "e", lake, oldCH))
	}
	return fmt.Sprintf("toString(%s)", x)
}

const null = "NULL"

// canon turns one system's text for a value into the canonical form:
// numbers parsed, dates as days, timestamps as µs, infinities as words.
func canon(kind, s string, from string, r chRange) string {
	if s == null {
		return s
	}
	switch kind {
	case "f4", "f8":
		bits := 64
		if kind == "f4" {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			return "bad float " + s
		}
		if math.IsNaN(f) {
			return "NaN"
		}
		return strconv.FormatFloat(f, 'g', -1, bits)
	case "dec":
		if s == "NaN" {
			return s
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			return "bad decimal " + s
		}
		return d.String()
	case "bool":
		switch s {
		case "1", "t":
			return "true"
		case "0", "f":
			return "false"
		}
	case "date":
		if from == "ch" { // YYYY-MM-DD
			if s == "0000-00-00" { // how 18.16 shows day 0, 1970-01-01
				return "0"
			}
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return "bad date " + s
			}
			return strconv.FormatInt(t.Unix()/86400, 10)
		}
		if from == "lake" {
			switch s {
			case "2147483647":
				return "infinity"
			case "-2147483648":
				return "-infinity"
			}
		}
	case "ts":
		if from == "ch" && r.seconds {
			n, _ := strconv.ParseInt(s, 10, 64)
			return strconv.FormatInt(n*1_000_000, 10)
		}
		if from == "lake" {
			switch s {
			case "9223372036854775807":
				return "infinity"
			case "-9223372036854775808":
				return "-infinity"
			}
		}
	}
	if elem, ok := strings.CutPrefix(kind, "arr:"); ok {
		n, rest, _ := strings.Cut(s, ":")
		if n == "0" {
			return "[]"
		}
		items := strings.Split(rest, "\x1e")
		for i, it := range items {
			if it == "<null>" {
				items[i] = null
			} else {
				items[i] = canon(elem, it, from, r)
			}
		}
		return "[" + strings.Join(items, "\x1f") + "]"
	}
	return s
}

// ruleCH is the documented ClickHouse mapping of a canonical Postgres
// value (clamp policy).
func ruleCH(kind, v string, r chRange) string {
	if elem, ok := strings.CutPrefix(kind, "arr:"); ok {
		if v == null {
			return "[]" // no Nullable(Array)
		}
		if v == "[]" {
			return v
		}
		items := strings.Split(v[1:len(v)-1], "\x1f")
		for i, it := range items {
			if it != null {
				items[i] = ruleCH(elem, it, r)
			}
		}
		return "[" + strings.Join(items, "\x1f") + "]"
	}
	if v == null {
		return v
	}
	clamp := func(n *big.Int, lo, hi int64) string {
		switch {
		case n.Cmp(big.NewInt(lo)) < 0:
			return strconv.FormatInt(lo, 10)
		case n.Cmp(big.NewInt(hi)) > 0:
			return strconv.FormatInt(hi, 10)
		}
		return n.String()
	}
	switch kind {
	case "dec":
		if v == "NaN" {
			return null
		}
	case "date":
		switch v {
		case "infinity":
			return strconv.FormatInt(r.dateHi, 10)
		case "-infinity":
			return strconv.FormatInt(r.dateLo, 10)
		}
		n, _ := new(big.Int).SetString(v, 10)
		return clamp(n, r.dateLo, r.dateHi)
	case "ts":
		switch v {
		case "infinity":
			return strconv.FormatInt(r.tsHi, 10)
		case "-infinity":
			return strconv.FormatInt(r.tsLo, 10)
		}
		n, _ := new(big.Int).SetString(v, 10)
		out := clamp(n, r.tsLo, r.tsHi)
		if r.seconds {
			m, _ := strconv.ParseInt(out, 10, 64)
			s := m / 1_000_000
			if m%1_000_000 < 0 {
				s--
			}
			return strconv.FormatInt(s*1_000_000, 10)
		}
		return out
	}
	return v
}

// ruleLake is the documented lake mapping: exact, except timestamps past
// the int64 µs range (clamped). chDB, a ClickHouse, has no Nullable(Array):
// it shows a NULL array as [] (Inlet's lake keeps NULL).
func ruleLake(kind, v string) string {
	if strings.HasPrefix(kind, "arr:") && v == null {
		return "[]"
	}
	if elem, ok := strings.CutPrefix(kind, "arr:"); ok && v != null && v != "[]" {
		items := strings.Split(v[1:len(v)-1], "\x1f")
		for i, it := range items {
			if it != null {
				items[i] = ruleLake(elem, it)
			}
		}
		return "[" + strings.Join(items, "\x1f") + "]"
	}
	if kind == "ts" && v != null && v != "infinity" && v != "-infinity" {
		n, _ := new(big.Int).SetString(v, 10)
		if n.Cmp(big.NewInt(math.MaxInt64-1)) > 0 {
			return strconv.FormatInt(math.MaxInt64-1, 10)
		}
	}
	return v
}

type keyedRows map[string][]string // id → canonical values (id excluded)

func pgTypeRows(t *testing.T, conn *pgx.Conn, tb ttable, r chRange) keyedRows {
	t.Helper()
	exprs := make([]string, len(tb.cols))
	for i, col := range tb.cols {
		exprs[i] = pgExprOf(col.kind, pgx.Identifier{col.pg}.Sanitize())
	}
	rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT %s FROM public.%s", strings.Join(exprs, ", "), tb.name))
	if err != nil {
		t.Fatalf("postgres %s: %v", tb.name, err)
	}
	defer rows.Close()
	out := keyedRows{}
	for rows.Next() {
		vals := make([]*string, len(tb.cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r2 := make([]string, len(vals))
		for i, v := range vals {
			s := null
			if v != nil {
				s = *v
			}
			r2[i] = canon(tb.cols[i].kind, s, "pg", r)
		}
		out[r2[0]] = r2[1:]
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func chTypeRows(ctx context.Context, conn driver.Conn, tb ttable, r chRange) (keyedRows, error) {
	exprs := make([]string, len(tb.cols))
	for i, col := range tb.cols {
		exprs[i] = sinkExprOf(col.kind, "`"+col.sink+"`", false, r.seconds)
		if col.kind == "dec" {
			// Scanned as decimals: toString of a Decimal128 is wrong in 18.16.
			exprs[i] = "`" + col.sink + "`"
		}
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM shop.%s_current", strings.Join(exprs, ", "), tb.name))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := keyedRows{}
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r2 := make([]string, len(dest))
		for i, d := range dest {
			s := null
			rv := reflect.ValueOf(d).Elem()
			for rv.Kind() == reflect.Pointer && !rv.IsNil() {
				rv = rv.Elem()
			}
			if rv.Kind() != reflect.Pointer {
				switch x := rv.Interface().(type) {
				case string:
					s = x
				case decimal.Decimal:
					s = x.String()
				default:
					s = fmt.Sprint(x)
				}
			}
			r2[i] = canon(tb.cols[i].kind, s, "ch", r)
		}
		out[r2[0]] = r2[1:]
	}
	return out, rows.Err()
}

// lakeTypeRows reads the latest image per key of a lake table with chDB's
// deltaLakeLocal: per column, the value of the newest change that carried
// it (a TOAST-unchanged column is listed in _unchanged, NULL in its column).
func lakeTypeRows(db *testenv.ChDBConn, dir string, tb ttable, r chRange) (keyedRows, error) {
	exprs := make([]string, len(tb.cols))
	hasNaN := false
	for _, col := range tb.cols {
		hasNaN = hasNaN || col.kind == "dec"
	}
	for i, col := range tb.cols {
		q := "`" + col.sink + "`"
		e := sinkExprOf(col.kind, q, true, false)
		if col.kind == "dec" && hasNaN {
			e = fmt.Sprintf("if(has(splitByChar(',', ifNull(_nan, '')), '%s'), 'NaN', %s)", col.sink, e)
		}
		exprs[i] = fmt.Sprintf("tupleElement(argMaxIf(tuple(%s), (_version, _kafka_offset), NOT has(splitByChar(',', ifNull(_unchanged, '')), '%s')), 1) AS c%d", e, col.sink, i)
	}
	path := filepath.Join(dir, "public."+tb.name)
	// ClickHouse refuses to read a Delta date outside Date32's 1900–2299
	// (VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE): read the table with the
	// structure Delta declares, dates as the Int32 day numbers they are
	// (docs/types.md tells readers the same).
	desc, err := db.Query(fmt.Sprintf("DESCRIBE deltaLakeLocal('%s')", path))
	if err != nil {
		return nil, err
	}
	var structure []string
	for _, d := range desc {
		structure = append(structure, fmt.Sprintf("`%s` %s", d["name"], strings.ReplaceAll(fmt.Sprint(d["type"]), "Date32", "Int32")))
	}
	q := fmt.Sprintf("SELECT %s FROM deltaLakeLocal('%s', 'Parquet', '%s') GROUP BY `id` HAVING argMax(_op, (_version, _kafka_offset)) != 'd'",
		strings.Join(exprs, ", "), path, strings.Join(structure, ", "))
	rows, err := db.Query(q)
	if err != nil {
		return nil, err
	}
	out := keyedRows{}
	for _, m := range rows {
		r2 := make([]string, len(tb.cols))
		for i := range tb.cols {
			v := m[fmt.Sprintf("c%d", i)]
			s := null
			switch x := v.(type) {
			case string:
				s = x
			case float64:
				s = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
			default:
				s = fmt.Sprint(x)
			}
			r2[i] = canon(tb.cols[i].kind, s, "lake", r)
		}
		out[r2[0]] = r2[1:]
	}
	return out, nil
}

// diffTypeRows compares want (Postgres under a rule) with got, naming the
// id and column of each difference.
func diffTypeRows(tb ttable, want, got keyedRows) string {
	var out []string
	ids := map[string]bool{}
	for id := range want {
		ids[id] = true
	}
	for id := range got {
		ids[id] = true
	}
	var sorted []string
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		w, okw := want[id]
		g, okg := got[id]
		switch {
		case !okw:
			out = append(out, fmt.Sprintf("%s id=%s: extra row", tb.name, id))
		case !okg:
			out = append(out, fmt.Sprintf("%s id=%s: missing", tb.name, id))
		default:
			for i := range w {
				if w[i] != g[i] {
					out = append(out, fmt.Sprintf("%s id=%s %s: want %s, got %s", tb.name, id, tb.cols[i+1].sink, clipS(w[i]), clipS(g[i])))
				}
			}
		}
	}
	return strings.Join(out, "\n")
}

func clipS(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%q…(%d bytes)", s[:120], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func mapRows(in keyedRows, f func(kind, v string) string, tb ttable) keyedRows {
	out := keyedRows{}
	for id, vals := range in {
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = f(tb.cols[i+1].kind, v)
		}
		out[id] = r
	}
	return out
}

const typesTimeout = 90 * time.Second

// TestTypeFamilies is the acceptance test of docs/types.md, with every
// change record in the JSON envelope (what other consumers of the topics
// read; the default with brokers).
func TestTypeFamilies(t *testing.T) { typeFamilies(t, "kafka:\n  envelope: json\n") }

// TestTypeFamiliesBinary is TestTypeFamilies in the binary envelope (the
// default with the embedded broker).
func TestTypeFamiliesBinary(t *testing.T) { typeFamilies(t, "") }

func typeFamilies(t *testing.T, kafkaSection string) {
	ctx := context.Background()
	pg := testenv.StartPostgres(t)
	chs := testenv.StartClickHouse(t)
	chdb := testenv.StartChDB(t)
	dir := testDir(t, "inlet-types-")
	conn := pg.Connect(t, "postgres")
	if _, err := conn.Exec(ctx, typesSchema); err != nil {
		t.Fatal(err)
	}
	tables := append([]ttable(nil), typeTables...)
	var hasPostGIS bool
	conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')").Scan(&hasPostGIS)
	if hasPostGIS {
		if _, err := conn.Exec(ctx, postgisSchema); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, gisTable)
	} else {
		t.Log("PostGIS is not installed on this server: geometry and geography are not tested (apt-get install postgresql-15-postgis-3)")
	}
	// Every base type of this server (built in, and the extensions made
	// above) has a documented mapping.
	rows, err := conn.Query(ctx, `SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype = 'b' AND t.typcategory <> 'A' AND n.nspname IN ('pg_catalog', 'public') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		if !pgsrc.Mapped(name) {
			t.Errorf("type %s has no documented mapping in connectors/postgres/types.go", name)
		}
	}
	rows.Close()
	insert := func(base int) {
		t.Helper()
		for _, tb := range tables {
			for i, row := range typeRows[tb.name] {
				if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO public.%s VALUES "+row, tb.name, base+i+1)); err != nil {
					t.Fatalf("insert into %s row %d: %v", tb.name, i+1, err)
				}
			}
		}
	}
	insert(0)

	chConn := chs.Connect(t)
	var v string
	if err := chConn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	ver := strings.Split(v, ".")
	major, _ := strconv.Atoi(ver[0])
	r := rangeFor(major < 20)
	var names []string
	for _, tb := range tables {
		names = append(names, `"public.`+tb.name+`"`)
	}
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables: [%s]
`, pg.DSN("postgres"), strings.Join(names, ", ")), chs.Addr, `engine:
  batch_wait: 200ms
`+kafkaSection)
	logPath := filepath.Join(dir, "inlet.log")
	t.Logf("clickhouse %s; inlet log: %s", v, logPath)
	p := startInlet(t, cfg, logPath)

	check := func(stage string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			if err, done := p.exited(); done {
				t.Fatalf("%s: inlet exited (%v); log:\n%s", stage, err, tailFile(logPath, 40))
			}
			var diffs []string
			for _, tb := range tables {
				want := pgTypeRows(t, conn, tb, r)
				got, err := chTypeRows(ctx, chConn, tb, r)
				if err != nil {
					diffs = append(diffs, "clickhouse "+tb.name+": "+err.Error())
				} else if d := diffTypeRows(tb, mapRows(want, func(k, v string) string { return ruleCH(k, v, r) }, tb), got); d != "" {
					diffs = append(diffs, "clickhouse (want postgres under the clamp rule):\n"+d)
				}
				lk, err := lakeTypeRows(chdb, filepath.Join(dir, "lake"), tb, r)
				if err != nil {
					diffs = append(diffs, "lake "+tb.name+" via chDB: "+err.Error())
				} else if d := diffTypeRows(tb, mapRows(want, ruleLake, tb), lk); d != "" {
					diffs = append(diffs, "lake via chDB (want postgres exactly):\n"+d)
				}
			}
			if len(diffs) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: sinks differ from postgres after %s:\n%s\nlog:\n%s", stage, timeout, strings.Join(diffs, "\n"), tailFile(logPath, 20))
			}
			time.Sleep(time.Second)
		}
	}
	check("snapshot", typesTimeout)

	// Streamed: the same rows again under new ids, updates that move edge
	// values between rows, a TOAST-unchanged update, deletes.
	insert(100)
	stream := []string{
		`UPDATE t_text SET small = small + 10 WHERE id IN (2, 102)`, // big is TOAST-unchanged
		`UPDATE t_time SET d = 'infinity', ts = '-infinity', tz = '0044-03-15 12:00:00+00 BC' WHERE id = 104`,
		`UPDATE t_num SET n10 = 'NaN', r = 'NaN' WHERE id = 105`,
		`UPDATE t_arr SET ai = '{{5,6},{7,8}}', ad = '{infinity}' WHERE id = 101`,
		`UPDATE t_meta SET "_version" = 99, "_deleted" = NULL WHERE id = 102`,
		`DELETE FROM t_geo WHERE id = 103`,
		`DELETE FROM t_range WHERE id = 2`,
	}
	for _, q := range stream {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	check("streamed changes", typesTimeout)

	// The TOAST-unchanged update reached the lake as unchanged (not NULL).
	un, err := chdb.Query(fmt.Sprintf("SELECT count() AS n FROM deltaLakeLocal('%s') WHERE _unchanged = 'big'", filepath.Join(dir, "lake", "public.t_text")))
	if err != nil || len(un) != 1 || fmt.Sprint(un[0]["n"]) == "0" {
		t.Errorf("lake: no change of t_text marks big as TOAST-unchanged (%v, %v)", un, err)
	}
	// The renamed columns say where they come from.
	var comment string
	if err := chConn.QueryRow(ctx, "SELECT comment FROM system.columns WHERE database = 'shop' AND table = 't_meta' AND name = '_version__'").Scan(&comment); err != nil {
		t.Errorf("clickhouse: renamed column _version__ missing: %v", err)
	}
	// Out-of-range values were counted and reported as incidents, once per
	// table and column, and nothing stopped.
	log := tailFile(logPath, 100000)
	if !strings.Contains(log, `table=public.t_bin estimated_rows=0 resumed_at_row=0 format=binary`) {
		t.Errorf("t_bin was not copied in binary; the binary forms of the special values went untested:\n%s", grepLines(log, "t_bin"))
	}
	if !strings.Contains(log, "incident: value out of ClickHouse's range") {
		t.Errorf("no out-of-range incident in the log")
	}
	for _, bad := range []string{"incident: batch failed", "incident: sink stopped", "incident: batch cannot be decoded"} {
		if strings.Contains(log, bad) {
			t.Errorf("log has %q: a value stopped a sink:\n%s", bad, grepLines(log, bad))
		}
	}
	if strings.Contains(log, "does not map") || strings.Contains(log, "no documented mapping") {
		t.Errorf("a built-in type fell back to text with a warning; log:\n%s", grepLines(log, "mapping"))
	}
	p.stop(t, syscall.SIGTERM)

}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
