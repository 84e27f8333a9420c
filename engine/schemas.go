package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// schemaCache resolves schema fingerprints from the schemas topic.
type schemaCache struct {
	brokers *kafka.Cluster
	topic   string
	mu      sync.Mutex
	m       map[string]*change.Schema // topic/fingerprint
}

func newSchemaCache(brokers *kafka.Cluster, pipeline string) *schemaCache {
	return &schemaCache{brokers: brokers, topic: change.SchemasTopic(pipeline), m: map[string]*change.Schema{}}
}

func (c *schemaCache) get(ctx context.Context, topic, fp string) (*change.Schema, error) {
	key := topic + "/" + fp
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[key]; ok {
		return s, nil
	}
	// The schema record was committed in the same or an earlier Kafka
	// transaction than the change that names it, so it is readable now.
	recs, err := kafka.ReadCompacted(ctx, c.brokers, c.topic)
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	for k, v := range recs {
		if _, ok := c.m[k]; ok {
			continue
		}
		s, err := change.DecodeSchema(v)
		if err != nil {
			return nil, err
		}
		c.m[k] = s
	}
	if s, ok := c.m[key]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("schema %s of topic %s is not in %s; the topic was written by something other than this pipeline's sources", fp, topic, c.topic)
}
