package incident

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneKeepsOpenAndRecent(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	lines := []Entry{
		{V: 1, Time: day(1), Level: "ERROR", Msg: "incident: batch failed; retrying", Attrs: map[string]any{"sink": "lake"}},
		{V: 1, Time: day(1).Add(time.Minute), Level: "INFO", Msg: "incident resolved: batch committed after retry", Attrs: map[string]any{"sink": "lake"}},
		{V: 1, Time: day(2), Level: "ERROR", Msg: "incident: table failed and stopped in this sink (quarantined); the other tables keep flowing", Attrs: map[string]any{"sink": "clickhouse", "table": "public.t"}},
		{V: 1, Time: day(20), Level: "ERROR", Msg: "incident: batch failed; retrying", Attrs: map[string]any{"sink": "clickhouse"}},
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lines {
		b, _ := json.Marshal(e)
		f.Write(append(b, '\n'))
	}
	f.Close()
	before, _ := Read(path, time.Time{})
	ids := map[string]bool{}
	for _, in := range Group(before) {
		ids[in.ID] = true
	}
	n, err := Prune(path, day(10))
	if err != nil || n != 2 {
		t.Fatalf("Prune dropped %d lines, err %v; want the 2 lines of the incident closed on day 1", n, err)
	}
	after, err := Read(path, time.Time{})
	if err != nil || len(after) != 2 {
		t.Fatalf("after prune: %d lines, err %v", len(after), err)
	}
	for _, in := range Group(after) {
		if !ids[in.ID] {
			t.Errorf("incident %s changed id in the prune", in.ID)
		}
	}
	if after[0].Msg != lines[2].Msg || after[1].Msg != lines[3].Msg {
		t.Errorf("kept %q, %q; want the open quarantine and the recent failure", after[0].Msg, after[1].Msg)
	}
	if n, _ := Prune(path, day(10)); n != 0 {
		t.Errorf("second prune dropped %d", n)
	}
}
