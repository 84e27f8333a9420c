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
	brokers []string
	parts   map[string]int32
	marks   map[string]map[int32][]byte
}

func newWatermarks(brokers []string) *watermarks {
	return &watermarks{brokers: brokers, parts: map[string]int32{}, marks: map[string]map[int32][]byte{}}
}

// place returns the record's partition and whether to publish it: records
// with an order key at or below the partition's committed watermark are
// already in Kafka.
func (w *watermarks) place(ctx context.Context, r *connectors.Record) (int32, bool, error) {
	n, ok := w.parts[r.Topic]
	if !ok {
		parts, err := kafka.Partitions(ctx, w.brokers, r.Topic)
		if err != nil {
			return 0, false, err
		}
		n = parts[r.Topic]
		if n == 0 {
			return 0, false, fmt.Errorf("topic %s has no partitions (does it exist?)", r.Topic)
		}
		w.parts[r.Topic] = n
	}
	p := kafka.Partition(r.Key, n)
	if r.Order == nil {
		return p, true, nil
	}
	m, ok := w.marks[r.Topic]
	if !ok {
		var err error
		if m, err = kafka.LastOrders(ctx, w.brokers, r.Topic, n); err != nil {
			return 0, false, err
		}
		w.marks[r.Topic] = m
	}
	if mark := m[p]; mark != nil {
		if bytes.Compare(r.Order, mark) <= 0 {
			return p, false, nil
		}
		delete(m, p) // past the watermark: everything after is new
	}
	return p, true, nil
}
