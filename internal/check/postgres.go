package check

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/internal/config"
)

// postgres checks one Postgres source.
func (ck *checker) postgres(ctx context.Context, i int, s *config.Source) *Group {
	g := &Group{Component: fmt.Sprintf("source %s (postgres)", s.Name)}
	p := fmt.Sprintf("sources[%d].postgres", i)
	pg := s.Postgres
	markUnchecked := func() {
		if ck.unchecked == nil {
			ck.unchecked = map[conf.TableName]bool{}
		}
		for _, t := range pg.Tables {
			ck.unchecked[t.TableName()] = true
		}
	}
	cc, err := pgx.ParseConfig(pg.DSN)
	if err != nil { // Validate checked it; kept for safety
		g.fail("connect", ck.redact(err.Error(), pg.DSN), "fix "+ck.at(p+".dsn"))
		markUnchecked()
		return g
	}
	cc.ConnectTimeout = ck.opt.Timeout
	cc.RuntimeParams["application_name"] = "inlet check"
	where := fmt.Sprintf("%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	cctx, cancel := ck.ctx(ctx)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cc)
	if err != nil {
		g.fail("connect", where+": "+ck.redact(err.Error(), pg.DSN), pgConnectFix(err, ck.at(p+".dsn")))
		g.skipped("tables", "no connection")
		markUnchecked()
		return g
	}
	defer conn.Close(context.Background())
	// The catalog reads get more time than the connection: many tables
	// are many queries.
	cancel()
	cctx, cancel = context.WithTimeout(ctx, 6*ck.opt.Timeout)
	defer cancel()

	srv, err := readServer(cctx, conn)
	if err != nil {
		g.fail("connect", where+": "+ck.redact(err.Error(), pg.DSN), "")
		markUnchecked()
		return g
	}
	g.result(verdictServer(srv, where))
	g.result(verdictWALLevel(srv.walLevel))
	slot, err := readSlot(cctx, conn, pg.Slot, srv.recovery)
	if err != nil {
		g.fail("replication slot "+pg.Slot, err.Error(), "")
	} else {
		g.result(verdictSlot(srv, slot, pg.Slot, ck.at(p+".slot"), pg.MaxRetainedWALMB))
	}
	g.result(verdictSenders(srv, slot))
	var probeErr error
	if srv.super || srv.replication || srv.rdsRepl {
		probeErr = ck.probeReplication(cctx, cc, pg.DSN)
	}
	g.result(verdictRole(srv, probeErr))

	types, err := postgres.LoadTypeMap(cctx, conn)
	if err != nil {
		g.fail("tables", err.Error(), "")
		markUnchecked()
		return g
	}
	textCols := map[string]bool{}
	for _, c := range pg.TextColumns {
		textCols[c] = true
	}
	byName := map[conf.TableName]*pgTable{}
	var cdc []pgTable
	for j, t := range pg.Tables {
		tn := t.TableName()
		ti, err := readTable(cctx, conn, types, tn)
		if err != nil {
			g.fail("table "+tn.String(), err.Error(), "")
			continue
		}
		byName[tn] = ti
		if ti.exists && ti.relkind != "" && relkinds[ti.relkind] == "" {
			ck.tables[tn] = ti
		}
		for _, r := range verdictTable(*ti, t, fmt.Sprintf("%s.tables[%d]", p, j), ck, srv.user, textCols) {
			g.result(r)
		}
		if t.Mode == conf.ModeCDC && ti.exists && relkinds[ti.relkind] == "" {
			cdc = append(cdc, *ti)
		}
	}
	pub, err := readPublication(cctx, conn, pg.Publication)
	if err != nil {
		g.fail("publication "+pg.Publication, err.Error(), "")
	} else {
		g.result(verdictPublication(srv, pub, pg.Publication, cdc))
	}
	for _, r := range verdictTextColumns(pg.TextColumns, byName, ck.at(p+".text_columns")) {
		g.result(r)
	}
	return g
}

// pgConnectFix names the likely fix for a failed connection.
func pgConnectFix(err error, at string) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			return "check the user and password in " + at
		case "28000":
			return "check the user in " + at + ", and that pg_hba.conf lets it connect from this host"
		case "3D000":
			return "create the database, or fix its name in " + at
		case "53300":
			return "the server is out of connections: raise max_connections or close idle sessions"
		}
		return "check " + at
	}
	return "check host and port in " + at + ", and that Postgres runs and listens there (listen_addresses, firewall)"
}

