package clickhouse

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/retry"
	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestOpenOverTLSWithPassword connects to clickhouse-server's secure
// native port (tcp_port_secure) with a CA file and a password user.
func TestOpenOverTLSWithPassword(t *testing.T) {
	certs := testenv.NewCerts(t)
	srv := testenv.StartClickHouseTLS(t, testenv.CHSecure{Certs: certs, User: "inlet", Password: "ch-s3cret"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := &Config{Addr: srv.SecureAddr, Database: "tls_test", Username: "inlet", Password: "ch-s3cret",
		TLS: &conf.TLS{CAFile: certs.CAFile}}
	s, err := Open(ctx, cfg, log)
	if err != nil {
		t.Fatalf("open over TLS: %v", err)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = 'tls_test'").Scan(&n); err != nil || n != 1 {
		t.Errorf("database over TLS: n=%d err=%v", n, err)
	}
	s.Close()

	for _, tc := range []struct {
		name, fix string
		cfg       Config
	}{
		{"wrong password", "clickhouse.password", Config{Addr: srv.SecureAddr, Database: "tls_test", Username: "inlet", Password: "wrong", TLS: &conf.TLS{CAFile: certs.CAFile}}},
		{"untrusted server", "clickhouse.tls.ca_file", Config{Addr: srv.SecureAddr, Database: "tls_test", Username: "inlet", Password: "ch-s3cret", TLS: &conf.TLS{}}},
		{"tls to the plain port", "secure native port", Config{Addr: srv.Addr, Database: "tls_test", Username: "inlet", Password: "ch-s3cret", TLS: &conf.TLS{CAFile: certs.CAFile}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			s, err := Open(ctx, &c, log)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			t.Log(err)
			if retry.Classify(err) != retry.NeedsUser || !strings.Contains(err.Error(), tc.fix) {
				t.Errorf("err = %v; want NeedsUser naming %s", err, tc.fix)
			}
			if strings.Contains(err.Error(), "ch-s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
