package postgres

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inlet-dev/inlet/internal/retry"
)

func TestClassify(t *testing.T) {
	pg := func(code, msg string) error {
		return fmt.Errorf("source pg: replication: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: msg})
	}
	for _, c := range []struct {
		name string
		err  error
		want retry.Class
	}{
		{"server shutting down", pg("57P01", "terminating connection due to administrator command"), retry.Retriable},
		{"server starting", pg("57P03", "the database system is starting up"), retry.Retriable},
		{"slot held by an old walsender", pg("55006", `replication slot "inlet" is active for PID 42`), retry.Retriable},
		{"connection dropped", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), retry.Retriable},
		{"slot dropped", pg("42704", `replication slot "inlet" does not exist`), retry.NeedsUser},
		{"publication dropped", pg("42704", `publication "inlet" does not exist`), retry.NeedsUser},
		{"replication revoked", pg("42501", "permission denied to start WAL sender"), retry.NeedsUser},
		{"wrong password", pg("28P01", "password authentication failed"), retry.NeedsUser},
		{"already classed", retry.MarkPermanent(errors.New("bad")), retry.Permanent},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := classify(c.err)
			if got := retry.Classify(err); got != c.want {
				t.Errorf("class %v, want %v (%v)", got, c.want, err)
			}
			if c.want == retry.NeedsUser && c.err.Error() != err.Error() && retry.Fix(err) == "" {
				t.Errorf("needs the user but names no fix: %v", err)
			}
		})
	}
}
