// Package testenv starts real throwaway services for tests: Postgres from
// the machine's server binaries, clickhouse-server, and kfake. Each listens
// on free loopback ports and is stopped by t.Cleanup. A missing service
// fails the test with the command that installs it; nothing is skipped.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// T is what the environment needs from its caller: *testing.T and
// *testing.B satisfy it, and so can a benchmark command.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort(t T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serviceUser returns credentials to run a server as when we are root
// (Postgres refuses to run as root), and the uid/gid for chown.
func serviceUser(t T, name string) (*syscall.Credential, int, int) {
	if os.Geteuid() != 0 {
		return nil, os.Geteuid(), os.Getegid()
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("running as root, so the %s server must run as user %q, which does not exist: %v (install the server package, which creates it)", name, name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid
}

// tempDir makes a directory outside t.TempDir (whose parents are private to
// root) that the service user owns; it is removed at cleanup.
func tempDir(t T, prefix string, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chown(dir, uid, gid)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func waitPort(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", addr, d)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop ends a server process: SIGTERM, then SIGKILL after a grace period.
func stop(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func findBinary(candidates ...string) string {
	for _, c := range candidates {
		if strings.Contains(c, "*") {
			m, _ := filepath.Glob(c)
			if len(m) > 0 {
				return m[len(m)-1]
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}
