package clickhouse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/inlet-dev/inlet/internal/retry"
)

// openError explains a failed first query: credentials and certificates
// need a person (retry.NeedsUser, naming the setting); anything else gets
// a hint about the port.
func openError(cfg *Config, err error) error {
	err = fmt.Errorf("clickhouse %s: %w", cfg.Addr, err)
	var (
		ex        *ch.Exception
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		recordHdr tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &ex) && (ex.Code == 192 || ex.Code == 193 || ex.Code == 516): // UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED
		return retry.MarkNeedsUser(err, "check clickhouse.username and clickhouse.password (the environment variable it names)")
	case errors.As(err, &hostname):
		return retry.MarkNeedsUser(err, "connect by a name the server certificate holds, or set clickhouse.tls.server_name to it")
	case errors.As(err, &unknownCA), errors.As(err, &verify):
		return retry.MarkNeedsUser(err, "set clickhouse.tls.ca_file to the PEM of the authority that signed the server's certificate")
	case errors.As(err, &recordHdr):
		return retry.MarkNeedsUser(err, "this port does not speak TLS: point clickhouse.addr at the secure native port (tcp_port_secure, usually 9440) or remove clickhouse.tls")
	case cfg.TLS != nil:
		return fmt.Errorf("%w (is clickhouse.addr the secure native port? usually 9440)", err)
	}
	return fmt.Errorf("%w (is the native protocol port right? usually 9000)", err)
}
