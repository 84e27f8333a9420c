package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestCheckCommand runs `inlet check` and `inlet validate --connect` on a
// healthy pipeline (exit 0) and on one naming a missing table and a table
// without a primary key (exit 1, both problems reported, each with its
// fix), and reads the --json report.
func TestCheckCommand(t *testing.T) {
	pg := testenv.StartPostgres(t)
	conn := pg.Connect(t, "postgres")
	if _, err := conn.Exec(context.Background(), `CREATE TABLE items (id int PRIMARY KEY, name text); CREATE TABLE notes (body text)`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, tables string) string {
		path := filepath.Join(dir, name)
		cfg := fmt.Sprintf("pipeline: shop\nstate_dir: %s/state\nsources:\n  - name: pg\n    postgres:\n      dsn: %q\n      tables: [%s]\nlake:\n  path: \"file://%s/lake\"\n",
			dir, pg.DSN("postgres"), tables, dir)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	exitCode := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}

	good := write("good.yaml", "public.items")
	for _, args := range [][]string{{"check", "-c", good}, {"validate", "--connect", "-c", good}} {
		out, err := execInlet(args...)
		if code := exitCode(err); code != 0 {
			t.Fatalf("inlet %s: exit %d on a healthy pipeline:\n%s", strings.Join(args, " "), code, out)
		}
		if !strings.Contains(out, "OK    table public.items ") || !strings.Contains(out, "0 failed") {
			t.Errorf("inlet %s: unexpected report:\n%s", strings.Join(args, " "), out)
		}
	}

	bad := write("bad.yaml", "public.items, public.gone, public.notes")
	out, err := execInlet("check", "-c", bad)
	if code := exitCode(err); code != 1 {
		t.Fatalf("inlet check: exit %d on a broken pipeline, want 1:\n%s", code, out)
	}
	for _, w := range []string{
		"FAIL  table public.gone ",
		"does not exist",
		"fix: create it, or fix or remove sources[0].postgres.tables[1]",
		"FAIL  table public.notes ",
		"has no primary key",
		"mode: full_refresh",
		"2 failed",
		"inlet: 2 checks failed",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("inlet check output lacks %q:\n%s", w, out)
		}
	}
	out2, err := execInlet("validate", "--connect", "-c", bad)
	if code := exitCode(err); code != 1 || !strings.Contains(out2, "ok (pipeline shop") || !strings.Contains(out2, "2 failed") {
		t.Errorf("inlet validate --connect: exit %d, want 1 with the config line and the report:\n%s", code, out2)
	}

	cmd := exec.Command(inletBin, "check", "--json", "-c", bad)
	js, _ := cmd.Output()
	var rep struct {
		Groups []struct {
			Component string
			Results   []struct{ Status, Check, Detail, Fix string }
		}
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, js)
	}
	fails := 0
	for _, g := range rep.Groups {
		for _, r := range g.Results {
			if r.Status == "FAIL" {
				fails++
				if r.Fix == "" {
					t.Errorf("FAIL without a fix: %+v", r)
				}
			}
		}
	}
	if fails != 2 {
		t.Errorf("--json lists %d failures, want 2:\n%s", fails, js)
	}
}
