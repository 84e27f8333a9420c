package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// trickle runs a steady workload (a few changes every 100ms) on its own
// connection until stopped; the workload's counts stay exact.
type trickle struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	n     int
}

func startTrickle(t *testing.T, e *env) *trickle {
	t.Helper()
	conn := e.pg.Connect(t, "postgres")
	tr := &trickle{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tr.stopc:
				return
			case <-tick.C:
			}
			tr.mu.Lock()
			e.workld.run(t, conn,
				map[string]int{"public.all_types": 2, "sales.customers": 1, "public.docs": 2},
				map[string]int{"public.all_types": 1, "sales.customers": 1, "public.docs": 1},
				map[string]int{"public.docs": 1}, nil)
			tr.n++
			tr.mu.Unlock()
		}
	}()
	return tr
}

func (tr *trickle) stop() {
	close(tr.stopc)
	<-tr.done
}

// lakeCommitTimes returns the modification times of a lake table's Delta
// commits, oldest first.
func lakeCommitTimes(t *testing.T, tableDir string) []time.Time {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(tableDir, "_delta_log", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			out = append(out, st.ModTime())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// maxGap is the longest time between lake commits within [from, to]
// (counting from from and to to the nearest commits).
func maxGap(times []time.Time, from, to time.Time) (time.Duration, int) {
	prev, gap, n := from, time.Duration(0), 0
	for _, ts := range times {
		if ts.Before(from) || ts.After(to) {
			continue
		}
		gap = max(gap, ts.Sub(prev))
		prev = ts
		n++
	}
	return max(gap, to.Sub(prev)), n
}

// incidentsMatching counts incident journal lines whose message starts
// with prefix and whose attrs include sink.
func incidentsMatching(t *testing.T, stateDir, prefix, sink string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "incidents.jsonl"))
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var rec struct {
			Msg   string         `json:"msg"`
			Attrs map[string]any `json:"attrs"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if strings.HasPrefix(rec.Msg, prefix) && (sink == "" || rec.Attrs["sink"] == sink) {
			n++
		}
	}
	return n
}

// TestSinkOutages: under a steady workload, ClickHouse frozen (SIGSTOP)
// for 60s, then killed and restarted, then the lake's log made unwritable
// for a while: each time the other sink keeps committing at its usual
// pace, the failing one catches up from its own checkpoint, and in the end
// ClickHouse equals Postgres row by row and the lake holds every change
// once.
func TestSinkOutages(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	tr := startTrickle(t, e)
	defer func() {
		select {
		case <-tr.stopc:
		default:
			tr.stop()
		}
	}()
	const batchWait = 300 * time.Millisecond // writeConfig's engine.batch_wait
	docs := filepath.Join(e.lakeDir, "public.docs")

	time.Sleep(8 * time.Second)
	before := time.Now()
	baseGap, baseN := maxGap(lakeCommitTimes(t, docs), before.Add(-6*time.Second), before)
	t.Logf("before the outage: %d lake commits of public.docs in 6s, longest gap %v", baseN, baseGap)

	// 1. ClickHouse frozen for 60 s.
	if err := e.ch.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	time.Sleep(60 * time.Second)
	thawed := time.Now()
	if err := e.ch.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	gap, n := maxGap(lakeCommitTimes(t, docs), frozen.Add(2*batchWait+time.Second), thawed)
	t.Logf("ClickHouse frozen 60s: %d lake commits, longest gap %v (before: %v)", n, gap, baseGap)
	if gap > baseGap+2*batchWait+2*time.Second || n < 20 {
		t.Errorf("the lake slowed down while ClickHouse was frozen: longest gap between commits %v (before %v), %d commits in 60s", gap, baseGap, n)
	}
	e.waitCHEquals(t, p, tr, 2*time.Minute)

	// 2. ClickHouse killed, down 20 s, restarted.
	e.ch.Kill()
	down := time.Now()
	time.Sleep(20 * time.Second)
	gap, n = maxGap(lakeCommitTimes(t, docs), down.Add(2*batchWait+time.Second), time.Now())
	t.Logf("ClickHouse killed 20s: %d lake commits, longest gap %v", n, gap)
	if gap > baseGap+2*batchWait+2*time.Second {
		t.Errorf("the lake slowed down while ClickHouse was down: longest gap %v (before %v)", gap, baseGap)
	}
	e.ch.Restart(t)
	e.waitCHEquals(t, p, tr, 2*time.Minute)

	// 3. The lake's storage failing for 15 s (public.docs' log directory
	// gone): ClickHouse keeps up with Postgres meanwhile.
	logDir := filepath.Join(docs, "_delta_log")
	if err := os.Rename(logDir, logDir+".away"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	e.waitCHEquals(t, p, tr, 30*time.Second)
	time.Sleep(12 * time.Second)
	if err := os.Rename(logDir+".away", logDir); err != nil {
		t.Fatal(err)
	}

	tr.stop()
	t.Logf("trickle committed %d rounds, %d changes", tr.n, e.workld.totalChanges())
	e.waitCaughtUp(t, p, 3*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)

	state := filepath.Join(e.dir, "state")
	for _, sink := range []string{"clickhouse", "lake"} {
		if incidentsMatching(t, state, "incident: batch failed", sink) == 0 {
			t.Errorf("no incident recorded for the %s outage", sink)
		}
		if incidentsMatching(t, state, "incident resolved", sink) == 0 {
			t.Errorf("the %s incident was never resolved", sink)
		}
	}
}

// waitCHEquals waits until ClickHouse equals Postgres while the trickle
// is paused.
func (e *env) waitCHEquals(t *testing.T, p *inletProc, tr *trickle, timeout time.Duration) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited (%v); log:\n%s", err, tailFile(p.log, 40))
		}
		d := e.compareCH(t)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse did not catch up in %v:\n%s\nlog:\n%s", timeout, d, tailFile(p.log, 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestCheckpointFailsAfterLakeCommit: the checkpoint store fails once
// right after a lake commit. The lake's batch history still gets that
// batch's entry (with its Delta versions), and replay to it works.
func TestCheckpointFailsAfterLakeCommit(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	os.Setenv("INLET_FAILPOINT", "engine.checkpoint_error.lake@3")
	p := startInlet(t, e.cfg, e.log)
	os.Unsetenv("INLET_FAILPOINT")
	e.waitSnapshot(t, p)
	e.workld.run(t, e.conn, inserts, updates, deletes, nil)
	e.waitCaughtUp(t, p, 3*time.Minute)
	p.stop(t, syscall.SIGTERM)
	if !strings.Contains(string(mustRead(t, e.log)), "failpoint engine.checkpoint_error.lake: failing") {
		t.Fatal("the failpoint never fired")
	}

	// Every Delta version that added data is in some lake history entry.
	out := e.inlet(t, "checkpoints", "-c", e.cfg, "--sink", "lake", "--json")
	var hist []struct {
		ID           uint64           `json:"id"`
		LakeVersions map[string]int64 `json:"lake_versions"`
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var b struct {
			ID           uint64           `json:"id"`
			LakeVersions map[string]int64 `json:"lake_versions"`
		}
		if err := json.Unmarshal([]byte(line), &b); err != nil {
			t.Fatalf("checkpoints --json: %v: %q", err, line)
		}
		hist = append(hist, b)
	}
	for i, b := range hist {
		if b.ID != uint64(i+1) {
			t.Fatalf("lake history ids not contiguous at %d: %d", i, b.ID)
		}
	}
	for _, s := range specs {
		inHist := map[int64]bool{}
		for _, b := range hist {
			if v, ok := b.LakeVersions[s.lake]; ok {
				inHist[v] = true
			}
		}
		versions := dataVersions(t, filepath.Join(e.lakeDir, s.lake))
		for _, v := range versions {
			if !inHist[v] {
				t.Errorf("%s: Delta version %d (with data) has no lake history entry", s.lake, v)
			}
		}
	}
	// Replay the lake from the entry the failure hit, and from the one
	// before it: the lake ends up the same.
	for _, from := range []string{"3", "2"} {
		out = e.inlet(t, "replay", "-c", e.cfg, "--sink", "lake", "--from", from)
		if !strings.Contains(out, "replayed ") {
			t.Fatalf("replay from %s:\n%s", from, out)
		}
	}
	e.finalChecks(t)
}

// dataVersions lists the Delta versions of a table that add files.
func dataVersions(t *testing.T, tableDir string) []int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(tableDir, "_delta_log", "*.json"))
	var out []int64
	for _, f := range files {
		var v int64
		if _, err := fmt.Sscanf(filepath.Base(f), "%020d.json", &v); err != nil {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"add":`) {
			out = append(out, v)
		}
	}
	return out
}
