package e2e

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func dirSize(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// TestEmbeddedBrokerBounded: with kafka.retention 2s and 1 MiB segments,
// a workload that publishes far more than the bound (≈60 MB of TOASTed
// documents) leaves the embedded broker's data dir small, the broker's log
// start offsets move up, and no sink loses a record.
func TestEmbeddedBrokerBounded(t *testing.T) {
	e := setup(t)
	cfg := string(mustRead(t, e.cfg)) + "kafka:\n  retention: 2s\n  segment_mb: 1\n"
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	kdir := filepath.Join(e.dir, "state", "kafka")
	var maxSize atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if n := dirSize(kdir); n > maxSize.Load() {
				maxSize.Store(n)
			}
		}
	}()
	e.workld.run(t, e.conn, map[string]int{"public.docs": 10000, "public.all_types": 2000},
		map[string]int{"public.docs": 2000}, map[string]int{"public.docs": 500}, nil)
	e.waitCaughtUp(t, p, 3*time.Minute)
	time.Sleep(4 * time.Second) // a trim after the last commit
	close(done)
	final := dirSize(kdir)
	t.Logf("embedded broker data dir: max %.1f MB during the run, %.1f MB at the end", float64(maxSize.Load())/1e6, float64(final)/1e6)
	if final > 16<<20 {
		t.Errorf("embedded broker keeps %.1f MB after every sink committed everything (retention 2s, 1 MiB segments)", float64(final)/1e6)
	}
	// The change topics' log start moved up: deleted records.
	addr := brokerAddr(t, e.log)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	starts, err := kadm.NewClient(cl).ListStartOffsets(context.Background(), "shop.public.docs")
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := starts.Lookup("shop.public.docs", 0); !ok || s.Offset < 10000 {
		t.Errorf("log start of shop.public.docs is %d; want most of its records deleted", s.Offset)
	}
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
}

// brokerAddr finds the embedded broker's address in inlet's log.
func brokerAddr(t *testing.T, logPath string) string {
	t.Helper()
	for _, l := range strings.Split(string(mustRead(t, logPath)), "\n") {
		if !strings.Contains(l, "embedded kafka started") {
			continue
		}
		if i := strings.Index(l, "addr=["); i >= 0 {
			rest := l[i+len("addr=["):]
			return rest[:strings.IndexByte(rest, ']')]
		}
	}
	t.Fatal("no embedded broker address in the log")
	return ""
}
