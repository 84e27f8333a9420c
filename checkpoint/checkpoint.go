package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// FormatVersion is the version of the persisted checkpoint format.
const FormatVersion = 1

// ErrUnknownVersion is returned for persisted data written by a newer Inlet.
var ErrUnknownVersion = errors.New("unknown checkpoint format version")

// ErrConflict is what Commit returns (wrapped) when b.ID is not the next
// id: another writer committed the sink first. Nothing was written.
var ErrConflict = errors.New("another writer committed this sink's checkpoint first")

// Offset is the next Kafka offset a sink will read from one partition.
type Offset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Next      int64  `json:"next"`
	// TopicID is the Kafka topic id (KIP-516) Next counts offsets of; ""
	// when the broker has none, and in batches of older Inlets.
	TopicID string `json:"topic_id,omitempty"`
}

// SortOffsets orders offsets by topic, then partition: the order every
// batch keeps them in.
func SortOffsets(offs []Offset) {
	sort.Slice(offs, func(i, j int) bool {
		if offs[i].Topic != offs[j].Topic {
			return offs[i].Topic < offs[j].Topic
		}
		return offs[i].Partition < offs[j].Partition
	})
}

// Batch is one committed micro-batch of one sink.
type Batch struct {
	FormatVersion int       `json:"format_version"`
	ID            uint64    `json:"id"` // 1, 2, 3, ... per sink
	Sink          string    `json:"sink"`
	Time          time.Time `json:"time"`
	// Offsets holds, for every partition the sink has ever consumed, the next
	// offset to read: the full position, not a delta.
	Offsets []Offset `json:"offsets"`
	// Rows counts the changes this batch wrote, per table.
	Rows map[string]int64 `json:"rows,omitempty"`
	// LakeVersions is the Delta table version each table reached (lake sink).
	LakeVersions map[string]int64 `json:"lake_versions,omitempty"`
}

// Next returns the next offset of topic/partition, or -1 if the sink has none.
func (b Batch) Next(topic string, partition int32) int64 {
	for _, o := range b.Offsets {
		if o.Topic == topic && o.Partition == partition {
			return o.Next
		}
	}
	return -1
}

// Store persists sink positions atomically with a history of batches.
type Store interface {
	// Commit records b as the sink's latest batch. b.ID must be one more than
	// the sink's latest ID (or 1); a different ID fails with no effect, which
	// detects two engines writing one sink.
	Commit(ctx context.Context, b Batch) error
	// Latest returns the sink's latest batch; ok is false when it has none.
	Latest(ctx context.Context, sink string) (b Batch, ok bool, err error)
	// History returns the sink's batches, oldest first.
	History(ctx context.Context, sink string) ([]Batch, error)
	// Rewind makes the batch with the given ID the latest again (for replay);
	// later batches stay in the history, marked by a newer batch with the
	// rewound offsets.
	Rewind(ctx context.Context, sink string, id uint64) (Batch, error)
	// Prune drops the sink's batches older than before from the history,
	// always keeping the latest. The oldest batch kept then carries the
	// table versions of the batches dropped before it (Fold), so replay to
	// any batch kept still finds every table's version.
	Prune(ctx context.Context, sink string, before time.Time) (removed int, err error)
	Close() error
}

// Fold returns the batches of hist (oldest first) at or after before —
// always at least the latest — with the first kept one carrying, for every
// table, the latest LakeVersions of the batches dropped before it.
func Fold(hist []Batch, before time.Time) (kept []Batch, removed int) {
	if len(hist) == 0 {
		return nil, 0
	}
	cut := len(hist) - 1
	for i, b := range hist {
		if !b.Time.Before(before) {
			cut = i
			break
		}
	}
	if cut == 0 {
		return hist, 0
	}
	versions := map[string]int64{}
	for _, b := range hist[:cut+1] {
		for t, v := range b.LakeVersions {
			versions[t] = v
		}
	}
	first := hist[cut]
	if len(versions) > 0 {
		first.LakeVersions = versions
	}
	kept = append([]Batch{first}, hist[cut+1:]...)
	return kept, cut
}

// Decode parses one persisted batch and checks its version.
func Decode(data []byte) (Batch, error) {
	var probe struct {
		V *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Batch{}, fmt.Errorf("decode checkpoint: %w", err)
	}
	if probe.V == nil || *probe.V != FormatVersion {
		v := "missing"
		if probe.V != nil {
			v = fmt.Sprint(*probe.V)
		}
		return Batch{}, fmt.Errorf("%w: %s (this Inlet reads %d; upgrade Inlet)", ErrUnknownVersion, v, FormatVersion)
	}
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return Batch{}, fmt.Errorf("decode checkpoint: %w", err)
	}
	return b, nil
}

// Encode renders b in the persisted format.
func Encode(b Batch) ([]byte, error) {
	b.FormatVersion = FormatVersion
	return json.Marshal(b)
}
