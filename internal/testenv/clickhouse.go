package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ClickHouse is a running throwaway clickhouse-server.
type ClickHouse struct {
	Addr string // native protocol host:port
	Dir  string
	// SecureAddr is the TLS native port (tcp_port_secure) of a server
	// started by StartClickHouseTLS.
	SecureAddr string
	bin        string
	args       []string
	cmd        *exec.Cmd
	out        *os.File
}

// Signal sends sig to the server (SIGSTOP freezes it, SIGCONT thaws it).
func (c *ClickHouse) Signal(sig syscall.Signal) error { return c.cmd.Process.Signal(sig) }

// Pid is the server's process id.
func (c *ClickHouse) Pid() int { return c.cmd.Process.Pid }

// Kill kills the server with SIGKILL and waits for it to exit.
func (c *ClickHouse) Kill() { stop(c.cmd, syscall.SIGKILL) }

// Restart starts the server again on the same data and ports (after Kill)
// and waits until it answers.
func (c *ClickHouse) Restart(t T) {
	t.Helper()
	c.launch(t)
	c.waitReady(t)
}

func (c *ClickHouse) launch(t T) {
	t.Helper()
	cmd := exec.Command(c.bin, append(c.args, "--config-file="+filepath.Join(c.Dir, "config.xml"))...)
	cmd.Dir = c.Dir
	out, _ := os.OpenFile(filepath.Join(c.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL} // dies with a killed test
	if err := cmd.Start(); err != nil {
		t.Fatalf("start clickhouse-server: %v", err)
	}
	c.cmd, c.out = cmd, out
}

func (c *ClickHouse) waitReady(t T) {
	t.Helper()
	if err := waitPort(c.Addr, 60*time.Second); err != nil {
		t.Fatalf("clickhouse-server did not start: %v\n%s\n%s", err, tail(filepath.Join(c.Dir, "error.log"), 20), tail(filepath.Join(c.Dir, "stdout.log"), 20))
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{c.Addr}, Protocol: ch.Native})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := conn.Ping(context.Background()); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("clickhouse-server not answering: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// CHSecure is what StartClickHouseTLS adds to a server: a TLS native port
// serving Certs' server certificate, and a user with a password.
type CHSecure struct {
	Certs          *Certs
	User, Password string
}

// StartClickHouseTLS starts clickhouse-server with, besides the plain
// native port, a secure native port (openSSL server config with the
// certificate of s.Certs) and the user s.User identified by s.Password.
func StartClickHouseTLS(t T, s CHSecure) *ClickHouse {
	t.Helper()
	return startClickHouse(t, &s)
}

// Connect opens a native connection, closed at cleanup.
func (c *ClickHouse) Connect(t T) driver.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{c.Addr}, Protocol: ch.Native})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// OneShardCluster is a cluster every StartClickHouse server has in its
// remote_servers: one shard whose one replica is the server itself, with
// the macros shard and replica set. Distributed tables over it work;
// ON CLUSTER and Replicated…MergeTree do not (no ZooKeeper here).
const OneShardCluster = "inlet_one_shard"

// StartClickHouse starts clickhouse-server with a temp config.
func StartClickHouse(t T) *ClickHouse {
	t.Helper()
	return startClickHouse(t, nil)
}

func startClickHouse(t T, sec *CHSecure) *ClickHouse {
	t.Helper()
	bin := findBinary("clickhouse-server", "/usr/bin/clickhouse-server")
	var args []string
	if bin == "" {
		if b := findBinary("clickhouse", "/usr/bin/clickhouse"); b != "" {
			bin, args = b, []string{"server"}
		}
	}
	if bin == "" {
		t.Fatal("clickhouse-server not found; install it: apt-get update && apt-get install -y clickhouse-server clickhouse-client")
	}
	dir, err := os.MkdirTemp("", "inlet-ch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tcp, http := FreePort(t), FreePort(t)
	secPort := 0
	if sec != nil {
		secPort = FreePort(t)
	}
	cfg := fmt.Sprintf(`<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/error.log</errorlog><console>0</console></logger>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <remote_servers><%[5]s><shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>%[2]d</port></replica></shard></%[5]s></remote_servers>
  <macros><shard>01</shard><replica>r1</replica></macros>
%[4]s</yandex>
`, dir, tcp, http, secureXML(sec, secPort), OneShardCluster)
	users := fmt.Sprintf(`<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default>%s</users>
  <quotas><default></default></quotas>
</yandex>
`, secureUserXML(sec))
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &ClickHouse{Addr: fmt.Sprintf("127.0.0.1:%d", tcp), Dir: dir, bin: bin, args: args}
	if sec != nil {
		c.SecureAddr = fmt.Sprintf("127.0.0.1:%d", secPort)
	}
	c.launch(t)
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGCONT) // in case a test left it frozen
		stop(c.cmd, syscall.SIGTERM)
		c.out.Close()
	})
	c.waitReady(t)
	return c
}

// secureXML is the server config of a secure native port: the openSSL
// server section names the certificate and key files (Poco's TLS setup in
// clickhouse-server 18.16).
func secureXML(sec *CHSecure, port int) string {
	if sec == nil {
		return ""
	}
	return fmt.Sprintf(`  <tcp_port_secure>%d</tcp_port_secure>
  <openSSL>
    <server>
      <certificateFile>%s</certificateFile>
      <privateKeyFile>%s</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>
`, port, sec.Certs.ServerCert, sec.Certs.ServerKey)
}

// secureUserXML declares the password user of a secure server.
func secureUserXML(sec *CHSecure) string {
	if sec == nil {
		return ""
	}
	return fmt.Sprintf(`<%[1]s><password>%[2]s</password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></%[1]s>`, sec.User, sec.Password)
}
