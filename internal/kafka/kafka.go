// Package kafka holds Inlet's Kafka plumbing: the Cluster every client is
// built from (brokers, TLS, SASL), the embedded broker, topic
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

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Embedded is an in-process Kafka-protocol broker persisted under a dir.
type Embedded struct {
	c *kfake.Cluster
	// Repaired lists what repairLog fixed in the data dir before the
	// broker read it (a process killed in the middle of a write).
	Repaired []string
}

// brokerConfigs are the embedded broker's settings: long transactions
// allowed, and segments of segmentMB so deleted records leave the disk.
func brokerConfigs(segmentMB int) map[string]string {
	if segmentMB <= 0 {
		segmentMB = 16
	}
	return map[string]string{
		"transaction.max.timeout.ms": "900000",
		"log.segment.bytes":          fmt.Sprint(int64(segmentMB) << 20),
		"message.max.bytes":          fmt.Sprint(MaxBatchBytes),
	}
}

// MaxRecordBytes is the largest change record (key, value and headers)
// Inlet produces: a row with values of up to about this much in all. A
// larger one stops its source with an incident naming the table and key
// (see capture); Kafka's own default, about 1 MB, would refuse rows with a
// 1 MB text value. docs/types.md.
const MaxRecordBytes = 16 << 20

// MaxBatchBytes is the producer's largest record batch and the
// max.message.bytes of the topics Inlet creates (and of the embedded
// broker): one record of MaxRecordBytes plus the batch's framing.
const MaxBatchBytes = MaxRecordBytes + 64<<10

// StartEmbedded starts kfake with its data under dir, fsyncing every write,
// listening on 127.0.0.1 on a free port, with log segments of segmentMB
// (0: 16).
func StartEmbedded(dir string, segmentMB int) (*Embedded, error) {
	e, err := startKfake(dir, segmentMB, kfake.Ports(0))
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka in %s: %w", dir, err)
	}
	return e, nil
}

// startKfake starts the one-broker kfake both StartEmbedded and
// StartBroker run: its data dir repaired first (repairLog), every write
// fsynced, read_committed fetches answered whole (fetchWholePartitions);
// listen says where it listens.
func startKfake(dir string, segmentMB int, listen kfake.Opt) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	repaired, err := repairLog(dir)
	if err != nil {
		return nil, err
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		listen,
		kfake.DataDir(filepath.Clean(dir)),
		kfake.SyncWrites(),
		kfake.BrokerConfigs(brokerConfigs(segmentMB)),
	)
	if err != nil {
		return nil, err
	}
	fetchWholePartitions(c)
	return &Embedded{c: c, Repaired: repaired}, nil
}

// Addrs are the broker addresses.
func (e *Embedded) Addrs() []string { return e.c.ListenAddrs() }

// Close stops the broker, flushing its data.
func (e *Embedded) Close() { e.c.Close() }

// EnsureTopics creates the topics that do not exist yet. Change topics get
// partitions; the position and schema topics one compacted partition.
func EnsureTopics(ctx context.Context, c *Cluster, partitions int32, changeTopics []string, compacted []string) error {
	adm, err := c.Admin()
	if err != nil {
		return err
	}
	create := func(topics []string, parts int32, cfg map[string]*string) error {
		if len(topics) == 0 {
			return nil
		}
		resp, err := adm.CreateTopics(ctx, parts, -1, cfg, topics...)
		if err != nil {
			return c.Classify(fmt.Errorf("create topics: %w", err))
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				return c.Classify(fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
			}
		}
		return nil
	}
	// N.B. a topic's max.message.bytes overrides the broker's
	// message.max.bytes (about 1 MB by default) for that topic.
	maxBytes := fmt.Sprint(MaxBatchBytes)
	if err := create(changeTopics, partitions, map[string]*string{"max.message.bytes": &maxBytes}); err != nil {
		return err
	}
	compact := "compact"
	return create(compacted, 1, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &maxBytes})
}

// ReadCompacted returns the latest committed (read_committed) value of every
// key in a single-partition compacted topic.
func ReadCompacted(ctx context.Context, c *Cluster, topic string) (map[string][]byte, error) {
	adm, err := c.Admin()
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, c.Classify(fmt.Errorf("read %s: %w", topic, err))
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		if ok && end.Err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, end.Err)
		}
		return map[string][]byte{}, nil
	}
	return ReadRange(ctx, c, topic, 0, end.Offset)
}

