package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Trim deletes, per partition of safe, the records below both safe (the
// lowest offset every sink still needs, less one: the record before a
// sink's position is kept for its source order) and the first record
// newer than now-retention. It returns how many records it deleted.
//
// N.B. Kafka's DeleteRecords moves the log start offset; the broker drops
// whole segments below it (https://kafka.apache.org/protocol#The_Messages_DeleteRecords).
func Trim(ctx context.Context, c *Cluster, safe map[string]map[int32]int64, retention time.Duration, now time.Time) (int64, error) {
	if len(safe) == 0 {
		return 0, nil
	}
	adm, err := c.Admin()
	if err != nil {
		return 0, err
	}
	topics := make([]string, 0, len(safe))
	for t := range safe {
		topics = append(topics, t)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("trim: list start offsets: %w", err)
	}
	// The first offset at or after the retention horizon (the end offset
	// when every record is older).
	horizon, err := adm.ListOffsetsAfterMilli(ctx, now.Add(-retention).UnixMilli(), topics...)
	if err != nil {
		return 0, fmt.Errorf("trim: list offsets after the retention horizon: %w", err)
	}
	del := kadm.Offsets{}
	var n int64
	for t, parts := range safe {
		for p, need := range parts {
			st, ok := starts.Lookup(t, p)
			if !ok || st.Err != nil {
				continue
			}
			upTo := need - 1
			if h, ok := horizon.Lookup(t, p); ok && h.Err == nil && h.Offset >= 0 && h.Offset < upTo {
				upTo = h.Offset
			}
			if upTo > st.Offset {
				del.Add(kadm.Offset{Topic: t, Partition: p, At: upTo})
				n += upTo - st.Offset
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	resp, err := adm.DeleteRecords(ctx, del)
	if err != nil {
		return 0, fmt.Errorf("trim: delete records: %w", err)
	}
	if err := resp.Error(); err != nil {
		return 0, fmt.Errorf("trim: delete records: %w", err)
	}
	return n, nil
}

// StartOffsets returns the first offset still held per partition of topics.
func StartOffsets(ctx context.Context, c *Cluster, topics ...string) (map[string]map[int32]int64, error) {
	adm, err := c.Admin()
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out, nil
}
