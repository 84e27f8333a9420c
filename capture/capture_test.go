package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/health"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// fakeSource emits records 1..total in batches of 10, each batch ending at
// a position (the last record's number); it resumes after the position it
// is opened at, and fails once at failAt with failErr.
type fakeSource struct {
	total, failAt int
	failErr       error
	bigAt         int // record bigAt's value is 2 MiB

	mu     sync.Mutex
	next   int
	opens  int
	failed bool
	acked  int
	closed bool
}

func (f *fakeSource) Open(_ context.Context, pos []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	f.closed = false
	f.next = 1
	if pos != nil {
		n, err := strconv.Atoi(string(pos))
		if err != nil {
			return err
		}
		f.next = n + 1
	}
	return nil
}

func (f *fakeSource) Reopen(ctx context.Context, pos []byte) error {
	f.Close()
	return f.Open(ctx, pos)
}

func (f *fakeSource) Read(ctx context.Context) (connectors.Batch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next > f.total {
		f.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		f.mu.Lock()
		if ctx.Err() != nil {
			return connectors.Batch{}, ctx.Err()
		}
		return connectors.Batch{}, nil
	}
	if f.next > f.failAt && !f.failed {
		f.failed = true
		return connectors.Batch{}, f.failErr
	}
	var b connectors.Batch
	for i := 0; i < 10 && f.next <= f.total; i++ {
		order := make([]byte, 8)
		binary.BigEndian.PutUint64(order, uint64(f.next))
		v := []byte("v")
		if f.next == f.bigAt {
			v = bytes.Repeat([]byte("b"), 2<<20)
		}
		b.Records = append(b.Records, connectors.Record{Topic: "p.t", Key: []byte(strconv.Itoa(f.next)), Value: v, Order: order})
		f.next++
	}
	b.Position = []byte(strconv.Itoa(f.next - 1))
	return b, nil
}

func (f *fakeSource) Ack(_ context.Context, pos []byte) error {
	n, _ := strconv.Atoi(string(pos))
	f.mu.Lock()
	f.acked = max(f.acked, n)
	f.mu.Unlock()
	return nil
}

func (f *fakeSource) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

// logLines is a slog handler that keeps the messages.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }
func (l *logLines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func startBroker(t *testing.T) *kafka.Cluster {
	t.Helper()
	b, err := kafka.StartEmbedded(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl := kafka.NewCluster(b.Addrs(), kafka.Security{})
	t.Cleanup(cl.Close)
	if err := kafka.EnsureTopics(context.Background(), cl, 2, []string{"p.t"}, []string{"p._inlet_offsets"}); err != nil {
		t.Fatal(err)
	}
	return cl
}

// committedKeys reads every committed record of p.t.
func committedKeys(t *testing.T, brokers *kafka.Cluster, want int) map[string]int {
	t.Helper()
	cl, err := brokers.Client(kgo.ConsumeTopics("p.t"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	n := 0
	deadline := time.Now().Add(10 * time.Second)
	for n < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)]++; n++ })
	}
	// Anything after the expected records would be a duplicate.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Key)]++ })
	cancel()
	return seen
}

// TestReconnectsAfterRetriableError: a source that fails with a retriable
// error is reopened after its committed position; what it read and did not
// commit is read again, and every record is in Kafka exactly once. The
// outage is an incident that is resolved, and the stage is ready again.
func TestReconnectsAfterRetriableError(t *testing.T) {
	brokers := startBroker(t)
	src := &fakeSource{total: 100, failAt: 45, failErr: fmt.Errorf("receive: %w", errors.New("connection reset"))}
	logs := &logLines{}
	reg := health.New()
	st := reg.Stage("source fake")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, src, Options{Kafka: brokers, Pipeline: "p", Source: "fake", Log: slog.New(logs), Health: st,
			CommitEvery: time.Millisecond, Reconnect: retry.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		src.mu.Lock()
		acked := src.acked
		src.mu.Unlock()
		if acked == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acked %d of 100 after 30s; log: %v", acked, logs.msgs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, lines := reg.Check(); !ok {
		t.Errorf("not ready after reconnecting: %v", lines)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if src.opens != 2 || !src.closed {
		t.Errorf("opened %d times (closed %v), want 2 and closed", src.opens, src.closed)
	}
	if o, r := logs.count("incident: source fake"), logs.count("incident resolved: source fake"); o != 1 || r != 1 {
		t.Errorf("%d incidents, %d resolved; want 1 and 1: %v", o, r, logs.msgs)
	}
	seen := committedKeys(t, brokers, 100)
	for i := 1; i <= 100; i++ {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("record %d committed %d times", i, n)
		}
	}
}

