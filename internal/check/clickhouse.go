package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// clickhouse checks the ClickHouse sink: the server answers with these
// credentials, its version, that the user may create tables in the
// database (or the database itself), and that each summary's source is
// there and its expressions fit the mirror.
func (ck *checker) clickhouse(ctx context.Context, cfg *clickhouse.Config) *Group {
	g := &Group{Component: "clickhouse"}
	conn, err := ch.Open(&ch.Options{
		Addr:        []string{cfg.Addr},
		Auth:        ch.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		Protocol:    ch.Native,
		DialTimeout: ck.opt.Timeout,
	})
	if err != nil {
		g.fail("connect", cfg.Addr+": "+ck.chRedact(err.Error(), cfg), "fix "+ck.at("clickhouse.addr"))
		return g
	}
	defer conn.Close()
	cctx, cancel := ck.ctx(ctx)
	defer cancel()
	var version string
	if err := conn.QueryRow(cctx, "SELECT version()").Scan(&version); err != nil {
		g.fail("connect", cfg.Addr+": "+ck.chRedact(err.Error(), cfg), chConnectFix(err, ck))
		g.skipped("database "+cfg.Database, "no connection")
		return g
	}
	cancel()
	g.ok("connect", fmt.Sprintf("%s as %s", cfg.Addr, userOr(cfg.Username)))
	g.result(verdictCHVersion(version))
	step := func(f func(context.Context) Result) {
		sctx, cancel := ck.ctx(ctx)
		defer cancel()
		g.result(f(sctx))
	}
	step(func(ctx context.Context) Result { return ck.chDatabase(ctx, conn, cfg) })
	for i, s := range cfg.Summaries {
		step(func(ctx context.Context) Result { return ck.chSummary(ctx, conn, cfg, i, s) })
	}
	return g
}

func userOr(u string) string {
	if u == "" {
		return "default"
	}
	return u
}

func (ck *checker) chRedact(msg string, cfg *clickhouse.Config) string {
	if len(cfg.Password) >= 3 {
		msg = strings.ReplaceAll(msg, cfg.Password, "***")
	}
	return ck.cfg.Redact(msg)
}

func chConnectFix(err error, ck *checker) string {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 192, 193, 194, 516: // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
			return "check " + ck.at("clickhouse.username") + " and password"
		}
		return "check " + ck.at("clickhouse")
	}
	return "check " + ck.at("clickhouse.addr") + " (the native protocol port, usually 9000, not the HTTP port 8123) and that ClickHouse runs there"
}

// verdictCHVersion judges a server version: older than 18.16 is untested;
// before 21.12 some types are stored with less fidelity.
func verdictCHVersion(s string) Result {
	v, err := clickhouse.ParseVersion(s)
	if err != nil {
		return Result{Warn, "version", err.Error(), "Inlet assumes a current release; tell us what version() returned"}
	}
	switch {
	case !v.AtLeast(18, 16):
		return Result{Warn, "version", s + ": older than 18.16, the oldest release Inlet is tested with",
			"upgrade ClickHouse (Inlet's DDL may use what this release lacks)"}
	case !v.AtLeast(20, 1):
		return Result{OK, "version", s + "; before 20.1 timestamps are stored as DateTime (whole seconds), dates as Date and booleans as UInt8 (21.12 keeps all three exactly)", ""}
	case !v.AtLeast(21, 9):
		return Result{OK, "version", s + "; before 21.9 dates are stored as Date (1970 to 2149) and before 21.12 booleans as UInt8", ""}
	case !v.AtLeast(21, 12):
		return Result{OK, "version", s + "; before 21.12 booleans are stored as UInt8", ""}
	}
	return Result{OK, "version", s, ""}
}

