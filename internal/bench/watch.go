package bench

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// positionWatch follows one source's committed position on a pipeline's
// offsets topic with one long-lived read_committed consumer, so the bench
// learns the moment a stage is done without perturbing what it measures
// (a new client every poll, reading the topic from the start, cost the
// broker in this process a noticeable share of the 2 CPUs).
type positionWatch struct {
	cl   *kgo.Client
	done atomic.Bool
}

// watchPosition starts following key's position on topic; done reports
// whether ok has held for the latest committed value.
func watchPosition(brokers []string, topic, key string, ok func(json.RawMessage) bool) (*positionWatch, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, err
	}
	w := &positionWatch{cl: cl}
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				if string(r.Key) == key {
					w.done.Store(ok(r.Value))
				}
			})
		}
	}()
	return w, nil
}

func (w *positionWatch) Done() bool { return w.done.Load() }
func (w *positionWatch) Close()     { w.cl.Close() }