// ReadRange reads read_committed records of partition 0 from start up to
// end (exclusive; the last stable offset) and returns the last value per key.
func ReadRange(ctx context.Context, c *Cluster, topic string, start, end int64) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := readCommitted(ctx, c, topic, 0, start, end, func(r *kgo.Record) {
		out[string(r.Key)] = r.Value
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readTimeout bounds how long reading up to a known offset may make no
// progress: the data is there, so silence that long means the broker is
// in trouble.
const readTimeout = 30 * time.Second

// quietPoll is how long a poll may stay empty before readCommitted checks
// whether only aborted records are left.
const quietPoll = time.Second

// readCommitted calls fn for every committed data record of topic/p in
// [from, end), end being at most the last stable offset.
//
// N.B. "Read up to end" needs care. Transaction markers occupy offsets
// and aborted records are never returned, so the reader keeps control
// records to know where it is and stops once it has passed end-1. But a
// transaction the embedded broker aborted while recovering from a crash
// has no marker: its records just stop being visible, and a tail of them
// leaves nothing to arrive. Stopping at the first empty poll instead
// ("only aborted records are left") returned a stale position when a
// loaded broker took over a second to answer, and the source then
// published a transaction Kafka already held. So an empty poll is only
// taken as the end when abortedOnly confirms, reading uncommitted, that
// no committed record is left below end.
func readCommitted(ctx context.Context, c *Cluster, topic string, p int32, from, end int64, fn func(*kgo.Record)) error {
	if end <= from {
		return nil
	}
	cl, err := partitionReader(c, topic, p, from, kgo.ReadCommitted())
	if err != nil {
		return err
	}
	defer cl.Close()
	next := from
	progress := time.Now()
	for next < end {
		pctx, cancel := context.WithTimeout(ctx, quietPoll)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return c.Classify(fmt.Errorf("read %s/%d: %w", topic, p, e.Err))
			}
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			next = r.Offset + 1
			if !r.Attrs.IsControl() && r.Offset < end {
				fn(r)
			}
		})
		if n > 0 {
			progress = time.Now()
			continue
		}
		done, err := abortedOnly(ctx, c, topic, p, next, end)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Since(progress) > readTimeout {
			return fmt.Errorf("read %s/%d: nothing from offset %d to %d within %s; is the broker overloaded or down?", topic, p, next, end, readTimeout)
		}
	}
	return nil
}

// partitionReader reads topic/p from offset from at isolation level iso,
// transaction markers included (they tell a reader where it is).
//
// N.B. A reader is a client of its own, closed after the read: a client
// consumes from one fixed set of partitions and offsets, and the engine
// and the sources read different partitions at once. Metadata and offset
// lookups go through the Cluster's shared admin client instead.
func partitionReader(c *Cluster, topic string, p int32, from int64, iso kgo.IsolationLevel, opts ...kgo.Opt) (*kgo.Client, error) {
	return c.Client(append([]kgo.Opt{
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
}

// abortedOnly reports whether [from, end) of topic/p holds no committed
// data: only aborted records, abort markers, and records of transactions
// that never ended (below the last stable offset those were aborted by a
// broker's crash recovery). It reads uncommitted, markers included.
func abortedOnly(ctx context.Context, c *Cluster, topic string, p int32, from, end int64) (bool, error) {
	cl, err := partitionReader(c, topic, p, from, kgo.ReadUncommitted())
	if err != nil {
		return false, err
	}
	defer cl.Close()
	committed := false
	for next := from; next < end && !committed; {
		pctx, cancel := context.WithTimeout(ctx, readTimeout)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		for _, e := range fs.Errors() {
			return false, c.Classify(fmt.Errorf("read %s/%d uncommitted: %w", topic, p, e.Err))
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			if r.Offset >= end {
				return
			}
			switch {
			case !r.Attrs.IsTransactional():
				committed = true
			case r.Attrs.IsControl():
				// The key is version int16, type int16: 1 commits.
				if len(r.Key) >= 4 && r.Key[3] == 1 {
					committed = true
				}
			}
		})
	}
	return !committed, nil
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
