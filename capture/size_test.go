package capture

import (
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/retry"
)

// TestRecordTooLargeNamesTableAndKey: a change record larger than Kafka
// takes from Inlet stops its source with an error a person must act on,
// naming the topic, the key, the size and the limit, before anything of
// its batch is produced; one at the limit passes.
func TestRecordTooLargeNamesTableAndKey(t *testing.T) {
	s := &session{o: &Options{Source: "pg"}}
	key := []byte(`{"id":7}`)
	ok := &connectors.Record{Topic: "shop.public.docs", Key: key, Value: make([]byte, kafka.MaxRecordBytes-len(key))}
	if _, err := s.checkSize(ok); err != nil {
		t.Fatalf("a record of exactly %d bytes: %v", kafka.MaxRecordBytes, err)
	}
	big := &connectors.Record{Topic: "shop.public.docs", Key: key, Value: make([]byte, kafka.MaxRecordBytes)}
	_, err := s.checkSize(big)
	if err == nil {
		t.Fatal("a record over the limit passed")
	}
	for _, want := range []string{"shop.public.docs", `key {"id":7}`, "16777224 bytes", "at most 16777216"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if retry.Classify(err) != retry.NeedsUser || !strings.Contains(retry.Fix(err), "shrink the row") {
		t.Errorf("class %v, fix %q: want needs-user with the fix", retry.Classify(err), retry.Fix(err))
	}
}
