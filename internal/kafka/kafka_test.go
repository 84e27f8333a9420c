package kafka

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceTxn writes keys k<from>..k<to-1> to topic in one transaction and
// commits it or not. With commit=false and abort=false the transaction is
// left open, as a producer killed mid-transaction leaves it.
func produceTxn(t *testing.T, addrs []string, txid, topic string, from, to int, commit, abort bool) {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		order := fmt.Sprintf("%08d", i)
		r := &kgo.Record{Key: []byte(fmt.Sprint("k", i)), Value: []byte(order),
			Headers: []kgo.RecordHeader{{Key: HeaderOrder, Value: []byte(order)}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case commit:
		err = cl.EndTransaction(ctx, kgo.TryCommit)
	case abort:
		err = cl.EndTransaction(ctx, kgo.TryAbort)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadCommittedEnds reads a partition whose tail holds an aborted
// transaction (markers) and, after a simulated crash, a transaction left
// open that the broker's recovery aborts without markers: both reads must
// return exactly the committed records and end without waiting for data
// that never comes.
func TestReadCommittedEnds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "a")), kfake.SyncWrites(),
		kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	produceTxn(t, addrs, "p1", "t", 0, 3, true, false)
	produceTxn(t, addrs, "p1", "t", 3, 5, false, true)

	check := func(addrs []string, wantLast string) {
		t.Helper()
		start := time.Now()
		got, err := ReadCompacted(ctx, testCluster(t, addrs), "t")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got["k0"] == nil || got["k2"] == nil {
			t.Fatalf("read %d keys, want k0..k2: %v", len(got), got)
		}
		last, err := LastOrders(ctx, testCluster(t, addrs), "t", 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(last[0]) != wantLast {
			t.Fatalf("last order %q, want %q", last[0], wantLast)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("reading took %s: it waited for records that never come", d)
		}
	}
	check(addrs, "00000002")

	// A producer dies mid-transaction; the broker "crashes" (its files are
	// copied as they are, with no clean-shutdown snapshot) and restarts.
	produceTxn(t, addrs, "p2", "t", 5, 9, false, false)
	copyDir(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	os.Remove(filepath.Join(dir, "b", "partitions", "t-0", "snapshot.json"))
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "b")))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	check(c2.ListenAddrs(), "00000002")

	// The order a sink applied, from its next offset: the record before it
	// when that has one, even if its transaction was lost (the sink took
	// it); else the highest committed order below.
	for _, c := range []struct {
		next int64
		want string
	}{{11, "00000008"}, {7, "00000002"}, {3, "00000002"}, {0, ""}} {
		o, err := OrderBefore(ctx, testCluster(t, c2.ListenAddrs()), "t", 0, c.next)
		if err != nil {
			t.Fatal(err)
		}
		if string(o) != c.want {
			t.Errorf("OrderBefore(%d) = %q, want %q", c.next, o, c.want)
		}
	}

	// A committed transaction after the orphans is found again.
	produceTxn(t, c2.ListenAddrs(), "p3", "t", 9, 10, true, false)
	last, err := LastOrders(ctx, testCluster(t, c2.ListenAddrs()), "t", 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(last[0]) != "00000009" {
		t.Fatalf("last order %q after the orphans, want 00000009", last[0])
	}
}

// testCluster is a plain Cluster closed at the test's end.
func testCluster(t *testing.T, addrs []string) *Cluster {
	c := NewCluster(addrs, Security{})
	t.Cleanup(c.Close)
	return c
}
