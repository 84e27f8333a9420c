package kafka

import (
	"context"
	"fmt"
)

// TopicIDs returns the Kafka topic id (KIP-516) of each topic that exists,
// base64 as Kafka's tools print it; "" for a broker that has no topic ids
// (Kafka before 2.8). A topic's id is what tells it apart from another
// topic of the same name: one deleted and created again, the same name on
// another cluster, or on a broker that lost its data.
func TopicIDs(ctx context.Context, c *Cluster, topics ...string) (map[string]string, error) {
	adm, err := c.Admin()
	if err != nil {
		return nil, err
	}
	md, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, c.Classify(fmt.Errorf("list topics: %w", err))
	}
	out := map[string]string{}
	for _, d := range md {
		if d.Err != nil {
			continue
		}
		id := ""
		if d.ID != [16]byte{} {
			id = d.ID.String()
		}
		out[d.Topic] = id
	}
	return out, nil
}
