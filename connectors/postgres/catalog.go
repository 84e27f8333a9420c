package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// pgType is one row of pg_type, as much as the mapping needs.
type pgType struct {
	name    string
	typtype byte   // b base, e enum, d domain, c composite, r range
	elem    uint32 // element type of an array type
	base    uint32 // base type of a domain
	isArray bool
}

func loadTypes(ctx context.Context, conn *pgx.Conn) (map[uint32]pgType, error) {
	rows, err := conn.Query(ctx, `SELECT oid, typname, typtype, typelem, typbasetype, typcategory = 'A' FROM pg_type`)
	if err != nil {
		return nil, fmt.Errorf("load pg_type: %w", err)
	}
	defer rows.Close()
	out := map[uint32]pgType{}
	for rows.Next() {
		var oid, elem, base uint32
		var name string
		var tt string
		var arr bool
		if err := rows.Scan(&oid, &name, &tt, &elem, &base, &arr); err != nil {
			return nil, fmt.Errorf("load pg_type: %w", err)
		}
		out[oid] = pgType{name: name, typtype: tt[0], elem: elem, base: base, isArray: arr && elem != 0}
	}
	return out, rows.Err()
}

// mapColumn maps one Postgres column to a change.Column. Every type maps:
// the table in types.go, then the type's kind (enum, composite, range,
// multirange: their text form), and otherwise its text form with a warning
// (noted in fallbacks, logged by encoderFor). It fails only for an oid the
// catalog does not have.
func mapColumn(types map[uint32]pgType, table conf.TableName, name string, oid uint32, typmod int32, textCols map[string]bool) (change.Column, error) {
	c := change.Column{Name: name}
	t, ok := types[oid]
	if !ok {
		return c, fmt.Errorf("column %s.%s: type oid %d is unknown", table, name, oid)
	}
	c.SourceType = t.name
	if textCols[table.String()+"."+name] {
		c.Kind = change.String
		return c, nil
	}
	for t.typtype == 'd' { // domain: map its base type
		t = types[t.base]
	}
	if t.isArray {
		et := types[t.elem]
		for et.typtype == 'd' {
			et = types[et.base]
		}
		ek, known := scalarKind(et)
		if !known {
			fallbacks.Store(table.String()+"."+name, et.name+"[]")
		}
		c.Kind, c.Elem = change.Array, ek
		c.SourceType = types[t.elem].name + "[]"
		return c, nil
	}
	k, known := scalarKind(t)
	if !known {
		fallbacks.Store(table.String()+"."+name, t.name)
	}
	c.Kind = k
	if k == change.Decimal && typmod >= 4 {
		c.Precision = int(((typmod - 4) >> 16) & 0xffff)
		c.Scale = int((typmod - 4) & 0xffff)
		c.SourceType = fmt.Sprintf("numeric(%d,%d)", c.Precision, c.Scale)
	}
	return c, nil
}

// scalarKind is the kind of a non-array, non-domain type, and whether the
// mapping is documented (false: carried as text with a warning).
func scalarKind(t pgType) (change.Kind, bool) {
	switch t.typtype {
	case 'e', 'c', 'r', 'm': // enum, composite, range, multirange
		return change.String, true
	}
	if m, ok := typeByName[t.name]; ok {
		return m.Kind, true
	}
	return change.String, false
}

// fallbacks holds "schema.table.column" → type name of columns carried as
// text because their type is not in the table; encoderFor logs each once
// per mapping.
var fallbacks sync.Map

// tableInfo is what the catalog says about one captured table.
type tableInfo struct {
	name    conf.TableName
	oid     uint32
	columns []change.Column
	keys    map[string]bool
	keyCols []string          // primary-key columns in key order
	typeSQL map[string]string // column → format_type, for typed literals
	ident   byte              // relreplident: d default, f full, n nothing, i index
	estRows int64             // pg_class.reltuples
	cfg     Table
	wires   []wire // each column's binary COPY form
}

