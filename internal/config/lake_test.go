package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLakeMaintenanceKeys(t *testing.T) {
	c, err := Parse("p.yaml", []byte(`pipeline: shop
sources:
  - name: pg
    postgres:
      dsn: "postgres://u@h/db"
      tables: [orders]
lake:
  path: /tmp/l
  checkpoint_interval: 50
  log_retention: 30d
  deleted_file_retention: 7d
  target_file_mb: 64
  compact_min_files: 20
  retain: {public.orders: 400d}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if l := c.Lake; l.CheckpointInterval != 50 || time.Duration(l.LogRetention) != 30*24*time.Hour || time.Duration(l.Retain["public.orders"]) != 400*24*time.Hour {
		t.Fatalf("lake %+v", l)
	}
	c, _ = Parse("p.yaml", []byte("pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [orders]\nlake:\n  path: /tmp/l\n  retain: {orders: 400d, public.gone: 2h}\n"))
	err = c.Validate()
	for _, want := range []string{"orders is not a table of this pipeline: write it public.orders", "public.gone is not a table", "less than a day"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// TestTableRetain reads retain on the table and on an HTTP source, still
// reads the deprecated lake.retain map for other tables, and refuses a
// table named in both or kept for less than a day.
func TestTableRetain(t *testing.T) {
	c, err := Parse("p.yaml", []byte(`pipeline: shop
sources:
  - name: pg
    postgres:
      dsn: "postgres://u@h/db"
      tables:
        - {name: orders, retain: 400d}
        - public.items
  - name: api
    http:
      url: http://h/x
      primary_key: [id]
      cursor: {field: updated_at, param: updated_since}
      retain: 30d
lake:
  path: /tmp/l
  retain: {public.items: 90d}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	want := map[string]time.Duration{"public.orders": 400 * day, "public.api": 30 * day, "public.items": 90 * day}
	if got := c.Retention(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Retention() = %v, want %v", got, want)
	}
	c, _ = Parse("p.yaml", []byte("pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [{name: orders, retain: 2h}, {name: items, retain: 10d}]\nlake:\n  path: /tmp/l\n  retain: {public.items: 400d}\n"))
	err = c.Validate()
	for _, want := range []string{"sources[0].postgres.tables[0].retain: 2h0m0s is less than a day", "public.items also sets retain on the table itself"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
