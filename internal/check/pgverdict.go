package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/connectors/postgres"
)

// pgServer is what a Postgres source's server says about itself and the
// connecting user.
type pgServer struct {
	versionNum  int
	version     string
	recovery    bool // a standby
	walLevel    string
	maxSlots    int
	usedSlots   int
	maxSenders  int
	usedSenders int
	user        string
	super       bool
	replication bool
	rdsRepl     bool // member of rds_replication (Amazon RDS)
	canCreate   bool // CREATE on the database (to create a publication)
	db          string
}

// pgSlot is the configured replication slot, if it exists.
type pgSlot struct {
	exists     bool
	slotType   string // logical or physical
	plugin     string
	database   string
	active     bool
	activePID  int
	retainedMB int64 // WAL the slot holds back; -1 unknown
	walStatus  string
}

// pgPub is the configured publication, if it exists.
type pgPub struct {
	exists    bool
	allTables bool
	owned     bool // the user may alter it
	ops       map[string]bool
	tables    map[conf.TableName]bool
}

// pgColumn is one column of a captured table.
type pgColumn struct {
	name, typ string
	mapped    bool // capture maps its type natively
}

// pgTable is a configured table as the catalog describes it.
type pgTable struct {
	name      conf.TableName
	exists    bool
	relkind   string
	ident     string // relreplident: d default, f full, n nothing, i index
	pk        []string
	canSelect bool
	owned     bool
	columns   []pgColumn
	similar   string // a table whose name differs only in case, for a hint
}

var relkinds = map[string]string{"v": "a view", "m": "a materialized view", "f": "a foreign table",
	"S": "a sequence", "i": "an index", "c": "a composite type", "I": "an index", "t": "a TOAST table"}

func verdictServer(s pgServer, where string) Result {
	switch {
	case s.versionNum > 0 && s.versionNum < 100000:
		return Result{Fail, "connect", fmt.Sprintf("%s, PostgreSQL %s: pgoutput logical replication needs PostgreSQL 10 or later", where, s.version),
			"upgrade Postgres (Inlet is tested with 15), or capture these tables with another tool"}
	case s.recovery:
		return Result{Fail, "connect", fmt.Sprintf("%s, PostgreSQL %s, is a standby (in recovery): Inlet creates a slot and writes heartbeats on the primary", where, s.version),
			"point the dsn at the primary"}
	}
	return Result{OK, "connect", fmt.Sprintf("%s, PostgreSQL %s", where, s.version), ""}
}

func verdictWALLevel(level string) Result {
	if level == "logical" {
		return Result{OK, "wal_level", "logical", ""}
	}
	return Result{Fail, "wal_level", fmt.Sprintf("%s; logical replication needs wal_level=logical", level),
		"as a superuser run ALTER SYSTEM SET wal_level = logical, then restart Postgres (Amazon RDS: set rds.logical_replication = 1 in the parameter group; Cloud SQL: the cloudsql.logical_decoding flag)"}
}

func verdictRole(s pgServer, probeErr error) Result {
	var has string
	switch {
	case s.super:
		has = "is a superuser"
	case s.replication:
		has = "has REPLICATION"
	case s.rdsRepl:
		has = "is a member of rds_replication"
	default:
		return Result{Fail, "replication role", fmt.Sprintf("user %s has neither REPLICATION nor SUPERUSER; logical replication needs one", s.user),
			fmt.Sprintf("as a superuser run ALTER ROLE %s WITH REPLICATION (Amazon RDS: GRANT rds_replication TO %s)", conf.QuoteIdent(s.user), conf.QuoteIdent(s.user))}
	}
	if probeErr != nil {
		return Result{Fail, "replication role", fmt.Sprintf("user %s %s, but a replication connection fails: %v", s.user, has, probeErr),
			"let the user open replication connections to this database in pg_hba.conf (a logical replication connection matches the database name, not the keyword replication), and check max_wal_senders"}
	}
	return Result{OK, "replication role", fmt.Sprintf("user %s %s; a replication connection works", s.user, has), ""}
}

