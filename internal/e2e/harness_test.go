package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// inletBin is the inlet binary built once for the package's tests.
var inletBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "inlet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	inletBin = filepath.Join(dir, "inlet")
	build := exec.Command("go", "build", "-o", inletBin, "github.com/inlet-dev/inlet/cmd/inlet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build inlet:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// inletProc is a running `inlet run`.
type inletProc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func startInlet(t *testing.T, cfg, logPath string, extra ...string) *inletProc {
	t.Helper()
	return startInletEnv(t, nil, cfg, logPath, extra...)
}

// startInletEnv is startInlet with extra environment variables (each
// process of a scaled-out pipeline has its own INLET_STATE).
func startInletEnv(t *testing.T, env []string, cfg, logPath string, extra ...string) *inletProc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(inletBin, append([]string{"run", "-c", cfg}, extra...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with a killed test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &inletProc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop signals the process and waits; it fails the test when a SIGINT or
// SIGTERM stop does not exit cleanly.
func (p *inletProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		if sig != syscall.SIGKILL && err != nil {
			t.Fatalf("inlet exited with %v after %v; log:\n%s", err, sig, tailFile(p.log, 30))
		}
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("inlet did not stop within 60s of %v; log:\n%s", sig, tailFile(p.log, 30))
	}
}

func (p *inletProc) exited() (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err
		return err, true
	default:
		return nil, false
	}
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	s := string(b)
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			lines++
			if lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}

func writeConfig(t *testing.T, dir, dsn, chAddr string) string {
	return writePipeline(t, dir, fmt.Sprintf(`  - name: pg
    postgres:
      dsn: "%s"
      tables: ["public.all_types", "sales.customers", "public.docs"]
`, dsn), chAddr, `  summaries:
    - name: customers_by_country
      from: sales.customers
      dimensions: [country]
      measures: ["count() AS customers", "sum(score) AS total_score"]
      partition_by: country
      on_check_failure: stop
engine:
  batch_wait: 300ms
`)
}

// testDir is a test's work dir: removed after the test, or kept (named
// prefix…) when INLET_TEST_KEEP is set, to look at logs and data
// (INLET_TEST_KEEP=failed: only a failed test's).
func testDir(t *testing.T, prefix string) string {
	t.Helper()
	keep := os.Getenv("INLET_TEST_KEEP")
	if keep == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if keep == "failed" {
		t.Cleanup(func() {
			if !t.Failed() {
				os.RemoveAll(dir)
			}
		})
	}
	return dir
}

// writePipeline writes dir/pipeline.yaml for pipeline shop: state and
// lake under dir, ClickHouse database shop at chAddr, the sources given
// (YAML list items), then tail (more clickhouse keys, indented, and
// top-level sections such as engine); it returns the file's path.
func writePipeline(t *testing.T, dir, sources, chAddr, tail string) string {
	t.Helper()
	cfg := fmt.Sprintf(`pipeline: shop
state_dir: %[1]s/state
sources:
%[2]slake:
  path: "file://%[1]s/lake"
clickhouse:
  addr: "%[3]s"
  database: shop
%[4]s`, dir, sources, chAddr, tail)
	path := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// execInlet runs an inlet command to completion and returns its output.
func execInlet(args ...string) (string, error) {
	out, err := exec.Command(inletBin, args...).CombinedOutput()
	return string(out), err
}
