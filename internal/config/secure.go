package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLS is a client's TLS setup, shared by kafka.tls and clickhouse.tls.
// The section being present turns TLS on; `tls: {}` trusts the system's
// certificate authorities.
type TLS struct {
	// CAFile is a PEM file of the certificate authorities to trust
	// instead of the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client's PEM certificate and private
	// key, for servers that authenticate clients by certificate (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name to verify the server's certificate against,
	// when it is not the host of the address (e.g. connecting by IP).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate. For development
	// only: it lets anyone in the middle read the traffic.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL is Kafka's SASL authentication.
type SASL struct {
	Mechanism string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"` // from the environment: "${KAFKA_PASSWORD}"
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Config builds the crypto/tls config: nil for a nil TLS (plain TCP).
// Errors name the file that could not be used.
func (t *TLS) Config() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // documented as dev only; validate warns
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// validateTLS checks a tls section at path p.
func (c *Config) validateTLS(p string, t *TLS) []error {
	if t == nil {
		return nil
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.file, c.Line(path), path, fmt.Sprintf(format, args...)))
	}
	readable := func(key, file string) {
		if file == "" {
			return
		}
		if f, err := os.Open(file); err != nil {
			bad(p+"."+key, "cannot read %s: %v; give the path of a PEM file this process can read", file, errors.Unwrap(err))
		} else {
			f.Close()
		}
	}
	readable("ca_file", t.CAFile)
	readable("cert_file", t.CertFile)
	readable("key_file", t.KeyFile)
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad(p, "cert_file and key_file go together: set both for a client certificate, or neither")
	}
	if len(errs) == 0 {
		if _, err := t.Config(); err != nil {
			bad(p, "%v", err)
		}
	}
	if t.InsecureSkipVerify && (t.CAFile != "" || t.ServerName != "") {
		bad(p+".insecure_skip_verify", "skips the verification ca_file and server_name are for; remove one or the other")
	}
	return errs
}

// validateSASL checks kafka.sasl.
func (c *Config) validateSASL(p string, s *SASL, tlsOn bool) []error {
	if s == nil {
		return nil
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.file, c.Line(path), path, fmt.Sprintf(format, args...)))
	}
	switch s.Mechanism {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	case "":
		bad(p+".mechanism", "missing; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	default:
		bad(p+".mechanism", "%q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	if s.Username == "" {
		bad(p+".username", "missing; write the SASL user, e.g. username: inlet")
	}
	switch {
	case s.Password == "" && !c.fromEnv(p+".password"):
		bad(p+".password", "missing; write password: \"${KAFKA_PASSWORD}\" and export KAFKA_PASSWORD")
	case !c.fromEnv(p + ".password"):
		bad(p+".password", "written in the file; secrets come from the environment only: write password: \"${KAFKA_PASSWORD}\" and export KAFKA_PASSWORD")
	}
	if s.Mechanism == SASLPlain && !tlsOn {
		bad(p+".mechanism", "PLAIN sends the password in clear; add a kafka.tls section (tls: {} for the system's authorities)")
	}
	return errs
}