func verdictSlot(s pgServer, slot pgSlot, name, at string, maxRetainedMB int) Result {
	check := "replication slot " + name
	if !slot.exists {
		if s.usedSlots >= s.maxSlots {
			return Result{Fail, check, fmt.Sprintf("absent, and all %d replication slots are in use (max_replication_slots=%d)", s.usedSlots, s.maxSlots),
				"raise max_replication_slots in postgresql.conf and restart Postgres, or drop a slot nothing uses (SELECT slot_name, active FROM pg_replication_slots)"}
		}
		return Result{OK, check, fmt.Sprintf("absent; Inlet creates it on first start (%d of %d slots in use)", s.usedSlots, s.maxSlots), ""}
	}
	drop := fmt.Sprintf("if nothing else uses it, drop it (SELECT pg_drop_replication_slot('%s')) and Inlet creates its own; or name another slot in %s", name, at)
	switch {
	case slot.slotType != "logical":
		return Result{Fail, check, fmt.Sprintf("exists but is a %s slot; Inlet needs a logical slot with plugin pgoutput", slot.slotType), drop}
	case slot.plugin != "pgoutput":
		return Result{Fail, check, fmt.Sprintf("exists with plugin %s; Inlet reads pgoutput", slot.plugin), drop}
	case slot.database != s.db:
		return Result{Fail, check, fmt.Sprintf("exists in database %s, not %s", slot.database, s.db), drop}
	case slot.walStatus == "lost":
		return Result{Fail, check, "exists but lost WAL it needed (wal_status lost): changes are gone",
			fmt.Sprintf("drop it (SELECT pg_drop_replication_slot('%s')) and start the pipeline over from a snapshot (delete its state_dir and Kafka topics)", name)}
	case slot.active:
		return Result{Warn, check, fmt.Sprintf("exists (pgoutput) and is in use by backend pid %d", slot.activePID),
			"only one reader can stream a slot: if another inlet runs this pipeline, stop it first, or give this one another slot name"}
	case maxRetainedMB > 0 && slot.retainedMB > int64(maxRetainedMB):
		return Result{Warn, check, fmt.Sprintf("exists (pgoutput) and holds back %d MB of WAL (max_retained_wal_mb %d)", slot.retainedMB, maxRetainedMB),
			"start Inlet so the slot advances; if the pipeline is retired, run inlet teardown so Postgres can free the WAL"}
	}
	held := ""
	if slot.retainedMB >= 0 {
		held = fmt.Sprintf(", holds back %d MB of WAL", slot.retainedMB)
	}
	return Result{OK, check, "exists (pgoutput)" + held, ""}
}

func verdictSenders(s pgServer, slot pgSlot) Result {
	if s.usedSenders >= s.maxSenders {
		return Result{Fail, "wal senders", fmt.Sprintf("all %d in use (max_wal_senders=%d); Inlet needs one per source", s.usedSenders, s.maxSenders),
			"raise max_wal_senders in postgresql.conf and restart Postgres"}
	}
	return Result{OK, "wal senders", fmt.Sprintf("%d of %d in use", s.usedSenders, s.maxSenders), ""}
}

