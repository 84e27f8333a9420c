package lake

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
)

// Adopt makes table name count its progress on the Kafka topic id topicID
// from next (per partition, the next offset to read): one commit with a
// txn action per partition and the topic id in the table's metaData. The
// rows stay; what the engine reads from next on is added to them. It is
// for after Kafka lost the topic the table was written from (inlet
// adopt-kafka): the table's old txn versions count offsets of a topic
// that no longer exists. A table that does not exist yet is left alone
// (its first write records the topic id).
func (l *Lake) Adopt(ctx context.Context, name, topic, topicID string, next map[int32]int64) error {
	t, err := l.Table(name)
	if err != nil {
		return err
	}
	if t.version < 0 || t.meta == nil {
		return nil
	}
	now := l.now().UnixMilli()
	md := *t.meta
	md.Configuration = maps.Clone(md.Configuration)
	if md.Configuration == nil {
		md.Configuration = map[string]string{}
	}
	if topicID != "" {
		md.Configuration[confTopicID] = topicID
	} else {
		delete(md.Configuration, confTopicID)
	}
	// Files written from here on are named apart from those already
	// there: the new topic's offsets start again.
	md.Configuration[confFileTag] = strconv.FormatInt(now, 36)
	actions := []logEntry{{MetaData: &md}}
	// Every partition the table recorded, and every one the topic has.
	parts := map[int32]int64{}
	for p := range l.partitionTxns(t, topic) {
		parts[p] = -1
	}
	for p, n := range next {
		parts[p] = n - 1
	}
	ps := make([]int32, 0, len(parts))
	for p := range parts {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for _, p := range ps {
		actions = append(actions, logEntry{Txn: &txnAction{AppID: l.AppID(topic, p), Version: parts[p], LastUpdated: now}})
	}
	actions = append(actions, logEntry{CommitInfo: map[string]any{
		"timestamp": now, "operation": "SET TBLPROPERTIES", "engineInfo": "inlet",
		"operationParameters": map[string]any{"properties": fmt.Sprintf(`{%q:%q}`, confTopicID, topicID)},
		"inlet":               map[string]any{"adoptKafka": map[string]any{"topic": topic, "topicId": topicID, "next": next}},
	}})
	if err := t.commit(actions); err != nil {
		return err
	}
	_, err = l.reload(name)
	return err
}
