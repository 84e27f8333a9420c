package engine

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// nullSink holds nothing of its own: its truth is the checkpoint store.
type nullSink struct{ applied int }

func (*nullSink) Name() string { return "s" }
func (*nullSink) Progress(context.Context, []connectors.Table) (connectors.Progress, error) {
	return connectors.Progress{}, nil
}
func (s *nullSink) Apply(_ context.Context, b connectors.SinkBatch) (connectors.Applied, error) {
	for _, t := range b.Tables {
		s.applied += len(t.Rows)
	}
	return connectors.Applied{}, nil
}
func (*nullSink) Close() error { return nil }

// TestRunStopsOnAnotherKafka: an engine whose sink's checkpoint names
// another topic id than the broker's stops with an error a person must
// fix, alone and as a consumer group member (where the check runs in the
// assignment callback), and applies nothing.
func TestRunStopsOnAnotherKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "p.t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := kafka.NewCluster(c.ListenAddrs(), kafka.Security{})
	defer cl.Close()
	for _, group := range []string{"", "g"} {
		t.Run("group="+group, func(t *testing.T) {
			store, err := checkpoint.OpenFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if err := store.Commit(context.Background(), checkpoint.Batch{FormatVersion: checkpoint.FormatVersion, ID: 1, Sink: "s",
				Offsets: []checkpoint.Offset{{Topic: "p.t", Partition: 0, Next: 0, TopicID: "gone"}}}); err != nil {
				t.Fatal(err)
			}
			sink := &nullSink{}
			e, err := New(Options{Kafka: cl, Pipeline: "p", Tables: []Table{{Topic: "p.t", Name: "t"}}, Store: store,
				Sinks: []connectors.Sink{sink}, Group: group, Log: slog.New(slog.DiscardHandler), BatchWait: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = e.Run(ctx)
			if ctx.Err() != nil {
				t.Fatal("the engine ran on until the timeout")
			}
			if err == nil || retry.Classify(err) != retry.NeedsUser || !strings.Contains(err.Error(), "consumed topic p.t as topic id gone") {
				t.Fatalf("Run: %v (class %v), want the Kafka check's needs_user error", err, retry.Classify(err))
			}
			if sink.applied != 0 {
				t.Errorf("applied %d rows", sink.applied)
			}
		})
	}
}
