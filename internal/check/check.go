// Package check connects to everything a pipeline names and reports, all
// at once, what would stop Inlet or make it misbehave: a Postgres without
// wal_level=logical, a user without REPLICATION, a table without a primary
// key in cdc mode, a column type Inlet does not map, an API that answers
// 401, a ClickHouse where the user may not create tables, a lake path that
// is not writable, a Kafka broker that does not answer.
//
// Every check ends OK, WARN or FAIL. A FAIL names the thing and the fix.
// A check never changes anything a pipeline relies on: it reads catalogs,
// opens and closes connections, and its only writes are probes it removes
// at once (a file in the lake directory, a table or database named
// _inlet_check_* in ClickHouse). Checks that depend on a failed one (the
// tables of a Postgres that does not answer) are reported as not checked.
//
// How the verdicts are reached is split from how facts are read: the
// verdict functions take plain values (a wal_level string, slot counts) so
// they are tested without servers; Run reads the facts from the servers.
package check

import (
	"context"
	"fmt"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// Options tune Run.
type Options struct {
	// Timeout bounds each connection attempt and each probe request;
	// default 10s.
	Timeout time.Duration
}

// Run checks every component of c (which must have passed Validate) and
// returns the report. It does not stop at the first problem.
func Run(ctx context.Context, c *config.Config, opt Options) *Report {
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	r := &Report{Pipeline: c.Pipeline, File: c.File()}
	ck := &checker{cfg: c, opt: opt, tables: map[conf.TableName]*pgTable{}}
	r.Groups = append(r.Groups, ck.kafka(ctx))
	for i := range c.Sources {
		s := &c.Sources[i]
		switch {
		case s.Postgres != nil:
			r.Groups = append(r.Groups, ck.postgres(ctx, i, s))
		case s.HTTP != nil:
			r.Groups = append(r.Groups, ck.http(ctx, i, s))
		}
	}
	if p := c.Checkpoints.Postgres; p != nil {
		r.Groups = append(r.Groups, ck.checkpointsPostgres(ctx, p))
	}
	r.Groups = append(r.Groups, ck.dir("state_dir", "state_dir", c.StateDir))
	if c.Lake != nil && lake.IsS3(c.Lake.Path) {
		r.Groups = append(r.Groups, ck.lakeS3(ctx, c.Lake))
	} else if c.Lake != nil {
		dir, _ := c.Lake.Dir()
		r.Groups = append(r.Groups, ck.dir("lake", "lake.path", dir))
	}
	if c.ClickHouse != nil {
		r.Groups = append(r.Groups, ck.clickhouse(ctx, c.ClickHouse))
	}
	return r
}

// checker carries what one component's checks learn for another's: the
// Postgres tables found, for the ClickHouse summaries over them.
type checker struct {
	cfg    *config.Config
	opt    Options
	tables map[conf.TableName]*pgTable // tables that exist, by name
	// unchecked are captured tables whose source could not be read.
	unchecked map[conf.TableName]bool
}

// at names a config key with its file and line, for fixes.
func (ck *checker) at(path string) string {
	if l := ck.cfg.Line(path); l > 0 {
		return fmt.Sprintf("%s (%s:%d)", path, ck.cfg.File(), l)
	}
	return path
}

func (ck *checker) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, ck.opt.Timeout)
}