// loadTable reads a table's definition. fullRefresh tables need no key.
func loadTable(ctx context.Context, conn *pgx.Conn, types map[uint32]pgType, t conf.TableName, textCols map[string]bool, fullRefresh bool) (*tableInfo, error) {
	ti := &tableInfo{name: t, keys: map[string]bool{}, typeSQL: map[string]string{}}
	var ident string
	err := conn.QueryRow(ctx, `SELECT c.oid, c.relreplident, GREATEST(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r','p')`, t.Schema, t.Table).Scan(&ti.oid, &ident, &ti.estRows)
	if err == pgx.ErrNoRows {
		return nil, needsUser(fmt.Errorf("table %s does not exist; create it or fix sources[].postgres.tables (names are case-sensitive inside quotes)", t))
	}
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", t, err)
	}
	ti.ident = ident[0]
	rows, err := conn.Query(ctx, `
		SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, a.attndims,
		       COALESCE(a.attnum = ANY(i.indkey), false),
		       format_type(a.atttypid, a.atttypmod),
		       COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0)::int
		FROM pg_attribute a
		LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, ti.oid)
	if err != nil {
		return nil, fmt.Errorf("load columns of %s: %w", t, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var oid uint32
		var typmod int32
		var key bool
		var typeSQL string
		var keyPos int
		var ndims int32
		var attnum int16
		if err := rows.Scan(&name, &attnum, &oid, &typmod, &ndims, &key, &typeSQL, &keyPos); err != nil {
			return nil, fmt.Errorf("load columns of %s: %w", t, err)
		}
		if k := t.String() + "." + name; ndims > 1 && !textCols[k] {
			// Declared with several dimensions (int[][]): carried as its
			// text form, which keeps the shape. Recorded in textCols so
			// the stream's relation messages, which do not say, agree.
			// (Written only the first time, when Open loads the tables,
			// before any reader runs.)
			textCols[k] = true
		}
		col, err := mapColumn(types, t, name, oid, typmod, textCols)
		if err != nil {
			return nil, err
		}
		col.Key = key
		col.Attnum = int(attnum)
		ti.typeSQL[name] = typeSQL
		if key {
			ti.keys[name] = true
			for len(ti.keyCols) < keyPos {
				ti.keyCols = append(ti.keyCols, "")
			}
			ti.keyCols[keyPos-1] = name
		}
		ti.columns = append(ti.columns, col)
		ti.wires = append(ti.wires, wireOf(types, oid))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if fullRefresh {
		return ti, nil
	}
	if len(ti.keys) == 0 {
		return nil, needsUser(fmt.Errorf("table %s has no primary key; mode cdc needs one to key its changes: add a primary key, or capture it with mode: full_refresh (a consistent copy on a schedule)", t))
	}
	if ti.ident == 'n' {
		return nil, needsUser(fmt.Errorf("table %s has REPLICA IDENTITY NOTHING, so its updates and deletes cannot be captured; run ALTER TABLE %s REPLICA IDENTITY DEFAULT", t, t.Quoted()))
	}
	return ti, nil
}

// ensurePublication creates the publication, or adds tables it lacks.
func ensurePublication(ctx context.Context, conn *pgx.Conn, pub string, tables []conf.TableName) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, pub).Scan(&exists); err != nil {
		return fmt.Errorf("check publication %s: %w", pub, err)
	}
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = t.Quoted()
	}
	if !exists {
		sql := "CREATE PUBLICATION " + conf.QuoteIdent(pub)
		if len(quoted) > 0 {
			sql += " FOR TABLE " + strings.Join(quoted, ", ")
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("create publication %s: %w (the user needs CREATE on the database and ownership of the tables)", pub, err)
		}
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, pub)
	if err != nil {
		return fmt.Errorf("list publication %s: %w", pub, err)
	}
	have := map[conf.TableName]bool{}
	for rows.Next() {
		var t conf.TableName
		if err := rows.Scan(&t.Schema, &t.Table); err != nil {
			rows.Close()
			return err
		}
		have[t] = true
	}
	rows.Close()
	for i, t := range tables {
		if !have[t] {
			if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s", conf.QuoteIdent(pub), quoted[i])); err != nil {
				return fmt.Errorf("add %s to publication %s: %w", t, pub, err)
			}
		}
	}
	return nil
}

// attnums reads the attribute number of each live column of a table, by
// name: what tells a renamed column (same attnum, new name) from a dropped
// and an added one (a new attnum; Postgres never reuses one).
func attnums(ctx context.Context, conn *pgx.Conn, oid uint32) (map[string]int, error) {
	rows, err := conn.Query(ctx, `SELECT attname, attnum FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, oid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int16
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = int(n)
	}
	return out, rows.Err()
}
