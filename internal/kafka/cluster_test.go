package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/retry"
	"github.com/inlet-dev/inlet/internal/testenv"
)

// secureBroker starts kfake with a TLS listener and SASL/SCRAM-SHA-256 user
// inlet/s3cret.
func secureBroker(t *testing.T, certs *testenv.Certs) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.TLS(certs.Server),
		kfake.EnableSASL(), kfake.Superuser(SASLScramSHA256, "inlet", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func secureCluster(t *testing.T, addrs []string, tlsCfg *conf.TLS, password string) *Cluster {
	t.Helper()
	sec, err := SecurityFrom(&Config{Brokers: addrs, TLS: tlsCfg,
		SASL: &SASL{Mechanism: SASLScramSHA256, Username: "inlet", Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCluster(addrs, sec)
	t.Cleanup(c.Close)
	return c
}

func TestClusterTLSAndSCRAM(t *testing.T) {
	certs := testenv.NewCerts(t)
	b := secureBroker(t, certs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := secureCluster(t, b.ListenAddrs(), &conf.TLS{CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}, "s3cret")
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, c, 1, nil, []string{"pos"}); err != nil {
		t.Fatal(err)
	}
	pr, err := c.Client(kgo.TransactionalID("secure"), kgo.DefaultProduceTopic("pos"))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if err := pr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := pr.ProduceSync(ctx, &kgo.Record{Key: []byte("src"), Value: []byte("42")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCompacted(ctx, c, "pos")
	if err != nil {
		t.Fatal(err)
	}
	if string(got["src"]) != "42" {
		t.Errorf("read %q, want 42", got)
	}
}

// TestClusterCredentialErrorsNeedUser: a wrong password, an untrusted
// broker certificate and TLS against a plain listener stop at once with
// the setting to fix, classed NeedsUser so no stage retries them.
func TestClusterCredentialErrorsNeedUser(t *testing.T) {
	certs := testenv.NewCerts(t)
	b := secureBroker(t, certs)
	for _, tc := range []struct {
		name    string
		addrs   []string
		tls     *conf.TLS
		pass    string
		wantFix string
	}{
		{"wrong password", b.ListenAddrs(), &conf.TLS{CAFile: certs.CAFile}, "wrong", "kafka.sasl.password"},
		{"untrusted certificate", b.ListenAddrs(), &conf.TLS{}, "s3cret", "kafka.tls.ca_file"},
		{"wrong server name", b.ListenAddrs(), &conf.TLS{CAFile: certs.CAFile, ServerName: "kafka.example.com"}, "s3cret", "kafka.tls.server_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := secureCluster(t, tc.addrs, tc.tls, tc.pass)
			start := time.Now()
			err := c.Check(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("took %v to fail; want fast", took)
			}
			t.Log(err)
			if retry.Classify(err) != retry.NeedsUser || !strings.Contains(err.Error(), tc.wantFix) {
				t.Errorf("err = %v (class %v); want NeedsUser naming %s", err, retry.Classify(err), tc.wantFix)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
