package lake

import (
	"context"
	"errors"
	"testing"

	"github.com/inlet-dev/inlet/change"
)

// TestTopicIDRecordedAndAdopted: a table records the Kafka topic id its
// offsets count, refuses a batch from another topic of the same name, and
// after Adopt counts the new topic's offsets from where it was told,
// keeping its rows; a reopened lake reads the id back.
func TestTopicIDRecordedAndAdopted(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	rows := sampleRows()
	b := Batch{Table: "public.t", Topic: "p.public.t", Rows: rows, Ranges: map[int32]Range{0: {From: 0, To: 2}}, TopicID: "X"}
	if _, wrote, err := l.Write(ctx, b); err != nil || !wrote {
		t.Fatalf("write: %v %v", wrote, err)
	}
	tbl, _ := testOpen(t, root, "p").Table("public.t")
	if tbl.topicID != "X" {
		t.Fatalf("topic id %q recorded, want X", tbl.topicID)
	}
	// The same offsets of another topic (Kafka lost its data): refused,
	// not skipped as already held.
	other := b
	other.TopicID = "Y"
	if _, _, err := l.Write(ctx, other); !errors.Is(err, ErrOtherTopic) {
		t.Fatalf("batch of topic id Y: %v, want ErrOtherTopic", err)
	}
	if err := l.Adopt(ctx, "public.t", "p.public.t", "Y", map[int32]int64{0: 0}); err != nil {
		t.Fatal(err)
	}
	l2 := testOpen(t, root, "p")
	tbl, _ = l2.Table("public.t")
	if v, ok := tbl.TxnVersion(l2.AppID("p.public.t", 0)); tbl.topicID != "Y" || !ok || v != -1 || tbl.Rows() != 3 {
		t.Fatalf("after adopt: topic id %q, txn %d %v, rows %d; want Y, -1, 3", tbl.topicID, v, ok, tbl.Rows())
	}
	if _, wrote, err := l2.Write(ctx, other); err != nil || !wrote {
		t.Fatalf("write after adopt: %v %v", wrote, err)
	}
	tbl, _ = testOpen(t, root, "p").Table("public.t")
	if tbl.Rows() != 6 {
		t.Errorf("rows %d, want 6 (the old three and the new topic's)", tbl.Rows())
	}
	p, err := l2.Sink(nil).Progress(ctx, []change.Table{{Topic: "p.public.t", Name: "public.t"}})
	if err != nil || p.TopicIDs["p.public.t"] != "Y" {
		t.Errorf("progress topic ids %v (%v), want Y", p.TopicIDs, err)
	}
}
