package openlineage

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// postgresNamespace returns postgres://host:port and the database name of
// a DSN, without user or password.
func postgresNamespace(dsn string) (ns, db string) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "postgres://unknown", "unknown"
	}
	return fmt.Sprintf("postgres://%s:%d", pc.Host, pc.Port), pc.Database
}

func topicName(pipeline string, tn conf.TableName) string {
	return change.TopicName(pipeline, tn.Schema, tn.Table)
}

// mirrorName is the ClickHouse mirror of a source table (the sink's rule).
func mirrorName(table string) string {
	schema, tbl, ok := strings.Cut(table, ".")
	switch {
	case !ok:
		return table
	case schema == "public":
		return tbl
	}
	return schema + "_" + tbl
}
