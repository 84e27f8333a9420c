package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondWriterRefused starts a second `inlet run` on the same pipeline,
// first with the same state dir, then with its own: both refuse with a
// message naming the cause, and the first keeps working. Then teardown
// drops the slot and publication.
func TestSecondWriterRefused(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)

	out, err := exec.Command(inletBin, "run", "-c", e.cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "locked by another inlet process") {
		t.Errorf("second run on the same state dir: err=%v\n%s", err, out)
	}
	other := filepath.Join(e.dir, "other.yaml")
	os.WriteFile(other, []byte(strings.Replace(string(mustRead(t, e.cfg)), "state_dir: "+e.dir+"/state", "state_dir: "+e.dir+"/state2", 1)), 0o644)
	cmd := exec.Command(inletBin, "run", "-c", other)
	done := make(chan []byte, 1)
	go func() { b, _ := cmd.CombinedOutput(); done <- b }()
	select {
	case b := <-done:
		// Refused by the source (the slot is busy) or by the engine (its
		// embedded broker's topics are not the ones the lake consumed),
		// whichever comes first; both name another inlet.
		if cmd.ProcessState.Success() || !strings.Contains(string(b), "another inlet") {
			t.Errorf("second run with its own state dir: %v\n%s", cmd.ProcessState, b)
		}
		// It must not copy the tables into its own Kafka while it waits
		// for the slot: its engine would write them to the lake tables
		// the first one writes (the same Delta txn app ids), and the lake
		// would skip the first one's later changes as already held.
		if strings.Contains(string(b), "snapshot copying table") {
			t.Errorf("second run copied the tables while another inlet held the slot:\n%s", b)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a second inlet on the same pipeline kept running")
	}

	e.workld.run(t, e.conn, map[string]int{"public.all_types": 300, "sales.customers": 100, "public.docs": 100}, nil, nil, nil)
	e.waitCaughtUp(t, p, 2*time.Minute)

	if out, err := exec.Command(inletBin, "teardown", "-c", e.cfg, "--yes").CombinedOutput(); err == nil || !strings.Contains(string(out), "stop inlet run first") {
		t.Errorf("teardown while running: err=%v\n%s", err, out)
	}
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	tear := exec.Command(inletBin, "teardown", "-c", e.cfg)
	tear.Stdin = strings.NewReader("wrong\n")
	if out, err := tear.CombinedOutput(); err == nil {
		t.Errorf("teardown without confirmation succeeded:\n%s", out)
	}
	if out, err := exec.Command(inletBin, "teardown", "-c", e.cfg, "--yes").CombinedOutput(); err != nil {
		t.Fatalf("teardown: %v\n%s", err, out)
	}
	var slots, pubs int
	e.conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots").Scan(&slots)
	e.conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_publication").Scan(&pubs)
	if slots != 0 || pubs != 0 {
		t.Errorf("after teardown: %d slots, %d publications", slots, pubs)
	}
}
