package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// Engines in a consumer group (Options.Group): several processes share the
// change topics, each owning some partitions, handed out by Kafka's group
// protocol with the cooperative-sticky balancer (a rebalance moves only
// the partitions that must move). Nothing of our own coordinates them.
//
// A partition passes, in one engine, through:
//
//	assigned   the group gave it to this engine. Before any record of it
//	           is fetched, each sink's position on it is loaded (its
//	           checkpoint and its own progress, the further of the two)
//	           and the reader starts at the lowest. Kafka's committed
//	           group offsets are not used: the sinks' progress is the truth.
//	owned      read, offered and applied like any partition; each sink's
//	           checkpoint commit merges this engine's partitions into the
//	           sink's shared history (checkpoint.CommitMerged).
//	revoked    the group takes it away (a member joined or left). The
//	           callback first waits for each sink's batch in flight to be
//	           committed or to fail, then drops the partition from every
//	           sink: records of it still queued are left out, and the new
//	           owner starts from what was committed. Rebalances wait while
//	           the reader holds polled records (BlockRebalanceOnPoll), so a
//	           batch is never cut across a handoff.
//	lost       the session expired (this engine was stalled or cut off):
//	           as revoked, though the new owner may already be writing.
//
// Why no sink applies a change twice even then: every sink write is
// idempotent per partition (the lake's txn action per partition is checked
// again after every commit conflict; ClickHouse rows collapse on their
// version and summaries are recomputed under a lock), and a checkpoint
// offset never goes back.

// The group consumer's timeouts. A member that stops heartbeating (a
// killed engine) leaves the group after groupSessionTimeout; in a
// rebalance, every member has groupRebalanceTimeout to finish its batch in
// flight and rejoin, or the rebalance goes on without it.
//
// N.B. The rebalance timeout is kept well under the session timeout.
// kgo sends no heartbeat while its JoinGroup is parked at the broker, and
// kfake (the embedded broker, `inlet broker`) lets a member's session run
// out while it waits there: it drops the member and never answers its
// JoinGroup, which then times out only after the rebalance timeout plus
// 10 s (kfake groups.go updateHeartbeat and removeMember; Kafka keeps a
// member that waits in a join alive). A rebalance that cannot last longer
// than the session timeout cannot strand a member that way. See
// docs/scale-out.md.
const (
	groupSessionTimeout   = 20 * time.Second
	groupRebalanceTimeout = 10 * time.Second
	groupHeartbeat        = time.Second
)

// groupOpts are the consumer group settings of an engine in group (with
// instanceID, if set, as its static membership id; see
// Options.InstanceID).
func groupOpts(group, instanceID string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(groupSessionTimeout),
		kgo.RebalanceTimeout(groupRebalanceTimeout),
		kgo.HeartbeatInterval(groupHeartbeat),
	}
	if instanceID != "" {
		opts = append(opts, kgo.InstanceID(instanceID))
	}
	return opts
}

