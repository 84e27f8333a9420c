package lake

import (
	"context"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inlet-dev/inlet/lake/store"
)

// crashOptions make every kind of maintenance happen often.
func crashOptions() Options {
	return Options{CheckpointInterval: 5, CompactMinFiles: 4, LogRetention: 2 * time.Second, DeletedFileRetention: time.Second}
}

// TestCrashHelper is the process TestSIGKILL kills: it loops commits,
// checkpoints, compactions, log cleanup and vacuum on one table until
// killed.
func TestCrashHelper(t *testing.T) {
	root := os.Getenv("INLET_LAKE_CRASH_ROOT")
	if root == "" {
		t.Skip("run by TestSIGKILL")
	}
	if ep := os.Getenv("INLET_LAKE_CRASH_S3"); ep != "" {
		// The parent's S3 server: endpoint, bucket and keys.
		f := strings.Fields(ep)
		st, err := store.NewS3(context.Background(), store.S3Options{Endpoint: f[0], Bucket: f[1], Prefix: "lake", PathStyle: true,
			AccessKeyID: f[2], SecretAccessKey: f[3]})
		if err != nil {
			t.Fatal(err)
		}
		stores[root] = st
	}
	l := testOpenWith(t, root, "p", crashOptions())
	if _, err := l.RemoveOrphans("public.s"); err != nil {
		t.Fatal(err)
	}
	tb, err := l.Table("public.s")
	if err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	for _, v := range tb.Txns() {
		next = max(next, v+1)
	}
	for i := 0; ; i++ {
		next = writeCommits(t, l, next, 1, 2, func(int) time.Time { return time.Now() })
		if i%3 == 2 {
			if _, err := l.Maintain(context.Background(), "public.s", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSIGKILL kills a process that commits, checkpoints, compacts and
// cleans up a table at random instants; each time the table opens, holds
// each change once, and the next checkpoint describes it exactly.
func TestSIGKILL(t *testing.T) {
	root := lakeRoot(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), "INLET_LAKE_CRASH_ROOT="+root, "INLET_LAKE_CRASH_S3="+crashS3[root])
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+rng.Intn(700)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		l := testOpenWith(t, root, "p", crashOptions())
		if _, err := l.RemoveOrphans("public.s"); err != nil {
			t.Fatalf("round %d: remove orphans: %v", round, err)
		}
		tb, err := l.Table("public.s")
		if err != nil {
			t.Fatalf("round %d: open after SIGKILL: %v", round, err)
		}
		if tb.version < 0 {
			continue // killed before its first commit
		}
		last := int64(-1)
		for _, v := range tb.Txns() {
			last = max(last, v)
		}
		seen := map[int64]int{}
		for _, r := range readAll(t, tb) {
			var p, off int64
			fmtSscan(r, &p, &off)
			seen[off]++
		}
		for off := int64(0); off <= last; off++ {
			if seen[off] != 1 {
				t.Fatalf("round %d: offset %d read %d times, want once (table at version %d, txn %d)", round, off, seen[off], tb.version, last)
			}
		}
		if len(seen) != int(last+1) {
			t.Fatalf("round %d: %d offsets, want %d", round, len(seen), last+1)
		}
		// The next checkpoint is right: a table opened from it is the same.
		if err := tb.writeCheckpoint(time.Now(), &l.opts); err != nil {
			t.Fatal(err)
		}
		again, err := openTable(storeAt(root), "public.s")
		if err != nil || again.replayed != 1 {
			t.Fatalf("round %d: reopen from the new checkpoint: %v (read %d files)", round, err, again.replayed)
		}
		sameState(t, "after SIGKILL", again, tb)
		t.Logf("round %d: version %d, %d changes, %d live files", round, tb.version, len(seen), len(tb.Files()))
	}
	dir := root + "/public.s"
	tb, _ := openTable(storeAt(root), "public.s")
	want := sortedByOffset(readAll(t, tb))
	if d := cmp.Diff(want, chdbRows(t, dir)); d != "" {
		t.Fatalf("chDB after the kills (-lake +chdb):\n%s", d)
	}
}
