package config

import (
	"strings"
	"testing"
)

func TestParseExpandsEnvAndAppliesDefaults(t *testing.T) {
	t.Setenv("PGPASS", "s3cret")
	c, err := Parse("p.yaml", []byte("pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u:${PGPASS}@h/db\"\n      tables: [orders]\nlake:\n  path: /tmp/l\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pg := c.Sources[0].Postgres
	if !strings.Contains(pg.DSN, "s3cret") || pg.Slot != "inlet_shop_pg" || pg.Publication != "inlet_shop_pg" || c.StateDir != "./.inlet" {
		t.Errorf("got %+v, state_dir %q", pg, c.StateDir)
	}
	if _, err := Parse("p.yaml", []byte("pipeline: ${INLET_SURELY_UNSET}\n")); err == nil || !strings.Contains(err.Error(), "INLET_SURELY_UNSET") {
		t.Errorf("unset variable: err = %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c, err := Parse("p.yaml", []byte("pipeline: Bad-Name\nsources:\n  - name: pg\n    postgres:\n      tables: []\nkafka:\n  brokers: [nohost]\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"p.yaml:1: pipeline", "p.yaml:4: sources[0].postgres.dsn", "sources[0].postgres.tables", "p.yaml:7: kafka.brokers[0]", "no sinks"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestUnknownKeyHasLine(t *testing.T) {
	_, err := Parse("p.yaml", []byte("pipeline: shop\nsourcez: []\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "sourcez") {
		t.Errorf("err = %v", err)
	}
}

// TestEngineInstanceID: engine.instance_id comes from the environment, is
// not a secret, and is refused outside a consumer group or when Kafka
// would refuse it.
func TestEngineInstanceID(t *testing.T) {
	base := "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: postgres://u@h/db\n      tables: [orders]\nlake:\n  path: /tmp/l\nkafka:\n  brokers: [\"k:9092\"]\ncheckpoints:\n  postgres:\n    dsn: postgres://u@h/db\n"
	t.Setenv("HOSTNAME", "engine-7f9c")
	c, err := Parse("p.yaml", []byte(base+"engine:\n  consumer_group: true\n  instance_id: ${HOSTNAME}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Engine.InstanceID != "engine-7f9c" || c.Redact("id engine-7f9c") != "id engine-7f9c" {
		t.Errorf("instance_id %q, redacted %q", c.Engine.InstanceID, c.Redact("id engine-7f9c"))
	}
	for _, tc := range []struct{ engine, want string }{
		{"engine:\n  instance_id: e1\n", "p.yaml:15: engine.instance_id: names an engine in a consumer group"},
		{"engine:\n  consumer_group: true\n  instance_id: /var/lib/inlet/e1\n", "p.yaml:16: engine.instance_id: \"/var/lib/inlet/e1\": use at most 249 letters"},
	} {
		c, err := Parse("p.yaml", []byte(base+tc.engine))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.engine, err, tc.want)
		}
	}
}

func TestKafkaEnvelope(t *testing.T) {
	base := "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: postgres://h/db\n      tables: [orders]\nlake:\n  path: /tmp/l\n"
	for _, tc := range []struct {
		section string
		binary  bool
		err     string
	}{
		// The embedded broker: only Inlet reads its topics.
		{"", true, ""},
		{"kafka:\n  partitions: 2\n", true, ""},
		{"kafka:\n  envelope: json\n", false, ""},
		{"kafka:\n  envelope: binary\n", true, ""},
		// Brokers: other consumers may read the topics.
		{"kafka:\n  brokers: [\"k:9092\"]\n", false, ""},
		{"kafka:\n  brokers: [\"k:9092\"]\n  envelope: binary\n", true, ""},
		{"kafka:\n  envelope: avro\n", false, `p.yaml:10: kafka.envelope: "avro": use json (readable by any consumer) or binary`},
	} {
		c, err := Parse("p.yaml", []byte(base+tc.section))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.section, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want %s", tc.section, err, tc.err)
		}
		if got := c.Kafka.BinaryEnvelope(); got != tc.binary {
			t.Errorf("%q: binary = %v", tc.section, got)
		}
	}
}
