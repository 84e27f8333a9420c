package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseTableName(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    TableName
		wantErr bool
	}{
		{"public.orders", TableName{"public", "orders"}, false},
		{"orders", TableName{"public", "orders"}, false},
		{"Sales.Orders", TableName{"sales", "orders"}, false},
		{`"Sales"."Order Items"`, TableName{"Sales", "Order Items"}, false},
		{`public."we""ird.name"`, TableName{"public", `we"ird.name`}, false},
		{`"Ünïcode"."表"`, TableName{"Ünïcode", "表"}, false},
		{"a.b.c", TableName{}, true},
		{"public.", TableName{}, true},
		{"public.my table", TableName{}, true},
		{`"unterminated`, TableName{}, true},
	} {
		got, err := ParseTableName(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseTableName(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

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

func TestParseDurationDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "400d": 400 * 24 * time.Hour, "90s": 90 * time.Second, "36h": 36 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"d", "x7d", "-1d", "7"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) took it", bad)
		}
	}
}
