package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a running throwaway Postgres cluster with wal_level=logical.
type Postgres struct {
	Port int
	Dir  string

	bin, data string
	cred      *syscall.Credential
	restarted bool // by pg_ctl: the postmaster is no longer our child
}

// DSN returns a superuser DSN for database db.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// Pid is the postmaster's process id (0 if its pid file is unreadable).
func (p *Postgres) Pid() int {
	b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// Connect opens a connection to database db, closed at cleanup.
func (p *Postgres) Connect(t T, db string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), p.DSN(db))
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// PgBin returns the directory of the Postgres server binaries.
func PgBin() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p := findBinary("/usr/lib/postgresql/*/bin/initdb"); p != "" {
		return filepath.Dir(p)
	}
	return ""
}

// StartPostgres initialises and starts a cluster; it is stopped at cleanup.
func StartPostgres(t T) *Postgres {
	t.Helper()
	return startPostgres(t, nil)
}

// StartPostgresTLS starts a cluster that also accepts TLS connections
// (ssl=on) with the server certificate of certs: connect with
// sslmode=verify-full&sslrootcert=<certs.CAFile>.
func StartPostgresTLS(t T, certs *Certs) *Postgres {
	t.Helper()
	return startPostgres(t, certs)
}

func startPostgres(t T, certs *Certs) *Postgres {
	t.Helper()
	bin := PgBin()
	if bin == "" {
		t.Fatal("Postgres server binaries not found (pg_config --bindir has no initdb); install them: apt-get install -y postgresql-15")
	}
	cred, uid, gid := serviceUser(t, "postgres")
	dir := tempDir(t, "inlet-pg-", uid, gid)
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := FreePort(t)
	logFile := filepath.Join(dir, "postgres.log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	os.Chown(logFile, uid, gid)
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", fmt.Sprint(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "wal_level=logical", "-c", "max_wal_senders=10",
		"-c", "max_replication_slots=10", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "shared_buffers=256MB", "-c", "max_connections=50")
	if certs != nil {
		// The server reads its key only if the key is its own and private.
		crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
		for _, f := range [][2]string{{certs.ServerCert, crt}, {certs.ServerKey, key}} {
			b, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1], b, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chown(f[1], uid, gid)
		}
		cmd.Args = append(cmd.Args, "-c", "ssl=on", "-c", "ssl_cert_file="+crt, "-c", "ssl_key_file="+key)
	}
	// Pdeathsig: a test killed (timeout, SIGKILL) takes its server along,
	// which would otherwise keep running and hold what the test held.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() { stop(cmd, syscall.SIGQUIT); lf.Close() })
	p := &Postgres{Port: port, Dir: dir, bin: bin, data: data, cred: cred}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(context.Background(), p.DSN("postgres"))
		if err == nil {
			c.Close(context.Background())
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres did not start: %v\n%s", err, tail(logFile, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Restart restarts the server with `pg_ctl restart -m mode -w` (fast,
// smart or immediate), as a DBA would, and returns how long pg_ctl took;
// it fails the test when pg_ctl fails or takes longer than timeout.
// After a restart the server is stopped at cleanup with pg_ctl.
func (p *Postgres) Restart(t T, mode string, timeout time.Duration) time.Duration {
	t.Helper()
	if !p.restarted {
		p.restarted = true
		t.Cleanup(func() {
			cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), "stop", "-D", p.data, "-m", "immediate", "-w")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
			cmd.Run()
		})
	}
	log := filepath.Join(p.Dir, "postgres-restarted.log")
	cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), "restart", "-D", p.data, "-m", mode, "-w",
		"-t", fmt.Sprint(int(timeout.Seconds())), "-l", log)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("pg_ctl restart -m %s failed after %s: %v\n%s\nserver log:\n%s", mode, took.Round(time.Millisecond), err, out, tail(log, 20))
	}
	return took
}
