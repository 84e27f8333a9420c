package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// churnMember is one group consumer of the churn test: a kgo client whose
// connections can all be cut at once, as a SIGKILL would.
type churnMember struct {
	id     int
	cl     *kgo.Client
	cancel context.CancelFunc
	killed atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	owned  atomic.Int32
}

func (m *churnMember) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if m.killed.Load() {
		return nil, errors.New("killed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.killed.Load() {
		c.Close()
		return nil, errors.New("killed")
	}
	m.conns = append(m.conns, c)
	return c, nil
}

// kill cuts every connection and stops the member's poll loop without
// leaving the group: the broker sees a process that vanished.
func (m *churnMember) kill() {
	m.killed.Store(true)
	m.cancel()
	m.mu.Lock()
	for _, c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
	go m.cl.Close() // nothing reaches the broker any more
}

// unanswered counts the JoinGroup and SyncGroup requests of a live member
// that the broker never answered (the client gave up on them).
type unanswered struct {
	n   *atomic.Int32
	log func(string, ...any)
	m   *churnMember
}

func (h unanswered) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != int16(kmsg.JoinGroup) && key != int16(kmsg.SyncGroup) || h.m.killed.Load() {
		return
	}
	var ne net.Error
	if errors.As(e2e.ReadErr, &ne) && ne.Timeout() {
		h.n.Add(1)
		h.log("member %d: %s not answered in %v: %v", h.m.id, kmsg.NameForKey(key), e2e.DurationE2E().Round(time.Millisecond), e2e.ReadErr)
	}
}

// TestGroupSurvivesRepeatedKills reproduces the scale-out test's hang in
// process: three group members with the engine's group settings
// (groupOpts), one of them killed — its connections cut, no LeaveGroup —
// and started again every 0–3 s for 30 s, while records flow and each
// member holds its polls and revokes for a while as the engine does.
// With dynamic membership and a rebalance timeout above the session
// timeout, kfake stopped answering JoinGroups (docs/scale-out.md); now
// every JoinGroup and SyncGroup of a live member is answered and, once
// the kills stop, the three members own the 12 partitions.
func TestGroupSurvivesRepeatedKills(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(12, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	go func() {
		for ctx.Err() == nil {
			prod.Produce(ctx, &kgo.Record{Value: []byte("x")}, nil)
			time.Sleep(time.Millisecond)
		}
	}()

	var lost atomic.Int32
	members := make([]*churnMember, 3)
	rng := rand.New(rand.NewPCG(7, 13))
	var rngMu sync.Mutex
	upTo := func(d time.Duration) time.Duration {
		rngMu.Lock()
		defer rngMu.Unlock()
		return time.Duration(rng.Int64N(int64(d) + 1))
	}
	start := func(i int) {
		m := &churnMember{id: i}
		mctx, cancel := context.WithCancel(ctx)
		m.cancel = cancel
		opts := append(groupOpts("g", fmt.Sprintf("engine-%d", i)),
			kgo.SeedBrokers(addrs...),
			kgo.Dialer(m.dial),
			kgo.ConsumeTopics("t"),
			kgo.WithHooks(unanswered{n: &lost, log: t.Logf, m: m}),
			kgo.AdjustFetchOffsetsFn(func(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
				time.Sleep(upTo(500 * time.Millisecond)) // the sinks' positions load
				return offs, nil
			}),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
				m.owned.Add(int32(len(ps["t"])))
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
				if len(ps["t"]) > 0 {
					time.Sleep(upTo(2 * time.Second)) // the batch in flight commits
				}
				m.owned.Add(-int32(len(ps["t"])))
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
				m.owned.Add(-int32(len(ps["t"])))
			}),
		)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		m.cl = cl
		members[i] = m
		go func() {
			for mctx.Err() == nil {
				if fs := cl.PollRecords(mctx, 1000); fs.NumRecords() > 0 {
					time.Sleep(upTo(300 * time.Millisecond)) // cut and offer a batch
				}
				if mctx.Err() == nil {
					cl.AllowRebalance()
				}
			}
		}()
	}
	for i := range members {
		start(i)
	}
	defer func() {
		for _, m := range members {
			m.kill()
		}
	}()
	time.Sleep(3 * time.Second)
	kills := 0
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		time.Sleep(upTo(3 * time.Second))
		rngMu.Lock()
		i := rng.IntN(len(members))
		rngMu.Unlock()
		members[i].kill()
		kills++
		time.Sleep(200 * time.Millisecond) // the process restarts
		start(i)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		total, each := int32(0), true
		for _, m := range members {
			n := m.owned.Load()
			total += n
			each = each && n > 0
		}
		if total == 12 && each {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d kills, the three members own %d of the 12 partitions a minute after the last", kills, total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := lost.Load(); n > 0 {
		t.Errorf("after %d kills: the broker left %d JoinGroup/SyncGroup requests of live members unanswered", kills, n)
	}
	t.Logf("%d kills; the group settled", kills)
}

// TestEngineFencedByItsInstanceIDStops: a second engine joining with the
// same engine.instance_id takes the first one's place; the first one's
// reader stops with an error naming the setting, rather than the two
// fencing each other in turn.
func TestEngineFencedByItsInstanceIDStops(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	member := func(assigned chan<- struct{}) *kgo.Client {
		cl, err := kgo.NewClient(append(groupOpts("g", "e1"),
			kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.ConsumeTopics("t"),
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				select {
				case assigned <- struct{}{}:
				default:
				}
			}),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	firstIn := make(chan struct{}, 1)
	first := member(firstIn)
	defer func() {
		first.AllowRebalance() // as Engine.Run does: the stopped reader holds no records
		first.Close()
	}()
	e := &Engine{o: Options{BatchRecords: 100, BatchWait: 100 * time.Millisecond, InstanceID: "e1", Log: slog.New(slog.DiscardHandler)}}
	done := make(chan error, 1)
	go func() {
		done <- e.poll(context.Background(), first, func(*decoded) bool { return true }, false, nil, first.AllowRebalance)
	}()
	select {
	case <-firstIn:
	case <-time.After(30 * time.Second):
		t.Fatal("the first engine was not assigned partitions")
	}
	second := member(make(chan struct{}, 1))
	defer second.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `engine.instance_id "e1"`) || !errors.Is(err, kerr.FencedInstanceID) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the fenced engine still reads a minute after the second joined with its instance id")
	}
}
