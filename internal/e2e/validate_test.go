package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateReportsLineNumbers(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [\"public.t\"]\n      tabels: [\"x\"]\nlake:\n  path: /tmp/l\n",
			[]string{"line 7", "tabels"}},
		{"missing dsn", "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      tables: [\"public.t\"]\nlake:\n  path: /tmp/l\n",
			[]string{":4: sources[0].postgres.dsn: missing"}},
		{"bad table name", "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [\"public.t\", \"a.b.c\"]\nlake:\n  path: /tmp/l\n",
			[]string{":6: sources[0].postgres.tables[1]", "schema.table"}},
		{"bad url", "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [\"public.t\"]\nlake:\n  path: \"file://%zz/lake\"\nclickhouse:\n  addr: \"nohost\"\n  database: shop\n",
			[]string{":8: lake.path", "not a valid URL", ":10: clickhouse.addr", "host:port"}},
		{"bad lake scheme", "pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [\"public.t\"]\nlake:\n  path: \"gopher://x/y\"\n",
			[]string{":8: lake.path", "not supported"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.yaml")
			os.WriteFile(path, []byte(c.yaml), 0o644)
			out, err := exec.Command(inletBin, "validate", "-c", path).CombinedOutput()
			if err == nil {
				t.Fatalf("validate succeeded on a broken config:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, []byte("pipeline: shop\nsources:\n  - name: pg\n    postgres:\n      dsn: \"postgres://u@h/db\"\n      tables: [\"public.orders\", \"public.customers\"]\nlake:\n  path: \"file:///tmp/lake\"\n"), 0o644)
	if out, err := exec.Command(inletBin, "validate", "-c", good).CombinedOutput(); err != nil {
		t.Fatalf("validate rejected a good config: %v\n%s", err, out)
	}
}
