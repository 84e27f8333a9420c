// Package archtest checks the import rules that keep the layout honest:
// the engine names no sink or source, no sink imports another, the lake
// does not reach into the checkpoint store, and no connector imports the
// pipeline file's package (each owns its config type).
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/inlet-dev/inlet/"

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string]map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m := map[string]bool{}
		for _, d := range f[1:] {
			m[strings.TrimPrefix(d, mod)] = true
		}
		deps[strings.TrimPrefix(f[0], mod)] = m
	}
	sinks := []string{"lake", "connectors/clickhouse"}
	sources := []string{"connectors/postgres", "connectors/httpapi"}
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"engine", append(append([]string{}, sinks...), sources...)},
		{"lake", []string{"checkpoint", "connectors/clickhouse", "connectors/postgres", "connectors/httpapi"}},
		{"connectors/clickhouse", []string{"lake", "connectors/postgres", "connectors/httpapi"}},
		{"connectors", append(append([]string{}, sinks...), sources...)},
		{"change", []string{"connectors", "engine", "lake", "checkpoint"}},
		// Each connector owns its config type: none reads the pipeline
		// file's package, and the shared vocabulary imports no connector.
		{"connectors/conf", append(append([]string{"internal/config"}, sinks...), sources...)},
		{"internal/kafka", []string{"internal/config"}},
	}
	for _, c := range append(append([]string{}, sinks...), sources...) {
		rules = append(rules, struct {
			pkg       string
			forbidden []string
		}{c, []string{"internal/config"}})
	}
	for _, r := range rules {
		d, ok := deps[r.pkg]
		if !ok {
			t.Errorf("package %s not found by go list", r.pkg)
			continue
		}
		for _, f := range r.forbidden {
			if d[f] {
				t.Errorf("%s imports %s (directly or not); it must not", r.pkg, f)
			}
		}
	}
}
