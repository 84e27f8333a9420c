package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// AdoptKafka makes every sink consume the change topics as this Kafka now
// holds them, from each partition's log start, keeping what the sinks
// hold: for after Kafka lost the topics the sinks consumed (its data
// gone, the topics deleted, a new cluster), which `inlet run` refuses to
// resume on (engine/kafkaid.go). Each sink gets a checkpoint at the log
// starts with the topics' new ids, and a sink that keeps its own
// progress (the lake) records them too. The sources' next snapshot (a
// source whose position Kafka lost takes one) then reaches every sink
// again: ClickHouse rows collapse on their version, the lake appends the
// snapshot's rows to its history.
func AdoptKafka(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer) error {
	o, err := openOffline(ctx, c, "adopt-kafka", nil, true, log)
	if err != nil {
		return err
	}
	defer o.close()
	store, brokers, sinks := o.store, o.brokers, o.sinks
	if err := ensureTopics(ctx, c, brokers); err != nil {
		return err
	}
	tables := Tables(c)
	topics := make([]string, 0, len(tables))
	for _, t := range tables {
		topics = append(topics, t.Topic)
	}
	ids, err := kafka.TopicIDs(ctx, brokers, topics...)
	if err != nil {
		return err
	}
	starts, err := kafka.StartOffsets(ctx, brokers, topics...)
	if err != nil {
		return fmt.Errorf("list log starts: %w", err)
	}
	var offsets []checkpoint.Offset
	for _, t := range tables {
		if len(starts[t.Topic]) == 0 {
			return fmt.Errorf("topic %s: no partitions listed; is kafka.brokers the cluster to adopt?", t.Topic)
		}
		for p, start := range starts[t.Topic] {
			offsets = append(offsets, checkpoint.Offset{Topic: t.Topic, Partition: p, Next: start, TopicID: ids[t.Topic]})
		}
	}
	checkpoint.SortOffsets(offsets)
	for _, s := range sinks {
		name := s.Name()
		if a, ok := s.(connectors.Adopter); ok {
			for _, t := range tables {
				if err := a.Adopt(ctx, t, ids[t.Topic], starts[t.Topic]); err != nil {
					return fmt.Errorf("%s: adopt %s: %w", name, t.Name, err)
				}
			}
		}
		latest, _, err := store.Latest(ctx, name)
		if err != nil {
			return err
		}
		b := checkpoint.Batch{ID: latest.ID + 1, Sink: name, Offsets: offsets}
		if err := store.Commit(ctx, b); err != nil {
			return fmt.Errorf("%s: checkpoint: %w", name, err)
		}
		fmt.Fprintf(out, "%s: checkpoint %d consumes %d partitions from their log start on this Kafka\n", name, b.ID, len(offsets))
	}
	for _, t := range tables {
		fmt.Fprintf(out, "topic %s: id %s\n", t.Topic, orNone(ids[t.Topic]))
	}
	fmt.Fprintln(out, "inlet run now resumes every sink on this Kafka; a source whose position Kafka lost copies its tables again (check with inlet status), and a table whose topic alone was lost needs inlet backfill")
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none: the broker has no topic ids)"
	}
	return s
}