// TestStopsWhenNeedsUser: an error that needs a person stops the stage at
// once, recorded as an incident that names the fix, and not ready.
func TestStopsWhenNeedsUser(t *testing.T) {
	brokers := startBroker(t)
	src := &fakeSource{total: 100, failAt: 15, failErr: retry.MarkNeedsUser(errors.New("replication slot gone"), "start over")}
	logs := &logLines{}
	reg := health.New()
	err := Run(context.Background(), src, Options{Kafka: brokers, Pipeline: "p", Source: "fake", Log: slog.New(logs),
		Health: reg.Stage("source fake"), Reconnect: retry.Backoff{Initial: 10 * time.Millisecond}})
	if retry.Classify(err) != retry.NeedsUser || !strings.Contains(err.Error(), "fix: start over") {
		t.Fatalf("Run = %v, want the needs-user error with its fix", err)
	}
	if src.opens != 1 {
		t.Errorf("opened %d times, want 1 (no reconnect)", src.opens)
	}
	if logs.count("incident: source fake stopped") != 1 {
		t.Errorf("no stop incident: %v", logs.msgs)
	}
	if ok, lines := reg.Check(); ok || !bytes.Contains([]byte(strings.Join(lines, "\n")), []byte("stopped: replication slot gone")) {
		t.Errorf("health after the stop: %v %v", ok, lines)
	}
}

// TestLargeRecordSwitchesBatches: the producer starts with small batches;
// the first record that does not fit one makes the source reconnect once
// with large batches (no incident), and every record, the large one whole,
// is in Kafka exactly once.
func TestLargeRecordSwitchesBatches(t *testing.T) {
	brokers := startBroker(t)
	src := &fakeSource{total: 100, failAt: 1 << 30, bigAt: 57}
	logs := &logLines{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, src, Options{Kafka: brokers, Pipeline: "p", Source: "fake", Log: slog.New(logs),
			Health: health.New().Stage("source fake"), CommitEvery: time.Millisecond})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		src.mu.Lock()
		acked := src.acked
		src.mu.Unlock()
		if acked == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acked %d of 100 after 30s; log: %v", acked, logs.msgs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if src.opens != 2 {
		t.Errorf("opened %d times, want 2 (one reconnect for large batches)", src.opens)
	}
	if n := logs.count("source fake: a change does not fit the producer's batches"); n != 1 {
		t.Errorf("%d switches to large batches logged, want 1: %v", n, logs.msgs)
	}
	if n := logs.count("incident"); n != 0 {
		t.Errorf("the switch was logged as an incident: %v", logs.msgs)
	}
	seen := committedKeys(t, brokers, 100)
	for i := 1; i <= 100; i++ {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("record %d committed %d times", i, n)
		}
	}
	cl, err := brokers.Client(kgo.ConsumeTopics("p.t"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for n := 0; n < 100; {
		fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
		fs := cl.PollFetches(fctx)
		fcancel()
		if fs.IsClientClosed() || fctx.Err() != nil && fs.NumRecords() == 0 {
			t.Fatal("the committed records could not be read back")
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if string(r.Key) == "57" && !bytes.Equal(r.Value, bytes.Repeat([]byte("b"), 2<<20)) {
				t.Errorf("the large record came back with %d bytes, not its 2 MiB value", len(r.Value))
			}
		})
	}
}
