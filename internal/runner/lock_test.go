package runner

import (
	"strings"
	"testing"
	"time"
)

// TestLockStateDirWaitsForAMomentaryHolder: inlet resume takes the lock
// for a moment to see whether an inlet runs; an inlet run starting then
// must wait for it, not fail. A lock held on is still refused.
func TestLockStateDirWaitsForAMomentaryHolder(t *testing.T) {
	dir := t.TempDir()
	probe, err := LockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		probe.Close()
	}()
	run, err := LockStateDir(dir)
	if err != nil {
		t.Fatalf("a lock held for 300ms refused the next process: %v", err)
	}
	defer run.Close()

	defer func(w time.Duration) { lockWait = w }(lockWait)
	lockWait = 200 * time.Millisecond
	start := time.Now()
	if _, err := LockStateDir(dir); err == nil || !strings.Contains(err.Error(), "locked by another inlet process") {
		t.Fatalf("a held lock gave %v, want the refusal", err)
	}
	if waited := time.Since(start); waited < lockWait {
		t.Errorf("refused after %s, before waiting %s", waited, lockWait)
	}
}
