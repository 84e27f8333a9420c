package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderOrder is the record header holding a record's order key: bytes
// that increase, within one partition, in the order records are published.
const HeaderOrder = "inlet.order"

// Partitions returns the partition count of each topic.
func Partitions(ctx context.Context, brokers []string, topics ...string) (map[string]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
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
func LastOrders(ctx context.Context, brokers []string, topic string, partitions int32) (map[int32][]byte, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("tail of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("tail of %s: %w", topic, err)
	}
	out := map[int32][]byte{}
	for p := int32(0); p < partitions; p++ {
		end, ok := ends.Lookup(topic, p)
		start, ok2 := starts.Lookup(topic, p)
		if !ok || !ok2 || end.Err != nil || start.Err != nil {
			return nil, fmt.Errorf("tail of %s/%d: offsets unavailable", topic, p)
		}
		// Aborted records and markers may sit at the tail: widen the window
		// until a committed data record is found or the partition is read.
		for window := int64(256); ; window *= 8 {
			from := max(start.Offset, end.Offset-window)
			o, found, err := lastOrderIn(ctx, brokers, topic, p, from, end.Offset)
			if err != nil {
				return nil, err
			}
			if found || from == start.Offset {
				out[p] = o
				break
			}
		}
	}
	return out, nil
}

func lastOrderIn(ctx context.Context, brokers []string, topic string, p int32, from, end int64) ([]byte, bool, error) {
	if end <= from {
		return nil, false, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, false, err
	}
	defer cl.Close()
	var best []byte
	found := false
	last := from - 1
	for last+1 < end {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return nil, false, fmt.Errorf("tail of %s/%d: %w", topic, p, e.Err)
			}
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			last = r.Offset
			for _, h := range r.Headers {
				if h.Key == HeaderOrder && bytes.Compare(h.Value, best) > 0 {
					best, found = h.Value, true
				}
			}
		})
		if n == 0 {
			break // only markers or aborted records remain below end
		}
	}
	return best, found, nil
}