// groupConsumer returns a read_committed client in the consumer group.
func (e *Engine) groupConsumer(rd *reader) (*kgo.Client, error) {
	topics := make([]string, 0, len(e.o.Tables))
	for _, t := range e.o.Tables {
		topics = append(topics, t.Topic)
	}
	opts := append(groupOpts(e.o.Group, e.o.InstanceID),
		kgo.ConsumeTopics(topics...),
		kgo.AdjustFetchOffsetsFn(func(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			return e.assigned(ctx, rd, offs)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
			e.released(rd, parts, "revoked")
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
			e.released(rd, parts, "lost")
		}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(4<<20),
		kgo.FetchMaxPartitionBytes(2<<20),
		kgo.MaxConcurrentFetches(1),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.WithLogger(kafka.Logger{L: e.o.Log}),
	)
	if e.o.Member != "" {
		opts = append(opts, kgo.ClientID(e.o.Member))
	}
	cl, err := e.o.Kafka.Client(opts...)
	if err != nil {
		return nil, fmt.Errorf("engine: kafka group consumer: %w", err)
	}
	return cl, nil
}

// assigned loads every sink's position on the partitions the group just
// gave this engine and returns where to start reading each.
func (e *Engine) assigned(ctx context.Context, rd *reader, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var parts []tp
	for t, ps := range offs {
		if _, ok := e.byTopic[t]; !ok {
			continue
		}
		for p := range ps {
			parts = append(parts, tp{Topic: t, Partition: p})
		}
	}
	sortParts(parts)
	if len(parts) == 0 {
		return offs, nil
	}
	start, err := e.load(ctx, parts)
	if err != nil {
		// Leave them unowned; the group session ends and is joined again.
		e.drop(rd, parts)
		if retry.Classify(err) == retry.NeedsUser {
			e.fatal.CompareAndSwap(nil, &err) // the reader stops with it
			return nil, err
		}
		e.o.Log.Warn("engine could not load the positions of assigned partitions; rejoining", "partitions", len(parts), "err", err)
		return nil, err
	}
	rd.mu.Lock()
	for _, k := range parts {
		rd.pos[k] = start[k]
		offs[k.Topic][k.Partition] = kgo.NewOffset().At(start[k])
	}
	e.readerPos.Store(new(maps.Clone(rd.pos)))
	rd.mu.Unlock()
	e.noteOwned()
	e.o.Log.Info("engine took partitions", "member", e.o.Member, "partitions", partList(parts), "owned", len(e.Owned()))
	return offs, nil
}

// load reads each sink's position on parts and returns, per partition,
// the lowest: where reading starts. Each sink is held (applyMu) meanwhile.
func (e *Engine) load(ctx context.Context, parts []tp) (map[tp]int64, error) {
	kv, err := e.viewKafka(ctx, parts, nil)
	if err != nil {
		return nil, err
	}
	start := map[tp]int64{}
	for _, w := range e.sinks {
		w.applyMu.Lock()
		err := w.load(ctx, parts, kv)
		if err == nil {
			err = w.loadOrders(ctx, parts)
		}
		for _, k := range parts {
			if s, ok := start[k]; err == nil && (!ok || w.pos[k] < s) {
				start[k] = w.pos[k]
			}
		}
		w.applyMu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return start, nil
}

// loadOrders reads the source order at the sink's position on parts.
func (w *sinkRun) loadOrders(ctx context.Context, parts []tp) error {
	for _, k := range parts {
		o, err := kafka.OrderBefore(ctx, w.e.o.Kafka, k.Topic, k.Partition, w.pos[k])
		if err != nil {
			return fmt.Errorf("engine: %s position of %s/%d: %w", w.name, k.Topic, k.Partition, err)
		}
		w.ord[k] = o
	}
	return nil
}

// released gives up partitions: once each sink's batch in flight is
// committed or failed, they are dropped from every sink and the reader.
func (e *Engine) released(rd *reader, parts map[string][]int32, why string) {
	var ks []tp
	for t, ps := range parts {
		for _, p := range ps {
			ks = append(ks, tp{Topic: t, Partition: p})
		}
	}
	if len(ks) == 0 {
		return
	}
	sortParts(ks)
	e.drop(rd, ks)
	e.o.Log.Info("engine gave up partitions", "member", e.o.Member, "why", why, "partitions", partList(ks), "owned", len(e.Owned()))
}

// drop removes ks from the reader and, each after its batch in flight,
// from every sink.
func (e *Engine) drop(rd *reader, ks []tp) {
	rd.mu.Lock()
	for _, k := range ks {
		delete(rd.pos, k)
	}
	e.readerPos.Store(new(maps.Clone(rd.pos)))
	rd.mu.Unlock()
	for _, w := range e.sinks {
		w.applyMu.Lock() // the batch in flight is committed or failed
		w.mu.Lock()
		committed := maps.Clone(w.committed)
		for _, k := range ks {
			delete(w.pos, k)
			delete(w.seen, k)
			delete(w.ord, k)
			delete(committed, k)
		}
		w.committed = committed
		w.mu.Unlock()
		w.applyMu.Unlock()
	}
	e.noteOwned()
}

// Owned lists the partitions this engine reads (all of them, unless it is
// in a consumer group).
func (e *Engine) Owned() []tp {
	rp := e.readerPos.Load()
	if rp == nil {
		return nil
	}
	out := slices.Collect(maps.Keys(*rp))
	sortParts(out)
	return out
}

// noteOwned publishes how many partitions this engine owns.
func (e *Engine) noteOwned() {
	if rp := e.readerPos.Load(); rp != nil {
		partitionsOwned.Set(float64(len(*rp)))
	}
}

func sortParts(ps []tp) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Topic != ps[j].Topic {
			return ps[i].Topic < ps[j].Topic
		}
		return ps[i].Partition < ps[j].Partition
	})
}

func partList(ps []tp) []string {
	out := make([]string, len(ps))
	for i, k := range ps {
		out[i] = fmt.Sprintf("%s/%d", k.Topic, k.Partition)
	}
	return out
}
