package incident

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	var out bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&out, nil), path)).With("source", "pg")
	log.Info("batch committed", "records", 10) // not an incident
	log.WithGroup("batch").Error("incident: batch failed; retrying", "err", errors.New("clickhouse: connection refused"),
		"attempt", 2, "retry_in", 500*time.Millisecond)
	log.Info("incident resolved: batch committed after retry", "attempts", 3)

	if !strings.Contains(out.String(), "batch committed") || strings.Count(out.String(), "\n") != 3 {
		t.Fatalf("the next handler did not get every record:\n%s", out.String())
	}
	got, err := Read(path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("journal holds %d entries, want the 2 incidents", len(got))
	}
	want := map[string]any{"source": "pg", "batch.err": "clickhouse: connection refused", "batch.attempt": float64(2), "batch.retry_in": "500ms"}
	if d := cmp.Diff(want, got[0].Attrs); d != "" || got[0].Level != "ERROR" || got[0].Msg != "incident: batch failed; retrying" {
		t.Errorf("first entry %+v (-want +got attrs):\n%s", got[0], d)
	}
	if got[1].Msg != "incident resolved: batch committed after retry" {
		t.Errorf("second entry %q", got[1].Msg)
	}

	// since filters; a torn last line (crash mid-write) is skipped.
	later, _ := Read(path, got[1].Time)
	if len(later) != 1 {
		t.Errorf("since the second: %d entries, want 1", len(later))
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"time":"2026-`)
	f.Close()
	if got, err := Read(path, time.Time{}); err != nil || len(got) != 2 {
		t.Errorf("with a torn last line: %d entries, err %v; want 2 and no error", len(got), err)
	}
	// A bad line in the middle is an error naming it.
	os.WriteFile(path, []byte("{bad\n"+`{"v":1,"time":"2026-11-30T10:00:00Z","level":"INFO","msg":"incident: x"}`+"\n"), 0o644)
	if _, err := Read(path, time.Time{}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad first line: err %v, want one naming line 1", err)
	}
	// An unknown version is refused.
	os.WriteFile(path, []byte(`{"v":9,"time":"2026-11-30T10:00:00Z","level":"INFO","msg":"incident: x"}`+"\n"), 0o644)
	if _, err := Read(path, time.Time{}); err == nil || !strings.Contains(err.Error(), "upgrade Inlet") {
		t.Errorf("version 9: err %v", err)
	}
	// No journal yet: no entries.
	if got, err := Read(filepath.Join(t.TempDir(), FileName), time.Time{}); err != nil || got != nil {
		t.Errorf("missing journal: %v %v", got, err)
	}
}
