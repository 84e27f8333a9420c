package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestSecureKafkaAndClickHouse runs a pipeline whose Kafka is reached over
// TLS with a client certificate and SASL/SCRAM-SHA-512, whose ClickHouse
// is reached on its secure native port with a password, and whose
// Postgres is reached over TLS (sslmode=verify-full), the passwords and
// the state dir coming from the environment. Rows must
// arrive; no secret may appear in the log or in validate's output. Then a
// wrong Kafka password must stop `inlet run` at once, naming
// kafka.sasl.password.
func TestSecureKafkaAndClickHouse(t *testing.T) {
	const kafkaPass, chPass, pgPass = "kafka-Pa55: #word", "ch-Pa55'word", "pg-Pa55word"
	certs := testenv.NewCerts(t)
	pg := testenv.StartPostgresTLS(t, certs)
	ch := testenv.StartClickHouseTLS(t, testenv.CHSecure{Certs: certs, User: "inlet", Password: chPass})
	server := certs.Server.Clone()
	server.ClientAuth = tls.RequireAndVerifyClientCert
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.TLS(server),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "inlet", kafkaPass),
		kfake.BrokerConfigs(map[string]string{"transaction.max.timeout.ms": "900000"}))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	conn := pg.Connect(t, "postgres")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, note text);
		INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 500) g`); err != nil {
		t.Fatal(err)
	}
	dir := testDir(t, "inlet-secure-")
	t.Setenv("INLET_TEST_STATE", filepath.Join(dir, "state"))
	t.Setenv("INLET_TEST_KAFKA_PASSWORD", kafkaPass)
	t.Setenv("INLET_TEST_CH_PASSWORD", chPass)
	t.Setenv("INLET_TEST_PG_PASSWORD", pgPass) // the test cluster trusts any password: this checks redaction
	// Postgres over TLS, the server checked against the test CA and its
	// address (the certificate holds 127.0.0.1).
	dsn := fmt.Sprintf("postgres://postgres:${INLET_TEST_PG_PASSWORD}@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s", pg.Port, certs.CAFile)
	cfg := filepath.Join(dir, "pipeline.yaml")
	write := func(path string) {
		t.Helper()
		body := fmt.Sprintf(`pipeline: shop
state_dir: ${INLET_TEST_STATE}
kafka:
  brokers: ["%s"]
  tls:
    ca_file: %s
    cert_file: %s
    key_file: %s
  sasl:
    mechanism: SCRAM-SHA-512
    username: inlet
    password: ${INLET_TEST_KAFKA_PASSWORD}
sources:
  - name: pg
    postgres:
      dsn: "%s"
      tables: [public.orders]
lake:
  path: "file://%s/lake"
clickhouse:
  addr: "%s"
  database: shop
  username: inlet
  password: "${INLET_TEST_CH_PASSWORD}"
  tls:
    ca_file: %s
engine:
  batch_wait: 200ms
`, broker.ListenAddrs()[0], certs.CAFile, certs.ClientCert, certs.ClientKey, dsn, dir, ch.SecureAddr, certs.CAFile)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg)
	noSecrets := func(what, s string) {
		t.Helper()
		for _, secret := range []string{kafkaPass, chPass, pgPass} {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows a password:\n%s", what, s)
			}
		}
	}
	out, err := execInlet("validate", "-c", cfg)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	noSecrets("validate", out)

	logPath := filepath.Join(dir, "inlet.log")
	p := startInlet(t, cfg, logPath)
	chConn := ch.Connect(t)
	waitRows := func(want uint64) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var n uint64
			err := chConn.QueryRow(ctx, "SELECT count() FROM shop.orders_current").Scan(&n)
			if err == nil && n == want {
				return
			}
			if err, exited := p.exited(); exited {
				t.Fatalf("inlet exited: %v\n%s", err, tailFile(logPath, 30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("clickhouse has %d rows (err %v), want %d\n%s", n, err, want, tailFile(logPath, 30))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	waitRows(500)
	if _, err := conn.Exec(ctx, `INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(501, 700) g; DELETE FROM orders WHERE id <= 50`); err != nil {
		t.Fatal(err)
	}
	waitRows(650)
	var sslConns int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND backend_type = 'walsender'").Scan(&sslConns); err != nil || sslConns == 0 {
		t.Errorf("replication connection over TLS: %d walsenders with ssl (err %v)", sslConns, err)
	}
	p.stop(t, syscall.SIGTERM)
	if _, err := os.Stat(filepath.Join(dir, "state", "checkpoints")); err != nil {
		t.Errorf("state_dir from ${INLET_TEST_STATE} not used: %v", err)
	}
	log := string(mustRead(t, logPath))
	noSecrets("inlet log", log)

	// A wrong password: stop at start, name the setting, do not retry.
	t.Setenv("INLET_TEST_KAFKA_PASSWORD", "not-the-password")
	t.Setenv("INLET_TEST_STATE", filepath.Join(dir, "state-wrong"))
	start := time.Now()
	out, err = execInlet("run", "-c", cfg)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("inlet run with a wrong password succeeded:\n%s", out)
	}
	if !strings.Contains(out, "kafka.sasl.password") || took > 30*time.Second {
		t.Errorf("wrong password: exited after %v with:\n%s\nwant a fast stop naming kafka.sasl.password", took, out)
	}
	if strings.Contains(out, "not-the-password") {
		t.Errorf("wrong password shown:\n%s", out)
	}
	t.Logf("wrong password: stopped after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(tailFile2(out, 2)))
}

// tailFile2 is the last n lines of s.
func tailFile2(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