func (ck *checker) redact(msg, dsn string) string {
	if cc, err := pgx.ParseConfig(dsn); err == nil && len(cc.Password) >= 3 {
		msg = strings.ReplaceAll(msg, cc.Password, "***")
	}
	return ck.cfg.Redact(msg)
}

// probeReplication opens a logical replication connection, as capture
// does, and runs IDENTIFY_SYSTEM.
func (ck *checker) probeReplication(ctx context.Context, cc *pgx.ConnConfig, dsn string) error {
	rc := cc.Config.Copy()
	rc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, rc)
	if err != nil {
		return errors.New(ck.redact(err.Error(), dsn))
	}
	defer conn.Close(context.Background())
	if _, err := pglogrepl.IdentifySystem(ctx, conn); err != nil {
		return errors.New(ck.redact(err.Error(), dsn))
	}
	return nil
}

func readServer(ctx context.Context, conn *pgx.Conn) (pgServer, error) {
	var s pgServer
	err := conn.QueryRow(ctx, `
		SELECT current_setting('server_version_num')::int, current_setting('server_version'), pg_is_in_recovery(),
		       current_setting('wal_level'),
		       current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)::int,
		       current_setting('max_wal_senders')::int,
		       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int,
		       current_user, r.rolsuper, r.rolreplication,
		       EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER')),
		       has_database_privilege(current_database(), 'CREATE'), current_database()
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(
		&s.versionNum, &s.version, &s.recovery, &s.walLevel, &s.maxSlots, &s.usedSlots, &s.maxSenders, &s.usedSenders,
		&s.user, &s.super, &s.replication, &s.rdsRepl, &s.canCreate, &s.db)
	if err != nil {
		return s, fmt.Errorf("read server settings: %w", err)
	}
	// "15.18 (Debian 15.18-0+deb12u1)": the number is enough.
	s.version, _, _ = strings.Cut(s.version, " ")
	return s, nil
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string, recovery bool) (pgSlot, error) {
	sl := pgSlot{retainedMB: -1}
	retained := "NULL::bigint"
	if !recovery {
		retained = "(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn) / 1048576)::bigint"
	}
	var retainedMB *int64
	var pid *int32
	err := conn.QueryRow(ctx, `SELECT s.slot_type, COALESCE(s.plugin, ''), COALESCE(s.database::text, ''), s.active, s.active_pid,
		`+retained+`, COALESCE(to_jsonb(s)->>'wal_status', '')
		FROM pg_replication_slots s WHERE s.slot_name = $1`, name).Scan(
		&sl.slotType, &sl.plugin, &sl.database, &sl.active, &pid, &retainedMB, &sl.walStatus)
	if err == pgx.ErrNoRows {
		return sl, nil
	}
	if err != nil {
		return sl, fmt.Errorf("read pg_replication_slots: %w", err)
	}
	sl.exists = true
	if pid != nil {
		sl.activePID = int(*pid)
	}
	if retainedMB != nil {
		sl.retainedMB = *retainedMB
	}
	return sl, nil
}

func readPublication(ctx context.Context, conn *pgx.Conn, name string) (pgPub, error) {
	pub := pgPub{ops: map[string]bool{}, tables: map[conf.TableName]bool{}}
	var ins, upd, del bool
	var trunc *bool
	err := conn.QueryRow(ctx, `SELECT p.puballtables, pg_has_role(p.pubowner, 'MEMBER'), p.pubinsert, p.pubupdate, p.pubdelete,
		(to_jsonb(p)->>'pubtruncate')::bool
		FROM pg_publication p WHERE p.pubname = $1`, name).Scan(&pub.allTables, &pub.owned, &ins, &upd, &del, &trunc)
	if err == pgx.ErrNoRows {
		return pub, nil
	}
	if err != nil {
		return pub, fmt.Errorf("read pg_publication: %w", err)
	}
	pub.exists = true
	pub.ops["insert"], pub.ops["update"], pub.ops["delete"] = ins, upd, del
	pub.ops["truncate"] = trunc == nil || *trunc
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, name)
	if err != nil {
		return pub, fmt.Errorf("read pg_publication_tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t conf.TableName
		if err := rows.Scan(&t.Schema, &t.Table); err != nil {
			return pub, err
		}
		pub.tables[t] = true
	}
	return pub, rows.Err()
}

func readTable(ctx context.Context, conn *pgx.Conn, types *postgres.TypeMap, tn conf.TableName) (*pgTable, error) {
	t := &pgTable{name: tn}
	var oid uint32
	err := conn.QueryRow(ctx, `
		SELECT c.oid, c.relkind::text, c.relreplident::text,
		       has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'),
		       pg_has_role(c.relowner, 'MEMBER'),
		       COALESCE((SELECT array_agg(a.attname::text ORDER BY k.n)
		                 FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(att, n)
		                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att
		                 WHERE i.indrelid = c.oid AND i.indisprimary), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, tn.Schema, tn.Table).Scan(
		&oid, &t.relkind, &t.ident, &t.canSelect, &t.owned, &t.pk)
	if err == pgx.ErrNoRows {
		var s conf.TableName
		err := conn.QueryRow(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE lower(n.nspname) = lower($1) AND lower(c.relname) = lower($2) AND c.relkind IN ('r', 'p') LIMIT 1`,
			tn.Schema, tn.Table).Scan(&s.Schema, &s.Table)
		if err == nil {
			t.similar = s.Quoted()
		}
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", tn, err)
	}
	t.exists = true
	rows, err := conn.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", tn, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c pgColumn
		var typ uint32
		var typmod int32
		if err := rows.Scan(&c.name, &typ, &typmod, &c.typ); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", tn, err)
		}
		c.mapped = types.Maps(typ, typmod)
		t.columns = append(t.columns, c)
	}
	return t, rows.Err()
}

// checkpointsPostgres checks the Postgres checkpoint store: it connects,
// and the table exists or the user may create it.
func (ck *checker) checkpointsPostgres(ctx context.Context, p *config.CheckpointsPostgres) *Group {
	g := &Group{Component: "checkpoints (postgres)"}
	cc, err := pgx.ParseConfig(p.DSN)
	if err != nil {
		g.fail("connect", ck.redact(err.Error(), p.DSN), "fix "+ck.at("checkpoints.postgres.dsn"))
		return g
	}
	cc.ConnectTimeout = ck.opt.Timeout
	where := fmt.Sprintf("%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	cctx, cancel := ck.ctx(ctx)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cc)
	if err != nil {
		g.fail("connect", where+": "+ck.redact(err.Error(), p.DSN), pgConnectFix(err, ck.at("checkpoints.postgres.dsn")))
		return g
	}
	defer conn.Close(context.Background())
	g.ok("connect", where)
	schema, table, ok := strings.Cut(p.Table, ".")
	if !ok {
		schema, table = "", schema
	}
	var exists, canWrite, canCreate bool
	err = conn.QueryRow(cctx, `
		WITH t AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		           WHERE c.relname = $2 AND n.nspname = COALESCE(NULLIF($1, ''), current_schema()))
		SELECT EXISTS (SELECT 1 FROM t),
		       COALESCE((SELECT has_table_privilege(oid, 'SELECT, INSERT, UPDATE, DELETE') FROM t), false),
		       has_schema_privilege(COALESCE(NULLIF($1, ''), current_schema()), 'CREATE')`, schema, table).Scan(&exists, &canWrite, &canCreate)
	switch {
	case err != nil:
		g.fail("table "+p.Table, err.Error(), "")
	case exists && !canWrite:
		g.fail("table "+p.Table, fmt.Sprintf("exists, but user %s may not read and write it", cc.User),
			fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %s", p.Table, conf.QuoteIdent(cc.User)))
	case exists:
		g.ok("table "+p.Table, "exists and is writable")
	case !canCreate:
		g.fail("table "+p.Table, fmt.Sprintf("absent, and user %s may not create it", cc.User),
			"create it as another user and grant access, or GRANT CREATE ON SCHEMA to the user")
	default:
		g.ok("table "+p.Table, "absent; Inlet creates it on first start")
	}
	return g
}
