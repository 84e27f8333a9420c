package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/internal/failpoint"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// bgWorkload runs a mixed workload until stopped and counts what committed.
type bgWorkload struct {
	w    *workload
	mu   sync.Mutex
	stop chan struct{}
	done chan error
}

func startBackgroundWorkload(conn *pgx.Conn, w *workload) *bgWorkload {
	b := &bgWorkload{w: w, stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { b.done <- b.loop(conn) }()
	return b
}

func (b *bgWorkload) loop(conn *pgx.Conn) error {
	ctx := context.Background()
	w := b.w
	for i := 0; ; i++ {
		select {
		case <-b.stop:
			return nil
		default:
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		pending := map[string]int{}
		touched := map[string]map[int64]bool{}
		for _, tb := range tables {
			touched[tb] = map[int64]bool{}
		}
		b.mu.Lock()
		switch {
		case i%40 == 39: // a large transaction: thousands of changes
			tag, err := tx.Exec(ctx, "UPDATE sales.customers SET score = score + 1, updated = now() WHERE id % 3 = 0")
			if err != nil {
				b.mu.Unlock()
				return err
			}
			pending["sales.customers"] += int(tag.RowsAffected())
			tag, err = tx.Exec(ctx, "UPDATE public.all_types SET i8 = i8 + 1 WHERE id % 4 = 0")
			if err != nil {
				b.mu.Unlock()
				return err
			}
			pending["public.all_types"] += int(tag.RowsAffected())
			// Big enough that the source must split it across Kafka
			// transactions (one source transaction fills its chunk at
			// 8,192 changes), however short the run: while the tables
			// are small, new customers make up the difference.
			if need := 9000 - pending["sales.customers"] - pending["public.all_types"]; need > 0 {
				first := w.nextID["sales.customers"] + 1
				if _, err := tx.Exec(ctx, `INSERT INTO sales.customers SELECT g, 'customer ' || g, (ARRAY['DE','FR','US','JP'])[1 + g % 4], (g % 1000000)::numeric + 0.25, now() FROM generate_series($1::int, $2::int) g`,
					first, first+int64(need)-1); err != nil {
					b.mu.Unlock()
					return err
				}
				for id := first; id < first+int64(need); id++ {
					w.live["sales.customers"] = append(w.live["sales.customers"], id)
				}
				w.nextID["sales.customers"] += int64(need)
				pending["sales.customers"] += need
			}
		default:
			n := []int{1, 1, 2, 5, 20, 100, 500}[w.rng.Intn(7)]
			for j := 0; j < n; j++ {
				table := tables[w.rng.Intn(len(tables))]
				var q string
				var args []any
				switch r := w.rng.Intn(10); {
				case r < 5 || len(w.live[table]) < 50:
					q, args = w.insertSQL(table)
					touched[table][w.nextID[table]] = true
				case r < 8:
					id, _, ok := w.pick(table, touched[table])
					if !ok {
						continue
					}
					touched[table][id] = true
					q, args = w.updateSQL(table, id)
				default:
					id, idx, ok := w.pick(table, touched[table])
					if !ok {
						continue
					}
					touched[table][id] = true
					q, args = fmt.Sprintf("DELETE FROM %s WHERE id = $1", table), []any{id}
					ids := w.live[table]
					ids[idx] = ids[len(ids)-1]
					w.live[table] = ids[:len(ids)-1]
				}
				if _, err := tx.Exec(ctx, q, args...); err != nil {
					b.mu.Unlock()
					return fmt.Errorf("%s: %w", q, err)
				}
				pending[table]++
			}
		}
		if err := tx.Commit(ctx); err != nil {
			b.mu.Unlock()
			return err
		}
		for tb, c := range pending {
			w.changes[tb] += c
		}
		b.mu.Unlock()
		time.Sleep(time.Duration(w.rng.Intn(3)) * time.Millisecond)
	}
}

func (b *bgWorkload) finish(t *testing.T) {
	t.Helper()
	close(b.stop)
	if err := <-b.done; err != nil {
		t.Fatalf("workload: %v", err)
	}
}

// TestCrashExactlyOnce kills `inlet run` with SIGKILL at every failpoint and
// at 20 random instants under a continuous mixed workload, then checks that
// every committed change is in Kafka once, in the lake once, and that
// ClickHouse equals Postgres.
func TestCrashExactlyOnce(t *testing.T) { crashExactlyOnce(t, false, 20) }

// TestCrashExactlyOnceS3 is TestCrashExactlyOnce with the lake on S3
// (versitygw): every failpoint, and 8 random kills.
func TestCrashExactlyOnceS3(t *testing.T) { crashExactlyOnce(t, true, 8) }

func crashExactlyOnce(t *testing.T, s3 bool, kills int) {
	e := setup(t)
	if s3 {
		e.lakeOnS3(t)
	}
	// Small batches and immediate transaction splitting, so crashes land
	// inside every stage, including split source transactions: with 1ms,
	// every source transaction that fills a chunk (4,096 changes) before
	// it ends is split, however fast this machine streams it.
	os.WriteFile(e.cfg, append(mustRead(t, e.cfg), []byte("  batch_records: 3000\ncapture:\n  split_after: 1ms\n")...), 0o644)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	bg := startBackgroundWorkload(e.pg.Connect(t, "postgres"), e.workld)
	rng := rand.New(rand.NewSource(7))

	for _, fp := range failpoint.All {
		p.stop(t, syscall.SIGKILL)
		os.Setenv("INLET_FAILPOINT", fmt.Sprintf("%s@%d", fp, 2+rng.Intn(3)))
		p = startInlet(t, e.cfg, e.log)
		os.Unsetenv("INLET_FAILPOINT")
		select {
		case <-p.done:
			p.done <- nil
			t.Logf("crashed at %s", fp)
		case <-time.After(90 * time.Second):
			t.Fatalf("failpoint %s was never hit; log:\n%s", fp, tailFile(p.log, 30))
		}
		p = startInlet(t, e.cfg, e.log)
		e.waitProgress(t, p)
	}
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(200+rng.Intn(2500)) * time.Millisecond)
		p.stop(t, syscall.SIGKILL)
		p = startInlet(t, e.cfg, e.log)
	}
	bg.finish(t)
	t.Logf("workload committed %d changes: %v", e.workld.totalChanges(), e.workld.changes)
	e.waitCaughtUp(t, p, 4*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	e.kafkaCheck(t)
	t.Logf("summary partitions recovered from an interrupted refresh at %d restarts", strings.Count(string(mustRead(t, e.log)), "interrupted refresh"))
	// Splitting is the source's, whatever the lake's store: the file run,
	// with 20 kills, is long enough to be sure to cover it; the S3 run
	// (8 kills) may end before a large transaction meets a chunk.
	if !s3 && !strings.Contains(string(mustRead(t, e.log)), "splitting a long source transaction") {
		t.Error("no source transaction was split across Kafka transactions; the test did not cover splitting")
	}
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kafkaCheck reopens the embedded broker's data dir and reads every change
// topic read_committed: each committed change must appear exactly once.
func (e *env) kafkaCheck(t *testing.T) {
	t.Helper()
	e.kafkaCheckDir(t, filepath.Join(e.dir, "state", "kafka"))
}

// kafkaCheckDir is kafkaCheck on the broker data in dir.
func (e *env) kafkaCheckDir(t *testing.T, dir string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		t.Fatalf("reopen embedded kafka: %v", err)
	}
	defer c.Close()
	topics := map[string]string{"shop.public.all_types": "public.all_types", "shop.sales.customers": "sales.customers", "shop.public.docs": "public.docs"}
	var names []string
	for tp := range topics {
		names = append(names, tp)
	}
	// Read every partition to its end (markers included, to know where
	// we are), not just until the expected count: duplicates appended
	// after the last change would otherwise go unseen.
	acl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer acl.Close()
	ends, err := kadm.NewClient(acl).ListCommittedOffsets(context.Background(), names...)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s: %v", o.Topic, o.Err)
		}
		next[fmt.Sprint(o.Topic, "/", o.Partition)] = o.Offset
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(names...), kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	counts := map[string]int{}
	left := func() int {
		n := 0
		for _, end := range next {
			if end > 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	for left() > 0 && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			k := fmt.Sprint(r.Topic, "/", r.Partition)
			if r.Offset+1 >= next[k] {
				next[k] = 0 // read to the end
			}
			if r.Attrs.IsControl() {
				return
			}
			// A change is its key and its source order (commit LSN and
			// sequence: the same in either envelope format).
			var order []byte
			for _, h := range r.Headers {
				if h.Key == kafka.HeaderOrder {
					order = h.Value
				}
			}
			if len(order) == 0 {
				t.Fatalf("%s@%d: no %s header", r.Topic, r.Offset, kafka.HeaderOrder)
			}
			id := fmt.Sprintf("%s|%s|%x", r.Topic, r.Key, order)
			seen[id]++
			counts[topics[r.Topic]]++
		})
	}
	if left() > 0 {
		t.Fatalf("kafka: %d partitions not read to their end in 2 minutes", left())
	}
	dups := 0
	for id, n := range seen {
		if n > 1 {
			if dups < 5 {
				t.Errorf("kafka: change %s appears %d times", id, n)
			}
			dups++
		}
	}
	for tb, n := range e.workld.changes {
		if counts[tb] != n {
			t.Errorf("kafka: %s has %d committed changes, want %d", tb, counts[tb], n)
		}
	}
	if dups > 0 {
		t.Errorf("kafka: %d duplicated changes", dups)
	}
}
