package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ChDBConn runs queries in chDB (embedded ClickHouse, with delta-kernel-rs
// behind deltaLakeLocal), an independent reader of Inlet's lake, and returns
// rows as JSON values (ChDB returns TabSeparated text). It runs a small node
// script against the npm package chdb installed under $INLET_CHDB, or
// $HOME/.cache/inlet-chdb (scripts/deps.sh installs it).
type ChDBConn struct {
	script string
	dir    string
}

// InstallChDB is the command that installs what ChDB needs.
func InstallChDB() string {
	return `npm install --prefix "$HOME/.cache/inlet-chdb" chdb   # or: scripts/deps.sh (needs node ≥ 18)`
}

// chdbRoot is where the chdb npm package is installed: $INLET_CHDB, else
// ~/.cache/inlet-chdb. It fails the test with the command that installs
// node or chdb when either is missing.
func chdbRoot(t T) string {
	t.Helper()
	dir := os.Getenv("INLET_CHDB")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "inlet-chdb")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("chDB (the lake's independent Delta reader) needs node, which is not on PATH: apt-get install -y nodejs npm, then %s", InstallChDB())
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "chdb", "package.json")); err != nil {
		t.Fatalf("chDB (the lake's independent Delta reader) is not installed under %s: %s", dir, InstallChDB())
	}
	return dir
}

// StartChDB finds node and the chdb package; it fails the test with the
// command that installs them when either is missing.
func StartChDB(t T) *ChDBConn {
	t.Helper()
	dir := chdbRoot(t)
	f, err := os.CreateTemp("", "inlet-chdb-*.js")
	if err != nil {
		t.Fatal(err)
	}
	// One query per run, from stdin; rows as JSON lines on stdout.
	f.WriteString(`const {query} = require(process.argv[2] + '/node_modules/chdb');
let sql = '';
process.stdin.on('data', d => sql += d);
process.stdin.on('end', () => {
  try { process.stdout.write(query(sql, 'JSONEachRow')); }
  catch (e) { process.stderr.write(String(e && e.message || e)); process.exit(1); }
});
`)
	f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })
	c := &ChDBConn{script: f.Name(), dir: dir}
	if _, err := c.Query("SELECT 1 AS one"); err != nil {
		t.Fatalf("chDB does not run (%v); reinstall it: %s", err, InstallChDB())
	}
	return c
}

// Query runs sql and returns its rows, each column decoded from JSON
// (strings, float64 numbers, nil, []any).
func (c *ChDBConn) Query(sql string) ([]map[string]any, error) {
	cmd := exec.Command("node", c.script, c.dir)
	cmd.Stdin = strings.NewReader(sql)
	cmd.Dir = "/" // chDB's user_files_path is the working directory: let it read any absolute path
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, &chdbError{err: err, stderr: errb.String()}
	}
	var rows []map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, err
		}
		rows = append(rows, m)
	}
	return rows, sc.Err()
}

type chdbError struct {
	err    error
	stderr string
}

func (e *chdbError) Error() string {
	return "chdb: " + e.err.Error() + ": " + strings.TrimSpace(e.stderr)
}
