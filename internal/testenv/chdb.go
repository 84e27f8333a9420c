package testenv

import (
	"bytes"
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
// with dir as its working directory, and returns TabSeparated text (see
// chdbRoot for where chdb is found).
func ChDB(t T, dir, query string) string {
	t.Helper()
	mod := filepath.Join(chdbRoot(t), "node_modules", "chdb")
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
