package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// A sink's position is an offset, and an offset means something only on
// the topic it was read from. If the broker lost its data (the embedded
// broker's data dir deleted, a cluster rebuilt), the topic was deleted and
// created again, kafka.brokers names another cluster, or a second inlet
// with a state_dir of its own runs the pipeline, the sources publish into
// topics of the same names from offset 0. Resuming a
// sink there skipped every record below its old position as already
// applied: a new snapshot and the changes after it, silently lost. So
// before a sink resumes a partition the engine checks that this Kafka is
// the one the sink consumed:
//
//   - the topic's id (KIP-516), recorded with every checkpoint and by a
//     sink that keeps its own progress (the lake, per table), is the same;
//   - the sink's position is not past the partition's end (brokers without
//     topic ids, and positions recorded before ids were).
//
// Otherwise the engine stops (NeedsUser) with the sink, topic and offsets,
// and the sinks stay as they are. While running, a broker that loses
// records under the reader (kgo.ErrDataLoss) stops it the same way.

const kafkaChangedWhy = "the broker lost its data, the topic was deleted and created again, kafka.brokers names another cluster, or another inlet with a state_dir (and embedded broker) of its own runs this pipeline"

// kafkaView is what Kafka holds of the partitions being resumed.
type kafkaView struct {
	ids  map[string]string // topic → id ("" when the broker has none)
	ends map[tp]int64      // high watermark of each partition
}

// viewKafka reads the topic ids and partition ends of parts (ends, when
// the caller listed them already; nil: listed here), and keeps the ids for
// the checkpoints the sinks commit.
func (e *Engine) viewKafka(ctx context.Context, parts []tp, ends kadm.ListedOffsets) (kafkaView, error) {
	seen := map[string]bool{}
	var topics []string
	for _, k := range parts {
		if !seen[k.Topic] {
			seen[k.Topic] = true
			topics = append(topics, k.Topic)
		}
	}
	v := kafkaView{ends: map[tp]int64{}}
	var err error
	if v.ids, err = kafka.TopicIDs(ctx, e.o.Kafka, topics...); err != nil {
		return v, fmt.Errorf("engine: %w", err)
	}
	if ends == nil {
		adm, err := e.o.Kafka.Admin()
		if err != nil {
			return v, err
		}
		if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
			return v, fmt.Errorf("engine: list partition ends: %w", err)
		}
	}
	for _, k := range parts {
		o, ok := ends.Lookup(k.Topic, k.Partition)
		if !ok || o.Err != nil {
			return v, fmt.Errorf("engine: end of %s/%d: %v", k.Topic, k.Partition, o.Err)
		}
		v.ends[k] = o.Offset
	}
	e.idMu.Lock()
	if e.topicIDs == nil {
		e.topicIDs = map[string]string{}
	}
	for t, id := range v.ids {
		e.topicIDs[t] = id
	}
	e.idMu.Unlock()
	return v, nil
}

// topicID is the id of topic as the engine last read it.
func (e *Engine) topicID(topic string) string {
	e.idMu.Lock()
	defer e.idMu.Unlock()
	return e.topicIDs[topic]
}

// sameKafka checks that sink can resume parts at pos on the Kafka in v:
// latest is its checkpoint, own its own progress.
func (v kafkaView) sameKafka(sink string, latest checkpoint.Batch, own connectors.Progress, parts []tp, pos map[tp]int64) error {
	var bad []string
	for _, k := range parts {
		now := v.ids[k.Topic]
		if now != "" {
			was, where := "", ""
			for _, o := range latest.Offsets {
				if o.Topic == k.Topic && o.Partition == k.Partition && o.TopicID != "" {
					was, where = o.TopicID, "its checkpoint"
				}
			}
			if id := own.TopicIDs[k.Topic]; id != "" && id != now {
				was, where = id, "its own progress"
			}
			if was != "" && was != now {
				bad = append(bad, fmt.Sprintf("sink %s consumed topic %s as topic id %s (%s, up to offset %d), but the topic's id is now %s",
					sink, k.Topic, was, where, pos[k]-1, now))
				continue
			}
		}
		if end := v.ends[k]; pos[k] > end {
			bad = append(bad, fmt.Sprintf("sink %s applied topic %s partition %d up to offset %d, but Kafka holds it only up to offset %d",
				sink, k.Topic, k.Partition, pos[k]-1, end-1))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	const most = 5
	more := ""
	if len(bad) > most {
		more = fmt.Sprintf(" (and %d more partitions)", len(bad)-most)
		bad = bad[:most]
	}
	return retry.MarkNeedsUser(fmt.Errorf("engine: this Kafka is not the one the sinks consumed (%s): %s%s; resuming would skip the records it now holds below those offsets as already applied, so the sinks stay as they are",
		kafkaChangedWhy, strings.Join(bad, "; "), more), connectors.KafkaChangedFix)
}

// dataLoss is the error that stops the reader when the broker lost
// records under it.
func dataLoss(err error) error {
	var dl *kgo.ErrDataLoss
	if !errors.As(err, &dl) {
		return nil
	}
	return retry.MarkNeedsUser(fmt.Errorf("engine: Kafka lost records of topic %s partition %d that the engine had read (%s): %w",
		dl.Topic, dl.Partition, kafkaChangedWhy, err), connectors.KafkaChangedFix)
}
