package config

import (
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