// verdictTable returns the problems of one configured table, or one OK.
func verdictTable(t pgTable, cfg postgres.Table, path string, ck *checker, user string, textCols map[string]bool) []Result {
	check := "table " + t.name.String()
	if !t.exists {
		d := "does not exist"
		if t.similar != "" {
			d += fmt.Sprintf(" (there is %s: quote the name to keep its case)", t.similar)
		}
		return []Result{{Fail, check, d, fmt.Sprintf("create it, or fix or remove %s", ck.at(path))}}
	}
	if k, ok := relkinds[t.relkind]; ok {
		return []Result{{Fail, check, "is " + k + "; Inlet captures tables", fmt.Sprintf("capture the tables underneath instead, in %s", ck.at(path))}}
	}
	var out []Result
	if !t.canSelect {
		out = append(out, Result{Fail, check, fmt.Sprintf("user %s may not read it (SELECT), which the snapshot needs", user),
			fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s; GRANT SELECT ON %s TO %s", conf.QuoteIdent(t.name.Schema), conf.QuoteIdent(user), t.name.Quoted(), conf.QuoteIdent(user))})
	}
	cdc := cfg.Mode == conf.ModeCDC
	if cdc && len(t.pk) == 0 {
		out = append(out, Result{Fail, check, "has no primary key; mode cdc keys every change by it",
			fmt.Sprintf("add a primary key, or set mode: full_refresh with an interval on %s (a consistent copy on a schedule)", ck.at(path))})
	}
	if cdc && t.ident == "n" {
		out = append(out, Result{Fail, check, "has REPLICA IDENTITY NOTHING: its updates and deletes cannot be captured",
			fmt.Sprintf("ALTER TABLE %s REPLICA IDENTITY DEFAULT", t.name.Quoted())})
	}
	var unmapped, fix []string
	for _, c := range t.columns {
		if !c.mapped && !textCols[t.name.String()+"."+c.name] {
			unmapped = append(unmapped, fmt.Sprintf("%s (%s)", c.name, c.typ))
			fix = append(fix, fmt.Sprintf("%q", t.name.String()+"."+c.name))
		}
	}
	if len(unmapped) > 0 {
		out = append(out, Result{Fail, check, "has columns of types Inlet does not map: " + strings.Join(unmapped, ", "),
			fmt.Sprintf("add %s to %s to carry them as text", strings.Join(fix, ", "), ck.at(path[:strings.Index(path, ".tables")]+".text_columns"))})
	}
	if len(out) > 0 {
		return out
	}
	var notes []string
	if len(t.pk) > 0 {
		notes = append(notes, "primary key ("+strings.Join(t.pk, ", ")+")")
	} else {
		notes = append(notes, "no primary key (fine for full_refresh)")
	}
	if cdc {
		switch t.ident {
		case "f":
			notes = append(notes, "REPLICA IDENTITY FULL (every update and delete logs the whole old row; DEFAULT is enough with a primary key)")
		case "i":
			notes = append(notes, "REPLICA IDENTITY USING INDEX")
		default:
			notes = append(notes, "REPLICA IDENTITY DEFAULT")
		}
	} else {
		notes = append(notes, "mode "+cfg.Mode)
	}
	notes = append(notes, count(len(t.columns), "column"))
	return []Result{{OK, check, strings.Join(notes, ", "), ""}}
}

// verdictPublication checks that the publication covers the cdc tables,
// or that Inlet may create or extend it.
func verdictPublication(s pgServer, pub pgPub, name string, cdc []pgTable) Result {
	check := "publication " + name
	if len(cdc) == 0 {
		return Result{OK, check, "not needed (no cdc tables)", ""}
	}
	var notOwned []string
	list := func(ts []pgTable) string {
		q := make([]string, len(ts))
		for i, t := range ts {
			q[i] = t.name.Quoted()
		}
		return strings.Join(q, ", ")
	}
	if !pub.exists {
		for _, t := range cdc {
			if !t.owned {
				notOwned = append(notOwned, t.name.String())
			}
		}
		var why []string
		if !s.canCreate {
			why = append(why, "has no CREATE privilege on database "+s.db)
		}
		if len(notOwned) > 0 {
			why = append(why, "does not own "+strings.Join(notOwned, ", "))
		}
		if len(why) == 0 {
			return Result{OK, check, "absent; Inlet creates it on first start for " + count(len(cdc), "table"), ""}
		}
		return Result{Fail, check, fmt.Sprintf("absent, and user %s cannot create it: %s", s.user, strings.Join(why, "; ")),
			fmt.Sprintf("as the tables' owner run CREATE PUBLICATION %s FOR TABLE %s", conf.QuoteIdent(name), list(cdc))}
	}
	var lacking []string
	for _, op := range []string{"insert", "update", "delete", "truncate"} {
		if !pub.ops[op] {
			lacking = append(lacking, op)
		}
	}
	if len(lacking) > 0 {
		return Result{Warn, check, "does not publish " + strings.Join(lacking, ", ") + ": those changes never reach Inlet",
			fmt.Sprintf("ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate')", conf.QuoteIdent(name))}
	}
	if pub.allTables {
		return Result{OK, check, "exists, FOR ALL TABLES", ""}
	}
	var missing []pgTable
	for _, t := range cdc {
		if !pub.tables[t.name] {
			missing = append(missing, t)
			if !t.owned {
				notOwned = append(notOwned, t.name.String())
			}
		}
	}
	if len(missing) == 0 {
		return Result{OK, check, "exists and covers the " + count(len(cdc), "cdc table"), ""}
	}
	names := make([]string, len(missing))
	for i, t := range missing {
		names[i] = t.name.String()
	}
	if pub.owned && len(notOwned) == 0 {
		return Result{OK, check, "exists without " + strings.Join(names, ", ") + "; Inlet adds them on start", ""}
	}
	var why []string
	if !pub.owned {
		why = append(why, "does not own the publication")
	}
	if len(notOwned) > 0 {
		why = append(why, "does not own "+strings.Join(notOwned, ", "))
	}
	return Result{Fail, check, fmt.Sprintf("exists without %s, and user %s cannot add them: %s", strings.Join(names, ", "), s.user, strings.Join(why, "; ")),
		fmt.Sprintf("as the owner run ALTER PUBLICATION %s ADD TABLE %s", conf.QuoteIdent(name), list(missing))}
}

// verdictTextColumns warns about text_columns entries that name nothing.
func verdictTextColumns(entries []string, tables map[conf.TableName]*pgTable, at string) []Result {
	var unknown []string
	for _, e := range entries {
		i := strings.LastIndex(e, ".")
		tn, err := conf.ParseTableName(e[:i])
		if err != nil {
			continue
		}
		t, ok := tables[tn]
		if !ok {
			unknown = append(unknown, e+" (not a captured table)")
			continue
		}
		if !t.exists {
			continue
		}
		if !slices.ContainsFunc(t.columns, func(c pgColumn) bool { return c.name == e[i+1:] }) {
			unknown = append(unknown, e+" (no such column)")
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return []Result{{Warn, "text_columns", "lists " + strings.Join(unknown, ", "), "fix or remove them in " + at}}
}
