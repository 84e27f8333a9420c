// Package kafka holds Inlet's Kafka plumbing: the embedded broker, topic
// administration, and reading the compacted position topics.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Embedded is an in-process Kafka-protocol broker persisted under a dir.
type Embedded struct {
	c *kfake.Cluster
}

// StartEmbedded starts kfake with its data under dir, fsyncing every write,
// listening on 127.0.0.1 on a free port.
func StartEmbedded(dir string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(0),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.SyncWrites(),
		kfake.BrokerConfigs(map[string]string{"transaction.max.timeout.ms": "900000"}),
	)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka in %s: %w", dir, err)
	}
	return &Embedded{c: c}, nil
}

// Addrs are the broker addresses.
func (e *Embedded) Addrs() []string { return e.c.ListenAddrs() }

// Close stops the broker, flushing its data.
func (e *Embedded) Close() { e.c.Close() }

// EnsureTopics creates the topics that do not exist yet. Change topics get
// partitions; the position and schema topics one compacted partition.
func EnsureTopics(ctx context.Context, brokers []string, partitions int32, changeTopics []string, compacted []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	create := func(topics []string, parts int32, cfg map[string]*string) error {
		if len(topics) == 0 {
			return nil
		}
		resp, err := adm.CreateTopics(ctx, parts, -1, cfg, topics...)
		if err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
			}
		}
		return nil
	}
	if err := create(changeTopics, partitions, nil); err != nil {
		return err
	}
	compact := "compact"
	return create(compacted, 1, map[string]*string{"cleanup.policy": &compact})
}

// ReadCompacted returns the latest committed (read_committed) value of every
// key in a single-partition compacted topic.
func ReadCompacted(ctx context.Context, brokers []string, topic string) (map[string][]byte, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		if ok && end.Err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, end.Err)
		}
		return map[string][]byte{}, nil
	}
	return ReadRange(ctx, brokers, topic, 0, end.Offset)
}

// ReadRange reads read_committed records of partition 0 from start up to
// end (exclusive; the last stable offset) and returns the last value per key.
func ReadRange(ctx context.Context, brokers []string, topic string, start, end int64) (map[string][]byte, error) {
	out := map[string][]byte{}
	if end <= start {
		return out, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start)}}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// Transaction markers occupy offsets but are never returned, so "read up
	// to end" means: the last record read is followed only by markers. A
	// committed transaction ends with one marker; anything else (aborted
	// records at the tail) is detected by a poll that stays empty.
	last := start - 1
	for {
		if last+2 >= end {
			return out, nil
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("read %s: %w", topic, e.Err)
			}
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			out[string(r.Key)] = r.Value
			last = r.Offset
		})
		if n == 0 {
			return out, nil
		}
	}
}

// Logger adapts slog to kgo's logger at warn level and above.
type Logger struct{ L *slog.Logger }

// Level implements kgo.Logger.
func (l Logger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

// Log implements kgo.Logger.
func (l Logger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		l.L.Error(msg, kv...)
	default:
		l.L.Warn(msg, kv...)
	}
}
