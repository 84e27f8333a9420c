package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
)

// chdbScript runs one query in chDB (ClickHouse embedded in node) and
// prints it as TabSeparated.
const chdbScript = `const {query} = require(process.argv[1]);
try { process.stdout.write(query(process.argv[2], "TabSeparated")); }
catch (e) { process.stderr.write(String(e.cause || e)); process.exit(1); }`

// ChDB runs a query in chDB — a current ClickHouse, whose deltaLakeLocal
// reads Delta tables with delta-kernel-rs, an independent Delta reader —
// with dir as its working directory. scripts/deps.sh installs chdb into
// ~/.cache/inlet-chdb (INLET_CHDB overrides); a missing one fails the test
// with the command that installs it.
func ChDB(t T, dir, query string) string {
	t.Helper()
	root := os.Getenv("INLET_CHDB")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "inlet-chdb")
	}
	mod := filepath.Join(root, "node_modules", "chdb")
	if _, err := os.Stat(mod); err != nil {
		t.Fatalf("chDB is not installed at %s (the independent Delta reader): run scripts/deps.sh, or npm install --prefix %s chdb", mod, root)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH (needed to run chDB): apt-get install -y nodejs npm")
	}
	cmd := exec.Command("node", "-e", chdbScript, mod, query)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chDB query %q: %v: %s", query, err, stderr.String())
	}
	return string(out)
}
