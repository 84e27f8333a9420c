package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/connectors/conf"
)

const secureBase = `pipeline: shop
state_dir: ${T_STATE}
sources:
  - name: pg
    postgres:
      dsn: "postgres://inlet:${T_PGPASS}@db:5432/shop?sslmode=require"
      tables: [orders]
lake:
  path: /tmp/lake
`

// TestEnvInAnyValueAndSecrets: ${ENV} works in any value (state_dir,
// numbers, booleans), a whole-value reference keeps YAML syntax in the
// value as is, and only secrets are redacted.
func TestEnvInAnyValueAndSecrets(t *testing.T) {
	t.Setenv("T_STATE", "/var/lib/inlet/shop")
	t.Setenv("T_PGPASS", "pg-pass-1")
	t.Setenv("T_BROKER", "kafka-1.internal:9093")
	t.Setenv("T_PARTS", "6")
	t.Setenv("T_SKIP", "false")
	t.Setenv("T_KPASS", `we"ird: #pass\word`)
	t.Setenv("T_CHPASS", "ch-pass-1")
	c, err := Parse("p.yaml", []byte(secureBase+`kafka:
  brokers: ["${T_BROKER}"]
  partitions: ${T_PARTS}
  tls:
    insecure_skip_verify: ${T_SKIP}
  sasl:
    mechanism: SCRAM-SHA-512
    username: inlet
    password: ${T_KPASS}   # from the environment
clickhouse:
  addr: "ch:9440"
  database: shop
  username: inlet
  password: "${T_CHPASS}"
  tls: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.StateDir != "/var/lib/inlet/shop" || c.Kafka.Partitions != 6 || c.Kafka.Brokers[0] != "kafka-1.internal:9093" ||
		c.Kafka.SASL.Password != `we"ird: #pass\word` || c.ClickHouse.Password != "ch-pass-1" || c.Kafka.TLS == nil || c.ClickHouse.TLS == nil {
		t.Errorf("parsed %+v kafka %+v sasl %+v", c, c.Kafka, c.Kafka.SASL)
	}
	in := "state /var/lib/inlet/shop broker kafka-1.internal:9093 pg pg-pass-1 kafka we\"ird: #pass\\word ch ch-pass-1"
	want := "state /var/lib/inlet/shop broker kafka-1.internal:9093 pg *** kafka *** ch ***"
	if got := c.Redact(in); got != want {
		t.Errorf("Redact:\n got %s\nwant %s", got, want)
	}
	var buf bytes.Buffer
	log := slog.New(c.RedactHandler(slog.NewTextHandler(&buf, nil)))
	log.With("dsn", c.Sources[0].Postgres.DSN).Info("connect failed: ch-pass-1", "err", errors.New("auth pg-pass-1"), "brokers", c.Kafka.Brokers)
	if s := buf.String(); strings.Contains(s, "pass-1") || !strings.Contains(s, "kafka-1.internal") {
		t.Errorf("log record not redacted: %s", s)
	}
}

// A password written in the file (even one typed literally in a DSN is
// fine: DSNs are the user's to build) is refused for Kafka and ClickHouse.
func TestValidateSecurityReportsEveryProblem(t *testing.T) {
	t.Setenv("T_STATE", "/tmp/s")
	t.Setenv("T_PGPASS", "x")
	c, err := Parse("p.yaml", []byte(secureBase+`kafka:
  brokers: ["k:9093"]
  tls:
    ca_file: /nonexistent/ca.pem
    cert_file: /nonexistent/client.pem
    insecure_skip_verify: true
  sasl:
    mechanism: SCRAM-SHA-1
    password: literal
clickhouse:
  addr: "ch:9440"
  database: shop
  password: literal
  tls:
    key_file: /nonexistent/key.pem
`))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"p.yaml:13: kafka.tls.ca_file: cannot read /nonexistent/ca.pem",
		"kafka.tls.cert_file: cannot read",
		"kafka.tls: cert_file and key_file go together",
		"kafka.tls.insecure_skip_verify: skips the verification",
		"p.yaml:17: kafka.sasl.mechanism: \"SCRAM-SHA-1\": use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
		"kafka.sasl.username: missing",
		"p.yaml:18: kafka.sasl.password: written in the file; secrets come from the environment only: write password: \"${KAFKA_PASSWORD}\"",
		"clickhouse.password: written in the file",
		"clickhouse.username: missing while a password is set",
		"clickhouse.tls.key_file: cannot read",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "literal") {
		t.Errorf("validate shows a password:\n%v", err)
	}
}

func TestPlainNeedsTLSAndTLSConfigLoads(t *testing.T) {
	t.Setenv("T_STATE", "/tmp/s")
	t.Setenv("T_PGPASS", "x")
	t.Setenv("T_KPASS", "y")
	c, err := Parse("p.yaml", []byte(secureBase+"kafka:\n  brokers: [\"k:9092\"]\n  sasl:\n    mechanism: PLAIN\n    username: u\n    password: ${T_KPASS}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "kafka.sasl.mechanism: PLAIN sends the password in clear; add a kafka.tls section") {
		t.Errorf("err = %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := (&conf.TLS{CAFile: bad}).Config(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA file: err = %v", err)
	}
	if cfg, err := (*conf.TLS)(nil).Config(); cfg != nil || err != nil {
		t.Errorf("nil TLS: %v, %v", cfg, err)
	}
}

func TestExpandEnvWholeValues(t *testing.T) {
	t.Setenv("T_V", `a: "b" #c`)
	t.Setenv("T_N", "42")
	for _, tc := range []struct{ in, want string }{
		{"k: ${T_V}\n", "k: \"a: \\\"b\\\" #c\"\n"},
		{"k: '${T_V}' # note\n", "k: \"a: \\\"b\\\" #c\" # note\n"},
		{"  - ${T_V}\n", "  - \"a: \\\"b\\\" #c\"\n"},
		{"\"X-Key\": ${T_V}\r\n", "\"X-Key\": \"a: \\\"b\\\" #c\"\r\n"},
		{"n: ${T_N}\n", "n: 42\n"},
		{"n: \"${T_N}\"\n", "n: \"42\"\n"},
		{"dsn: postgres://u:${T_N}@h/db\n", "dsn: postgres://u:42@h/db\n"},
	} {
		got, uses, missing := expandEnv([]byte(tc.in))
		if string(got) != tc.want || len(uses) != 1 || uses[0].line != 1 || len(missing) != 0 {
			t.Errorf("expandEnv(%q) = %q, %v, %v; want %q", tc.in, got, uses, missing, tc.want)
		}
	}
}

// TestExpandEnvSkipsComments: a commented-out line (the scale-out example's
// "# instance_id: ${HOSTNAME}") needs no variable and is left as written.
func TestExpandEnvSkipsComments(t *testing.T) {
	in := "engine:\n  # instance_id: ${T_UNSET_FOR_TEST}\n    # ${T_UNSET_FOR_TEST}\n"
	got, uses, missing := expandEnv([]byte(in))
	if string(got) != in || len(uses) != 0 || len(missing) != 0 {
		t.Errorf("expandEnv(%q) = %q, %v, %v; want it unchanged, with no variable used or missing", in, got, uses, missing)
	}
}
