package kafka

import (
	"bytes"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderOrder is the record header holding a record's order key: bytes
// that increase, within one partition, in the order records are published.
const HeaderOrder = "inlet.order"

// Partitions returns the partition count of each topic.
func Partitions(ctx context.Context, c *Cluster, topics ...string) (map[string]int32, error) {
	adm, err := c.Admin()
	if err != nil {
		return nil, err
	}
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, c.Classify(fmt.Errorf("metadata: %w", err))
	}
	out := map[string]int32{}
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Topic, t.Err)
		}
		out[t.Topic] = int32(len(t.Partitions))
	}
	return out, nil
}

// LastOrders returns, for each partition of topic, the highest order key
// among its committed records (read_committed), or nil for a partition
// without one. It reads only the tail of each partition.
func LastOrders(ctx context.Context, c *Cluster, topic string, partitions int32) (map[int32][]byte, error) {
	adm, err := c.Admin()
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, c.Classify(fmt.Errorf("tail of %s: %w", topic, err))
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, c.Classify(fmt.Errorf("tail of %s: %w", topic, err))
	}
	out := map[int32][]byte{}
	for p := int32(0); p < partitions; p++ {
		end, ok := ends.Lookup(topic, p)
		start, ok2 := starts.Lookup(topic, p)
		if !ok || !ok2 || end.Err != nil || start.Err != nil {
			return nil, fmt.Errorf("tail of %s/%d: offsets unavailable", topic, p)
		}
		if out[p], err = lastCommittedOrder(ctx, c, topic, p, start.Offset, end.Offset); err != nil {
			return nil, fmt.Errorf("tail of %s: %w", topic, err)
		}
	}
	return out, nil
}

// lastCommittedOrder returns the highest order key among the committed
// records of topic/p in [start, end), nil if none has one. It reads
// backwards from end in widening windows: aborted records and markers may
// sit at the tail, so it stops at the first window holding an order, or
// at start.
func lastCommittedOrder(ctx context.Context, c *Cluster, topic string, p int32, start, end int64) ([]byte, error) {
	for window := int64(256); ; window *= 8 {
		from := max(start, end-window)
		var best []byte
		err := readCommitted(ctx, c, topic, p, from, end, func(r *kgo.Record) {
			if o := orderOf(r); bytes.Compare(o, best) > 0 {
				best = o
			}
		})
		if err != nil || best != nil || from == start {
			return best, err
		}
	}
}

// OrderBefore returns an order key no higher than the highest one a
// consumer that has read topic/p up to next (exclusive) has applied: the
// order of the record at next-1 when it has one (read uncommitted: the
// consumer applied it whatever became of its transaction), else the
// highest committed order below next. nil when neither exists.
//
// A sink that skips records whose order is not above this never applies
// one source change twice, even when a broker that lost a transaction's
// fate in a crash served its records as committed before their producer's
// successor published them again.
func OrderBefore(ctx context.Context, c *Cluster, topic string, p int32, next int64) ([]byte, error) {
	if next <= 0 {
		return nil, nil
	}
	adm, err := c.Admin()
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, c.Classify(fmt.Errorf("order before %s/%d@%d: %w", topic, p, next, err))
	}
	start, ok := starts.Lookup(topic, p)
	if !ok || start.Err != nil {
		return nil, fmt.Errorf("order before %s/%d@%d: start offset unavailable", topic, p, next)
	}
	if next-1 < start.Offset {
		return nil, nil // deleted by retention
	}
	last, err := recordAt(ctx, c, topic, p, next-1)
	if err != nil {
		return nil, err
	}
	if last != nil && !last.Attrs.IsControl() {
		if o := orderOf(last); o != nil {
			return o, nil
		}
	}
	o, err := lastCommittedOrder(ctx, c, topic, p, start.Offset, next)
	if err != nil {
		return nil, fmt.Errorf("order before %s/%d@%d: %w", topic, p, next, err)
	}
	return o, nil
}

func orderOf(r *kgo.Record) []byte {
	for _, h := range r.Headers {
		if h.Key == HeaderOrder {
			return h.Value
		}
	}
	return nil
}

// recordAt reads the record at offset off, uncommitted, markers included;
// nil if the offset holds none (compacted away).
func recordAt(ctx context.Context, c *Cluster, topic string, p int32, off int64) (*kgo.Record, error) {
	cl, err := partitionReader(c, topic, p, off, kgo.ReadUncommitted(), kgo.FetchMaxPartitionBytes(1<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	for {
		fs := cl.PollRecords(pctx, 1)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, e := range fs.Errors() {
			return nil, c.Classify(fmt.Errorf("read %s/%d@%d: %w", topic, p, off, e.Err))
		}
		var got *kgo.Record
		fs.EachRecord(func(r *kgo.Record) { got = r })
		if got != nil {
			if got.Offset != off {
				return nil, nil
			}
			return got, nil
		}
	}
}
