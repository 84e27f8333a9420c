package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// chdbClusterScript runs a JSON list of statements in one chDB session
// with a config file, printing a JSON list of their TabSeparated outputs;
// it stops at the first error and prints it, with the statement's index,
// on stderr.
const chdbClusterScript = `const {Session} = require(process.argv[1]);
const qs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const s = new Session(process.argv[2], {connectionArgs: ['--config-file=' + process.argv[3]]});
const out = [];
let i = 0;
try { for (; i < qs.length; i++) out.push(s.query(qs[i], 'TabSeparated')); }
catch (e) { process.stderr.write('statement ' + i + ': ' + String(e && e.message || e)); process.exitCode = 1; }
finally { process.stdout.write(JSON.stringify(out)); s.close && s.close(); }`

// ChDBCluster runs statements in order in one chDB session (embedded
// ClickHouse 26) configured with a one-shard, one-replica cluster named
// cluster whose replica is chDB itself (remote_servers with localhost and
// tcp_port 9000: chDB listens on no port, but the Distributed engine
// treats a local replica as local and never connects), and the macros
// shard and replica. So Distributed tables over the cluster and views
// over them run for real; what chDB cannot run is ON CLUSTER (no DDL
// worker: "Replicated DDL queries are disabled") and Replicated…MergeTree
// (no ZooKeeper or Keeper: the table stays read-only). It returns each
// statement's TabSeparated output; err names the first statement that
// failed.
func ChDBCluster(t T, dir, cluster string, stmts []string) ([]string, error) {
	t.Helper()
	mod := filepath.Join(chdbRoot(t), "node_modules", "chdb")
	cfg := filepath.Join(dir, "chdb-cluster.xml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><%[1]s><shard><internal_replication>true</internal_replication><replica><host>localhost</host><port>9000</port></replica></shard></%[1]s></remote_servers>
  <macros><shard>01</shard><replica>r1</replica></macros>
</clickhouse>
`, cluster)), 0o644); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(stmts)
	cmd := exec.Command("node", "-e", chdbClusterScript, mod, filepath.Join(dir, "chdb-data"), cfg)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	runErr := cmd.Run()
	var res []string
	if err := json.Unmarshal(out.Bytes(), &res); err != nil && runErr == nil {
		t.Fatalf("chDB cluster session: %v (output %q)", err, out.String())
	}
	if runErr != nil {
		return res, fmt.Errorf("chDB: %s (%v)", stderr.String(), runErr)
	}
	return res, nil
}
