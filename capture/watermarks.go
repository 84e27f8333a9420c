package capture

import (
	"bytes"
	"context"
	"fmt"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// watermarks knows, per topic partition, the highest order key committed
// in Kafka when the session connected, and places records into partitions.
type watermarks struct {
	brokers *kafka.Cluster
	parts   map[string]int32
	marks   map[string]map[int32][]byte
}

func newWatermarks(brokers *kafka.Cluster) *watermarks {
	return &watermarks{brokers: brokers, parts: map[string]int32{}, marks: map[string]map[int32][]byte{}}
}

// place returns the record's partition and whether to publish it: records
// with an order key at or below the partition's committed watermark are
// already in Kafka.
func (w *watermarks) place(ctx context.Context, r *connectors.Record) (int32, bool, error) {
	n, err := w.count(ctx, r.Topic)
	if err != nil {
		return 0, false, err
	}
	p := kafka.Partition(r.Key, n)
	keep, err := w.keep(ctx, r, p, n)
	return p, keep, err
}

// count returns the number of partitions of topic.
func (w *watermarks) count(ctx context.Context, topic string) (int32, error) {
	n, ok := w.parts[topic]
	if !ok {
		parts, err := kafka.Partitions(ctx, w.brokers, topic)
		if err != nil {
			return 0, err
		}
		n = parts[topic]
		if n == 0 {
			return 0, fmt.Errorf("topic %s has no partitions (does it exist?)", topic)
		}
		w.parts[topic] = n
	}
	return n, nil
}

// keep reports whether r, placed in partition p of n, is above that
// partition's committed watermark.
func (w *watermarks) keep(ctx context.Context, r *connectors.Record, p, n int32) (bool, error) {
	if r.Order == nil {
		return true, nil
	}
	m, ok := w.marks[r.Topic]
	if !ok {
		var err error
		if m, err = kafka.LastOrders(ctx, w.brokers, r.Topic, n); err != nil {
			return false, err
		}
		w.marks[r.Topic] = m
	}
	if mark := m[p]; mark != nil {
		if bytes.Compare(r.Order, mark) <= 0 {
			return false, nil
		}
		delete(m, p) // past the watermark: everything after is new
	}
	return true, nil
}