func chQuote(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" }

var probeSeq = time.Now().UnixNano()

func probeName() string {
	probeSeq++
	return fmt.Sprintf("_inlet_check_%d_%d", os.Getpid(), probeSeq)
}

// chDatabase checks the user may create, write and drop a table in the
// database, or, when it does not exist yet, create and drop a database.
func (ck *checker) chDatabase(ctx context.Context, conn driver.Conn, cfg *clickhouse.Config) Result {
	check := "database " + cfg.Database
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", cfg.Database).Scan(&n); err != nil {
		return Result{Fail, check, "cannot read system.databases: " + err.Error(), "let the user read system tables"}
	}
	if n == 0 {
		probe := probeName()
		if err := conn.Exec(ctx, "CREATE DATABASE "+chQuote(probe)); err != nil {
			return Result{Fail, check, "does not exist, and the user may not create a database: " + firstLine(err),
				fmt.Sprintf("create it (CREATE DATABASE %s) and let the user create tables in it, or grant the user CREATE DATABASE", chQuote(cfg.Database))}
		}
		if err := conn.Exec(ctx, "DROP DATABASE "+chQuote(probe)); err != nil {
			return Result{Warn, check, "does not exist; Inlet can create it, but dropping the probe database failed: " + firstLine(err), "DROP DATABASE " + chQuote(probe)}
		}
		return Result{OK, check, "does not exist; Inlet creates it on first start (a probe database was created and dropped)", ""}
	}
	probe := chQuote(cfg.Database) + "." + chQuote(probeName())
	if err := conn.Exec(ctx, "CREATE TABLE "+probe+" (x UInt8) ENGINE = Memory"); err != nil {
		return Result{Fail, check, "exists, but the user may not create tables in it: " + firstLine(err),
			"let the user create, alter and drop tables in " + cfg.Database + " (readonly = 0; GRANT ALL ON " + chQuote(cfg.Database) + ".* on releases with access control)"}
	}
	defer conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+probe)
	// N.B. an INSERT goes as a batch, as the sink writes: a plain Exec of
	// INSERT ... VALUES waits for data on the native protocol.
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+probe+" (x)")
	if err == nil {
		if err = b.Append(uint8(1)); err == nil {
			err = b.Send()
		} else {
			b.Abort()
		}
	}
	if err != nil {
		return Result{Fail, check, "exists, but the user may not insert into its tables: " + firstLine(err),
			"let the user insert into tables of " + cfg.Database}
	}
	if err := conn.Exec(ctx, "DROP TABLE "+probe); err != nil {
		return Result{Fail, check, "exists, but the user may not drop tables in it (refreshes and rebuilds do): " + firstLine(err),
			"let the user drop tables in " + cfg.Database + "; then DROP TABLE " + probe}
	}
	return Result{OK, check, "exists; the user may create, write and drop tables in it", ""}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// chSummary checks a summary's source: the table exists upstream; when
// its mirror exists, the summary's SELECT runs on it (WHERE 0); otherwise
// its plain column dimensions are columns of the source table.
func (ck *checker) chSummary(ctx context.Context, conn driver.Conn, cfg *clickhouse.Config, i int, s clickhouse.Summary) Result {
	check := "summary " + s.Name
	at := ck.at(fmt.Sprintf("clickhouse.summaries[%d]", i))
	tn, _ := conf.ParseTableName(s.From)
	mirror := clickhouse.TableName(&change.Schema{Namespace: tn.Schema, Table: tn.Table})
	t, found := ck.tables[tn]
	fromPG := found || ck.unchecked[tn] || ck.capturedByPostgres(tn)
	if fromPG && !found && !ck.unchecked[tn] {
		return Result{Fail, check, fmt.Sprintf("from %s, which is not a table upstream (see its source)", tn), "fix the table, or " + at + ".from"}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", cfg.Database, mirror).Scan(&n); err != nil {
		return Result{Fail, check, "cannot read system.tables: " + firstLine(err), ""}
	}
	if n > 0 {
		var dims, names, items []string
		for _, d := range s.Dimensions {
			e, name, _ := clickhouse.SplitAlias(d)
			dims = append(dims, e+" AS "+chQuote(name))
			names = append(names, chQuote(name))
		}
		items = append(items, dims...)
		for _, m := range s.Measures {
			e, name, _ := clickhouse.SplitAlias(m)
			items = append(items, e+" AS "+chQuote(name))
		}
		where := "0"
		if w := strings.TrimSpace(s.Where); w != "" {
			where = "0 AND (" + w + ")"
		}
		q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE %s GROUP BY %s", strings.Join(items, ", "), chQuote(cfg.Database), chQuote(mirror), where, strings.Join(names, ", "))
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return Result{Fail, check, fmt.Sprintf("its query does not run on mirror %s.%s: %s", cfg.Database, mirror, firstLine(err)),
				"fix the dimensions, measures or where of " + at}
		}
		rows.Close()
		return Result{OK, check, fmt.Sprintf("from %s; its query runs on mirror %s.%s", tn, cfg.Database, mirror), ""}
	}
	if found {
		cols := map[string]bool{}
		for _, c := range t.columns {
			cols[c.name] = true
		}
		var unknown []string
		for _, d := range s.Dimensions {
			if e, _, _ := clickhouse.SplitAlias(d); identRe.MatchString(e) && !cols[e] {
				unknown = append(unknown, e)
			}
		}
		if len(unknown) > 0 {
			return Result{Fail, check, fmt.Sprintf("dimensions name %s, not columns of %s", strings.Join(unknown, ", "), tn),
				"fix the dimensions of " + at}
		}
	}
	return Result{OK, check, fmt.Sprintf("from %s; mirror %s.%s is created on first start, the query checked then", tn, cfg.Database, mirror), ""}
}

func (ck *checker) capturedByPostgres(tn conf.TableName) bool {
	for _, s := range ck.cfg.Sources {
		if s.Postgres == nil {
			continue
		}
		for _, t := range s.Postgres.Tables {
			if t.TableName() == tn {
				return true
			}
		}
	}
	return false
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
