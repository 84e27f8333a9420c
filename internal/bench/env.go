// Package bench measures Inlet against real services on this machine and
// prints the results as a table. Numbers from one run are comparable with
// each other (same machine, same data), not across machines.
package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// env implements testenv.T outside `go test`: cleanups run at Close, in
// reverse order; Fatal panics with a bench failure.
type env struct{ cleanups []func() }

type failure struct{ msg string }

func (e *env) Helper()                           {}
func (e *env) Cleanup(f func())                  { e.cleanups = append(e.cleanups, f) }
func (e *env) Fatal(args ...any)                 { panic(failure{fmt.Sprint(args...)}) }
func (e *env) Fatalf(format string, args ...any) { panic(failure{fmt.Sprintf(format, args...)}) }

func (e *env) close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// workDir makes a temp dir for one benchmark (kept with BENCH_KEEP=1)
// and builds the inlet binary into it.
func workDir(e *env, prefix string) (dir, bin string, err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		e.Cleanup(func() { os.RemoveAll(dir) })
	}
	if b := os.Getenv("BENCH_INLET_BIN"); b != "" {
		// A prebuilt binary, e.g. an older commit's, to compare builds.
		return dir, b, nil
	}
	bin = filepath.Join(dir, "inlet")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/inlet-dev/inlet/cmd/inlet").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build inlet: %v\n%s", err, out)
	}
	return dir, bin, nil
}

// Main runs the named benchmark and returns the process exit code.
func Main(name string) int {
	e := &env{}
	defer e.close()
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(failure); ok {
					err = fmt.Errorf("%s", f.msg)
					return
				}
				panic(r)
			}
		}()
		switch name {
		case "cdc":
			err = runCDC(e)
		case "snapshot":
			err = runSnapshot(e)
		case "summary":
			err = runSummary(e)
		case "http":
			err = runHTTP(e)
		case "freshness":
			err = runFreshness(e)
		case "verify":
			err = runVerify(e)
		case "lakelog":
			err = runLakeLog(e)
		case "scale":
			err = runScale(e)
		case "chblocks":
			err = runCHBlocks(e)
		default:
			err = fmt.Errorf("unknown benchmark %q (have: cdc, scale, snapshot, summary, http, freshness, verify, lakelog, chblocks)", name)
		}
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// benchEnvelope is kafka.envelope for the pipelines a bench writes:
// BENCH_ENVELOPE=json or binary, or unset for Inlet's default (binary with
// the embedded broker, json with brokers: embedded says which the bench
// runs). line is the kafka section's line for it: none for the default, so
// an older build (BENCH_INLET_BIN, which may not know the key) reads the
// config too.
func benchEnvelope(embedded bool) (name, line string, err error) {
	switch v := os.Getenv("BENCH_ENVELOPE"); v {
	case "":
		if embedded {
			return "binary (default with the embedded broker)", "", nil
		}
		return "json (default with brokers)", "", nil
	case "json", "binary":
		return v, "  envelope: " + v + "\n", nil
	default:
		return "", "", fmt.Errorf("BENCH_ENVELOPE=%q: write json or binary", v)
	}
}

// kafkaSection is a kafka section holding only line ("" for none).
func kafkaSection(line string) string {
	if line == "" {
		return ""
	}
	return "kafka:\n" + line
}
