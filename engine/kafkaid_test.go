package engine

import (
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/retry"
)

// TestSameKafka: a sink resumes a partition only on the topic it consumed
// (same topic id, in its checkpoint or its own progress) and only where
// Kafka holds its position; anything else is an error a person must fix.
func TestSameKafka(t *testing.T) {
	a0, b0 := tp{Topic: "p.a", Partition: 0}, tp{Topic: "p.b", Partition: 0}
	parts := []tp{a0, b0}
	ckpt := func(idA string) checkpoint.Batch {
		return checkpoint.Batch{Offsets: []checkpoint.Offset{{Topic: "p.a", Partition: 0, Next: 100, TopicID: idA}, {Topic: "p.b", Partition: 0, Next: 50}}}
	}
	view := func(idA string, endA, endB int64) kafkaView {
		return kafkaView{ids: map[string]string{"p.a": idA, "p.b": ""}, ends: map[tp]int64{a0: endA, b0: endB}}
	}
	pos := map[tp]int64{a0: 100, b0: 50}
	for _, tc := range []struct {
		name  string
		v     kafkaView
		last  checkpoint.Batch
		own   connectors.Progress
		wants []string // "" → no error
	}{
		{"same kafka", view("X", 120, 50), ckpt("X"), connectors.Progress{}, nil},
		{"no ids recorded yet (an older Inlet's checkpoint)", view("X", 120, 60), ckpt(""), connectors.Progress{}, nil},
		{"broker without topic ids", view("", 100, 50), ckpt("X"), connectors.Progress{}, nil},
		{"topic id changed (checkpoint)", view("Y", 5000, 60), ckpt("X"), connectors.Progress{},
			[]string{"sink s consumed topic p.a as topic id X (its checkpoint, up to offset 99), but the topic's id is now Y", "docs/failures.md"}},
		{"topic id changed (the sink's own progress)", view("Y", 5000, 60), ckpt(""), connectors.Progress{TopicIDs: map[string]string{"p.a": "X"}},
			[]string{"as topic id X (its own progress"}},
		{"position past the end", view("X", 120, 10), ckpt("X"), connectors.Progress{},
			[]string{"sink s applied topic p.b partition 0 up to offset 49, but Kafka holds it only up to offset 9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.sameKafka("s", tc.last, tc.own, parts, pos)
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("resumed")
			}
			if retry.Classify(err) != retry.NeedsUser {
				t.Errorf("class %v, want needs_user", retry.Classify(err))
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
