package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inlet-dev/inlet/internal/retry"
)

// fixStartOver is what to do when the slot or the publication is gone:
// the changes since cannot be read, so the pipeline starts over.
const fixStartOver = "stop inlet, run `inlet teardown`, delete state_dir and the pipeline's Kafka topics, then start it again for a new snapshot"

// needsUser marks an error whose message already names the fix.
func needsUser(err error) error { return retry.MarkNeedsUser(err, "") }

// classify marks err with what it means for the source (internal/retry).
// What a person must fix (a dropped slot or publication, a revoked
// permission, a wrong password, a missing database) needs the user;
// everything else — the server restarting or shutting down, a terminated
// walsender, a dropped connection, a slot still held by a walsender that
// has not noticed its client left — is retriable: capture reconnects.
func classify(err error) error {
	if err == nil || retry.Classify(err) != retry.Retriable {
		return err
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "42501": // insufficient_privilege
		return retry.MarkNeedsUser(err, "grant the source's user what it lacks: the REPLICATION attribute (ALTER ROLE … REPLICATION) and SELECT on the captured tables")
	case "28000", "28P01": // invalid_authorization_specification, invalid_password
		return retry.MarkNeedsUser(err, "check the user and password in the source's dsn and the server's pg_hba.conf")
	case "3D000": // invalid_catalog_name
		return retry.MarkNeedsUser(err, "create the database or fix the source's dsn")
	case "42704": // undefined_object
		switch {
		case strings.Contains(pe.Message, "replication slot"):
			return retry.MarkNeedsUser(err, "the replication slot was dropped, so changes since cannot be read; "+fixStartOver)
		case strings.Contains(pe.Message, "publication"):
			return retry.MarkNeedsUser(err, "the publication was dropped, so changes since cannot be decoded; "+fixStartOver)
		}
	case "55000": // object_not_in_prerequisite_state: wal_level, a slot of another database
		return retry.MarkNeedsUser(err, "")
	}
	return err
}
