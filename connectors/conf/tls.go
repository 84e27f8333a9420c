package conf

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

// Validate checks a tls section at path p.
func (t *TLS) Validate(p string, v Checker) {
	if t == nil {
		return
	}
	ok := true
	bad := func(path, format string, args ...any) {
		ok = false
		v.Bad(path, format, args...)
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
	if ok {
		if _, err := t.Config(); err != nil {
			bad(p, "%v", err)
		}
	}
	if t.InsecureSkipVerify && (t.CAFile != "" || t.ServerName != "") {
		v.Bad(p+".insecure_skip_verify", "skips the verification ca_file and server_name are for; remove one or the other")
	}
}
